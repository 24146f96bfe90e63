"""The confirmation page of every admin action that moves money: what happens to each object
chosen, the count and the sum per currency, and nothing moves until it is posted back confirmed.

Django admin's intermediate-page pattern: the action (or an order's refund page) renders this page
instead of acting, and the page's form posts the same request back with `confirmed=yes` and a
digest of the plan it showed. On that post the plan is worked out again from the database: if it
differs (a payment paid, refunded or cancelled meanwhile), the page is shown again rather than
acting on figures staff never saw. The refund limit (payments.refund_limits) is checked there too,
on the server. The payments and ticketing admins both use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from payments import refund_limits

CONFIRMED = "confirmed"
DIGEST = "plan_digest"


@dataclass(frozen=True)
class Step:
    """One object chosen and what confirming does to it."""

    label: str
    text: str
    currency: str = ""
    amount: Decimal = Decimal("0")  # money it gives back (a refund, a reversal, cash owed)
    possible: bool = True
    count: int = 1  # what it stands for in the totals (a time slot stands for its orders)


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    @property
    def possible(self) -> list[Step]:
        return [step for step in self.steps if step.possible]

    def sums(self) -> dict[str, Decimal]:
        """Money going back per currency."""
        sums: dict[str, Decimal] = {}
        for step in self.possible:
            if step.amount > 0:
                sums[step.currency] = sums.get(step.currency, Decimal("0")) + step.amount
        return sums

    def totals(self) -> list[dict]:
        """Per currency: how many of the objects give money back, and how much."""
        rows = []
        for currency, total in sorted(self.sums().items()):
            count = sum(s.count for s in self.possible if s.currency == currency and s.amount > 0)
            rows.append(
                {
                    "currency": currency,
                    "count": count,
                    "sum": refund_limits.format_money(total, currency),
                }
            )
        return rows

    def digest(self) -> str:
        text = "\n".join(
            f"{s.label}|{s.possible}|{s.currency}|{s.amount}|{s.count}|{s.text}" for s in self.steps
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_confirming(request: HttpRequest) -> bool:
    """True on the page's own post back: bind the page's form to it then, not before."""
    return request.method == "POST" and request.POST.get(CONFIRMED) == "yes"


def confirm_then(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    title: str,
    plan: Plan,
    carry: dict,
    perform: Callable[[dict], HttpResponse | None],
    back_url: str,
    form=None,
    intro: str = "",
    confirm_label: str = "",
    headline: str = "",
) -> HttpResponse | None:
    """The confirmation page, or `perform(form data)` when this request confirms this plan.

    `carry` are the fields the page posts back as they came (the action and the objects
    chosen); `form`, when given, is shown on the page (a reason) and must be valid to act.
    `headline` says what the count counts (default: the model's objects).
    """
    confirming = is_confirming(request)
    sums = plan.sums()
    refused = refund_limits.describe_over(refund_limits.over_limit(request.user, sums), sums)
    notice, status = "", 200
    if confirming:
        if request.POST.get(DIGEST) != plan.digest():
            notice = _("What this would do has changed since the page was shown: check again.")
            status = 409
        elif refused:
            status = 403  # posted past a page that offered no confirmation: nothing moves
        elif not plan.possible:
            notice = _("Nothing left to do.")
        elif form is None or form.is_valid():
            return perform(form.cleaned_data if form is not None else {})
        else:
            status = 400
    if not headline:
        count, meta = len(plan.possible), modeladmin.model._meta
        headline = ngettext(
            "%(count)d %(name)s will change.", "%(count)d %(name)s will change.", count
        ) % {"count": count, "name": meta.verbose_name if count == 1 else meta.verbose_name_plural}
    context = {
        **modeladmin.admin_site.each_context(request),
        "headline": headline,
        "opts": modeladmin.model._meta,
        "title": title,
        "intro": intro,
        "steps": plan.steps,
        "count": len(plan.possible),
        "totals": plan.totals(),
        "carry": [
            (name, value)
            for name, values in carry.items()
            for value in (values if isinstance(values, list | tuple) else [values])
        ],
        "digest": plan.digest(),
        "form": form,
        "notice": notice,
        "refused": refused,
        "can_confirm": bool(plan.possible) and not refused,
        "confirm_label": confirm_label or _("Yes, go ahead"),
        "back_url": back_url,
    }
    return TemplateResponse(request, "admin/confirm_money_action.html", context, status=status)


def action_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset,
    *,
    action: str,
    title: str,
    plan: Plan,
    perform: Callable[[dict], HttpResponse | None],
    **page,
) -> HttpResponse | None:
    """confirm_then for an admin action: the page posts the action and its selection back.
    `page`: confirm_then's form, intro, confirm_label and headline."""
    meta = modeladmin.model._meta
    return confirm_then(
        modeladmin,
        request,
        title=title,
        plan=plan,
        carry={
            "action": action,
            admin.helpers.ACTION_CHECKBOX_NAME: [
                str(pk) for pk in queryset.values_list("pk", flat=True)
            ],
        },
        perform=perform,
        back_url=reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        **page,
    )
