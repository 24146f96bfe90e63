"""The order admin's money actions: cancel (the list's action, and a button on the order), refund
part of the amount, refund chosen tickets.

Each needs its own permission (cancel_order, refund_order_amount, refund_order_tickets; a cancel
that refunds also needs payments.refund_payment) and stays within the user's refund limit
(payments.refund_limits). Each shows what it will do, the count and the sum first, and acts only
when that page is confirmed (payments.admin_confirmation); the services are
ticketing.orders.staff.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from payments import refund_limits
from payments.admin_confirmation import Plan, Step, action_page, confirm_then, is_confirming
from payments.exceptions import DomainError

from .models import Order
from .orders import staff
from .orders.self_service import valid_units
from .orders.states import State
from .templatetags.shop import money

CANCEL = "ticketing.cancel_order"
REFUND_AMOUNT = "ticketing.refund_order_amount"
REFUND_TICKETS = "ticketing.refund_order_tickets"
REFUND_PAYMENT = "payments.refund_payment"


def actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=128,
        required=False,
        help_text=gettext_lazy("Told to the buyer in the e-mail, and sent to Alipay."),
    )
    # The action's one-time key (ticketing.orders.self_service.already_done): made with the page,
    # so the confirmation posted twice acts once.
    key = forms.CharField(widget=forms.HiddenInput, max_length=255, required=False)

    reason_required = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = self.reason_required
        self.fields["key"].initial = staff.new_key()

    def clean_key(self) -> str:
        return self.cleaned_data["key"] or staff.new_key()

    def clean_reason(self) -> str:
        try:
            return staff.clean_reason(self.cleaned_data["reason"], required=self.reason_required)
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from None


class AmountForm(ReasonForm):
    amount = forms.CharField(label=gettext_lazy("Amount to refund"), max_length=24)
    reason_required = True
    field_order = ["amount", "reason", "key"]

    def __init__(self, *args, order: Order, left: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.order, self.left = order, left
        self.fields["amount"].help_text = _("At most %(left)s.") % {
            "left": money(left, order.currency)
        }

    def clean_amount(self) -> Decimal:
        try:
            return staff.clean_amount(self.cleaned_data["amount"], self.order.currency, self.left)
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from None


class TicketsForm(ReasonForm):
    tickets = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Tickets to refund"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    reason_required = True
    field_order = ["tickets", "reason", "key"]

    def __init__(self, *args, order: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tickets"].choices = [
            (unit.number, unit_label(unit, order.currency)) for unit in valid_units(order)
        ]


def unit_label(unit, currency: str) -> str:
    """ "No. 3-6 Family, 4 admissions: CNY 200.00": a family ticket's parts are one unit."""
    numbers = (
        str(unit.numbers[0]) if len(unit.numbers) == 1 else f"{unit.numbers[0]}-{unit.numbers[-1]}"
    )
    return ngettext(
        "No. %(numbers)s %(type)s, %(admissions)s admission: %(price)s",
        "No. %(numbers)s %(type)s, %(admissions)s admissions: %(price)s",
        unit.admissions,
    ) % {
        "numbers": numbers,
        "type": unit.ticket_type.name,
        "admissions": unit.admissions,
        "price": money(unit.price, currency),
    }


class OrderMoneyActions:
    """Mixed into OrderAdmin: the money actions and their pages."""

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm(CANCEL)

    def _check(self, request, permission: str) -> None:
        if not (self.has_view_permission(request) and request.user.has_perm(permission)):
            raise PermissionDenied

    def _order(self, request, object_id: str) -> Order:
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404
        return order

    def _order_url(self, order: Order) -> str:
        return reverse("admin:ticketing_order_change", args=[order.pk])

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/refund-amount/",
                wrap(self.refund_amount_view),
                name="ticketing_order_refund_amount",
            ),
            path(
                "<path:object_id>/refund-tickets/",
                wrap(self.refund_tickets_view),
                name="ticketing_order_refund_tickets",
            ),
            path(
                "<path:object_id>/cancel/",
                wrap(self.cancel_view),
                name="ticketing_order_cancel",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, unquote(object_id))
        links = []
        if order is not None:
            user = request.user
            if order.state == State.PAID and order.payment_id and user.has_perm(REFUND_AMOUNT):
                links.append(("refund-amount", _("Refund an amount")))
            if order.state == State.PAID and user.has_perm(REFUND_TICKETS):
                links.append(("refund-tickets", _("Refund tickets")))
            if order.state in (*Order.HOLDING_STATES, State.PAID) and user.has_perm(CANCEL):
                links.append(("cancel", _("Cancel order")))
        extra = {
            **(extra_context or {}),
            "money_actions": [
                (reverse(f"admin:ticketing_order_{name.replace('-', '_')}", args=[order.pk]), label)
                for name, label in links
            ],
        }
        return super().change_view(request, object_id, form_url, extra)

    # --- Cancel ------------------------------------------------------------------------------

    def _cancel_plan(self, request, orders: list[Order]) -> Plan:
        left = refund_limits.refundable_amounts(o.payment_id for o in orders if o.payment_id)
        may_refund = request.user.has_perm(REFUND_PAYMENT)
        steps = []
        for order in orders:
            back = staff.money_back(order, left)
            possible = order.state in (*Order.HOLDING_STATES, State.PAID)
            text = staff.describe_cancel(order, back)
            if possible and back.amount > 0 and not may_refund:
                # Cancelling a paid order gives its money back: that is a refund.
                possible = False
                text = _("Cancelling a paid order refunds it, which needs the refund permission.")
            steps.append(Step(order.code, text, order.currency, back.amount, possible))
        return Plan(steps)

    def _cancel(self, request, orders: list[Order], plan: Plan, reason: str) -> None:
        done = 0
        for order, step in zip(orders, plan.steps, strict=True):
            if not step.possible:
                self.message_user(request, f"{order.code}: {step.text}", messages.ERROR)
                continue
            try:
                outcome = staff.cancel(order, actor=actor(request), reason=reason)
            except DomainError as exc:
                self.message_user(request, f"{order.code}: {exc.message}", messages.ERROR)
                continue
            if outcome == staff.ENDED:
                self.message_user(
                    request, _("%(order)s had already ended.") % {"order": order.code}
                )
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(n)d order cancelled.", "%(n)d orders cancelled.", done) % {"n": done},
                messages.SUCCESS,
            )

    @admin.action(
        description=gettext_lazy("Cancel (refund paid orders, revoke their tickets)"),
        permissions=["cancel"],
    )
    def cancel_orders(self, request, queryset):
        orders = list(queryset.select_related("payment").order_by("pk"))
        plan = self._cancel_plan(request, orders)
        form = ReasonForm(request.POST if is_confirming(request) else None)

        def perform(data) -> None:
            self._cancel(request, orders, plan, data["reason"])

        return action_page(
            self,
            request,
            queryset,
            action="cancel_orders",
            title=_("Cancel orders"),
            plan=plan,
            perform=perform,
            form=form,
        )

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._check(request, CANCEL)
        order = self._order(request, object_id)
        plan = self._cancel_plan(request, [order])
        form = ReasonForm(request.POST if is_confirming(request) else None)

        def perform(data) -> HttpResponse:
            self._cancel(request, [order], plan, data["reason"])
            return HttpResponseRedirect(self._order_url(order))

        return confirm_then(
            self,
            request,
            title=_("Cancel order %(code)s") % {"code": order.code},
            plan=plan,
            carry={},
            perform=perform,
            back_url=self._order_url(order),
            form=form,
        )

    # --- Refund part of the amount ------------------------------------------------------------

    def _form_page(self, request, order, form, title, status=200, error="") -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "order": order,
            "form": form,
            "error": error,
            "back_url": self._order_url(order),
            "paid": money(order.payment.amount, order.currency) if order.payment else "",
        }
        return TemplateResponse(
            request, "admin/ticketing/order/money_form.html", context, status=status
        )

    def refund_amount_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._check(request, REFUND_AMOUNT)
        order = self._order(request, object_id)
        title = _("Refund an amount of order %(code)s") % {"code": order.code}
        try:
            payment = staff.refundable_payment(order)
        except DomainError as exc:
            return self._form_page(request, order, None, title, status=409, error=exc.message)
        left = payment.refundable_amount
        form = AmountForm(request.POST or None, order=order, left=left)
        if request.method != "POST":
            return self._form_page(request, order, form, title)
        if not form.is_valid():
            return self._form_page(request, order, form, title, status=400)
        amount = form.cleaned_data["amount"]
        whole = amount == left
        text = (
            _("Everything left: the order is cancelled, its tickets revoked, %(amount)s refunded.")
            if whole
            else _("%(amount)s refunded to Alipay; the tickets stay valid.")
        ) % {"amount": money(amount, order.currency)}

        def perform(data) -> HttpResponse:
            try:
                staff.refund_amount(
                    order,
                    form.cleaned_data["amount"],
                    actor=actor(request),
                    reason=form.cleaned_data["reason"],
                    key=form.cleaned_data["key"],
                )
            except DomainError as exc:
                self.message_user(request, f"{order.code}: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(amount)s of order %(code)s is being refunded.")
                    % {"amount": money(amount, order.currency), "code": order.code},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self._order_url(order))

        return confirm_then(
            self,
            request,
            title=title,
            plan=Plan([Step(order.code, text, order.currency, amount)]),
            carry={
                "amount": form.data["amount"],
                "reason": form.data["reason"],
                "key": form.cleaned_data["key"],
            },
            perform=perform,
            back_url=self._order_url(order),
            intro=_("Reason: %(reason)s") % {"reason": form.cleaned_data["reason"]},
        )

    # --- Refund tickets ------------------------------------------------------------------------

    def refund_tickets_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._check(request, REFUND_TICKETS)
        order = self._order(request, object_id)
        title = _("Refund tickets of order %(code)s") % {"code": order.code}
        form = TicketsForm(request.POST or None, order=order)
        if request.method != "POST":
            return self._form_page(request, order, form, title)
        if not form.is_valid():
            return self._form_page(request, order, form, title, status=400)
        numbers = form.cleaned_data["tickets"]
        try:
            quote = staff.quote_tickets(order, numbers)
        except DomainError as exc:
            return self._form_page(request, order, form, title, status=409, error=exc.message)
        left = order.payment.refundable_amount if order.payment is not None else Decimal(0)
        if quote.whole_order and quote.refund >= left:
            plan = self._cancel_plan(request, [order])
            intro = _("These are all its tickets left: the order is cancelled.")
        else:
            plan = Plan(
                [
                    Step(
                        unit_label(unit, order.currency),
                        _("Revoked; its places go back on sale."),
                    )
                    for unit in quote.units
                ]
                + [
                    Step(
                        order.code,
                        _("%(amount)s refunded to Alipay; the other tickets stay valid.")
                        % {"amount": money(quote.refund, order.currency)},
                        order.currency,
                        quote.refund,
                    )
                ]
            )
            intro = ""
        headline = ngettext(
            "%(count)d ticket will be refunded (%(admissions)d admissions back on sale).",
            "%(count)d tickets will be refunded (%(admissions)d admissions back on sale).",
            len(quote.numbers),
        ) % {"count": len(quote.numbers), "admissions": quote.admissions}

        def perform(data) -> HttpResponse:
            try:
                staff.refund_tickets(
                    order,
                    numbers,
                    actor=actor(request),
                    reason=form.cleaned_data["reason"],
                    key=form.cleaned_data["key"],
                )
            except DomainError as exc:
                self.message_user(request, f"{order.code}: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Tickets of order %(code)s refunded: %(amount)s.")
                    % {"code": order.code, "amount": money(quote.refund, order.currency)},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self._order_url(order))

        return confirm_then(
            self,
            request,
            title=title,
            plan=plan,
            carry={
                "tickets": [str(n) for n in numbers],
                "reason": form.data["reason"],
                "key": form.cleaned_data["key"],
            },
            perform=perform,
            back_url=self._order_url(order),
            intro=intro or _("Reason: %(reason)s") % {"reason": form.cleaned_data["reason"]},
            headline=headline,
        )
