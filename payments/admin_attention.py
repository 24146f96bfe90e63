"""The admin's actions on payments and refunds that need attention (payments/attention.py).

Each action has its own permission (the Meta of Payment and Refund), is offered only to staff
holding it and refused if posted without it (Django drops an action the user may not run). Each
first shows a page saying what will happen to every row selected, with a note to type; only that
page, posted back confirmed with a note, runs the action. The note and the staff user go into the
payment's audit trail whatever Alipay answers.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments import lifecycle
from payments.attention import NOTE_MAX
from payments.exceptions import PaymentError
from payments.models import Payment, Refund


class AttentionNoteForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note (why; kept in the audit trail)"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=NOTE_MAX,
        required=True,
        strip=True,
    )


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class _ConfirmedActions:
    """The intermediate page and the loop that runs an action row by row, for both admins."""

    confirm_template = "admin/payments/confirm_attention.html"

    def _confirm(self, request, queryset, *, action: str, title: str, plans, perform):
        """Show `plans` [(row, text, possible)] and the note; run `perform(row, note)` for each
        possible row once the page comes back confirmed with a valid note."""
        confirmed = request.POST.get("confirmed") == "yes"
        form = AttentionNoteForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            note = form.cleaned_data["note"]
            for row, _text, possible in plans:
                if not possible:
                    continue
                try:
                    outcome = perform(row, note)
                except PaymentError as exc:
                    self.message_user(request, f"{row}: {exc.message}", messages.ERROR)
                    continue
                level = messages.SUCCESS if outcome.changed else messages.WARNING
                self.message_user(request, f"{row}: {outcome.message}", level)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "action": action,
            "plans": plans,
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, self.confirm_template, context, status=400 if confirmed else 200
        )


def _payment_plan(payment: Payment, possible_text: str) -> tuple[Payment, str, bool]:
    if payment.state != Payment.State.NEEDS_ATTENTION:
        return (
            payment,
            _("Not possible: it does not need attention (%(state)s).")
            % {"state": payment.get_state_display()},
            False,
        )
    return payment, possible_text, True


class PaymentAttentionActions(_ConfirmedActions):
    """Mixed into PaymentAdmin: check with Alipay now, refund instead, mark failed."""

    attention_actions = ("check_with_alipay", "refund_instead", "mark_failed")

    def has_check_with_alipay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.check_payment_with_alipay")

    def has_refund_instead_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.refund_payment_instead")

    def has_mark_failed_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.mark_payment_failed")

    @admin.action(
        description=gettext_lazy("Check with Alipay now (needs attention)"),
        permissions=["check_with_alipay"],
    )
    def check_with_alipay(self, request, queryset: QuerySet[Payment]):
        text = _(
            "Alipay is asked now and its answer recorded. If it shows the payment paid, the "
            "payment becomes paid and its order (%(reference)s) gets its tickets; any other "
            "answer changes nothing."
        )
        plans = [_payment_plan(p, text % {"reference": p.reference or "-"}) for p in queryset]
        return self._confirm(
            request,
            queryset,
            action="check_with_alipay",
            title=_("Check with Alipay now"),
            plans=plans,
            perform=lambda p, note: lifecycle.check_payment(p, actor=_actor(request), note=note),
        )

    @admin.action(
        description=gettext_lazy("Refund instead (needs attention, paid at Alipay)"),
        permissions=["refund_instead"],
    )
    def refund_instead(self, request, queryset: QuerySet[Payment]):
        text = _(
            "Alipay is asked now. Only if it shows the payment paid, %(amount)s %(currency)s go "
            "back to the buyer in full and its order (%(reference)s) is cancelled: places "
            "released, tickets revoked. Otherwise nothing changes."
        )
        plans = [
            _payment_plan(
                p,
                text
                % {"amount": p.amount, "currency": p.currency, "reference": p.reference or "-"},
            )
            for p in queryset
        ]

        def perform(payment, note):
            refund = lifecycle.refund_instead(payment, actor=_actor(request), note=note)
            return lifecycle.StaffOutcome(
                True,
                refund.state,
                _("refund %(refund)s of %(amount)s %(currency)s: %(state)s.")
                % {
                    "refund": refund.partner_refund_id,
                    "amount": refund.amount,
                    "currency": payment.currency,
                    "state": refund.get_state_display(),
                },
            )

        return self._confirm(
            request,
            queryset,
            action="refund_instead",
            title=_("Refund instead"),
            plans=plans,
            perform=perform,
        )

    @admin.action(
        description=gettext_lazy("Mark failed (needs attention, closed at Alipay)"),
        permissions=["mark_failed"],
    )
    def mark_failed(self, request, queryset: QuerySet[Payment]):
        text = _(
            "Alipay is asked now. Only if it shows the trade closed or unknown to it, the "
            "payment is marked failed and its order (%(reference)s) gives its places back. If "
            "Alipay shows it paid or still open, or cannot be verified, nothing changes."
        )
        plans = [_payment_plan(p, text % {"reference": p.reference or "-"}) for p in queryset]
        return self._confirm(
            request,
            queryset,
            action="mark_failed",
            title=_("Mark failed"),
            plans=plans,
            perform=lambda p, note: lifecycle.mark_payment_failed(
                p, actor=_actor(request), note=note
            ),
        )


def _refund_plan(refund: Refund, possible_text: str) -> tuple[Refund, str, bool]:
    if refund.state != Refund.State.NEEDS_ATTENTION:
        return (
            refund,
            _("Not possible: it does not need attention (%(state)s).")
            % {"state": refund.get_state_display()},
            False,
        )
    return refund, possible_text, True


class RefundAttentionActions(_ConfirmedActions):
    """Mixed into RefundAdmin: check with Alipay now (the refund query), mark failed."""

    attention_actions = ("check_with_alipay", "mark_failed")

    def has_check_with_alipay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.check_refund_with_alipay")

    def has_mark_failed_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.mark_refund_failed")

    @admin.action(
        description=gettext_lazy("Check with Alipay now (needs attention)"),
        permissions=["check_with_alipay"],
    )
    def check_with_alipay(self, request, queryset: QuerySet[Refund]):
        text = _(
            "Alipay's refund query is sent now and its answer recorded. If Alipay executed the "
            "refund, it is recorded as succeeded and the payment and its order follow; any other "
            "answer changes nothing."
        )
        plans = [_refund_plan(r, text) for r in queryset.select_related("payment")]
        return self._confirm(
            request,
            queryset,
            action="check_with_alipay",
            title=_("Check with Alipay now"),
            plans=plans,
            perform=lambda r, note: lifecycle.check_refund(r, actor=_actor(request), note=note),
        )

    @admin.action(
        description=gettext_lazy("Mark failed (needs attention, never executed at Alipay)"),
        permissions=["mark_failed"],
    )
    def mark_failed(self, request, queryset: QuerySet[Refund]):
        text = _(
            "Alipay's refund query is sent now. Only if Alipay has no such refund, it is marked "
            "failed and %(amount)s may be refunded again; otherwise nothing changes."
        )
        plans = [
            _refund_plan(r, text % {"amount": r.amount}) for r in queryset.select_related("payment")
        ]
        return self._confirm(
            request,
            queryset,
            action="mark_failed",
            title=_("Mark failed"),
            plans=plans,
            perform=lambda r, note: lifecycle.mark_refund_failed(
                r, actor=_actor(request), note=note
            ),
        )
