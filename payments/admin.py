"""Staff's view of payments: every gateway exchange and transition next to its payment.

Everything is read-only here: the actions call the lifecycle (cancel, full refund, retry a
payment or refund that needs attention) and show its domain errors as messages; the actions on
what needs attention (check with Alipay now, refund instead, mark failed) live in
payments/admin_attention.py. Each action needs its own permission (see the Meta of Payment and
Refund): viewing grants none of them. Cancelling and refunding first show what each payment gives
back, the count and the sum per currency, and act only when that page is confirmed, within the
user's refund limit (payments.admin_confirmation, payments.refund_limits).
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from payments import admin_confirmation, lifecycle, refund_limits, refunds
from payments.admin_attention import PaymentAttentionActions, RefundAttentionActions
from payments.admin_confirmation import Plan, Step
from payments.exceptions import NotRefundable, PaymentError
from payments.models import GatewayExchange, Payment, PaymentEvent, Refund


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class GatewayExchangeInline(ReadOnlyInline):
    model = GatewayExchange
    fk_name = "payment"
    fields = (
        "created_at",
        "service_name",
        "actor",
        "attempt",
        "outcome",
        "code",
        "transport",
        "signature",
        "believed",
        "latency_ms",
        "sent_and_answered",
    )
    readonly_fields = fields
    ordering = ("created_at", "id")

    @admin.display(description=_("service"))
    def service_name(self, exchange: GatewayExchange) -> str:
        # "alipay.acquire.overseas.spot.pay" -> "spot.pay": every service shares the prefix.
        return exchange.service.removeprefix("alipay.acquire.").removeprefix("overseas.")

    @admin.display(description=_("request and reply"))
    def sent_and_answered(self, exchange: GatewayExchange) -> str:
        # A raw reply is one long line of XML: folded away, and wrapped inside the page when
        # opened (static/admin_site/admin_site.css), it no longer makes the page thousands of
        # pixels wide.
        return format_html(
            '<details class="gateway-exchange"><summary>{}</summary>'
            '<pre class="gateway-text">{}</pre><pre class="gateway-text">{}</pre></details>',
            _("show"),
            json.dumps(exchange.request_params, indent=1, sort_keys=True, ensure_ascii=False),
            exchange.raw_reply or "-",
        )


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = ("at", "from_state", "to_state", "actor", "note", "refund")
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("partner_refund_id", "amount", "state", "attempts", "failure_code", "created_at")
    readonly_fields = fields
    show_change_link = True


def _run(modeladmin, request, queryset, call, done_message) -> None:
    done = 0
    for obj in queryset:
        try:
            call(obj, actor=f"admin:{request.user.get_username()}")
            done += 1
        except PaymentError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, done_message(done), messages.SUCCESS)


def _refuse_impossible(modeladmin, request, objects, steps: dict) -> None:
    """What the confirmation page said cannot be done, said again as messages."""
    for obj in objects:
        if not steps[obj.pk].possible:
            modeladmin.message_user(request, f"{obj}: {steps[obj.pk].text}", messages.ERROR)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows whose state only the lifecycle moves: saving the change form would write the whole
    row back as it was read, over any transition made meanwhile."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# The list's channel column: the full names ("Barcode (buyer's payment code)") take three lines.
SHORT_CHANNELS = {Payment.Channel.BARCODE: _("Barcode"), Payment.Channel.QR: _("QR")}


@admin.register(Payment)
class PaymentAdmin(PaymentAttentionActions, ReadOnlyAdmin):
    # Few, narrow columns: at 1280 px beside the filters every one stays in view.
    list_display = (
        "partner_trans_id",
        "created_at",
        "state",
        "amount_and_currency",
        "channel_short",
        "reference",
        "store_and_terminal",
    )
    list_filter = ("state", "channel", "currency", "created_at")
    search_fields = ("partner_trans_id", "alipay_trans_id", "reference", "=uuid")
    date_hierarchy = "created_at"
    inlines = (RefundInline, PaymentEventInline, GatewayExchangeInline)
    actions = (
        "cancel_payments",
        "refund_in_full",
        "retry_attention",
        *PaymentAttentionActions.attention_actions,
    )
    exclude = ("buyer_code_sealed",)
    list_select_related = True

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "buyer_code_sealed"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_and_currency(self, payment: Payment) -> str:
        return f"{payment.amount} {payment.currency}"

    @admin.display(description=_("channel"), ordering="channel")
    def channel_short(self, payment: Payment) -> str:
        return str(SHORT_CHANNELS.get(payment.channel, payment.channel))

    @admin.display(description=_("store / terminal"), ordering="store_id")
    def store_and_terminal(self, payment: Payment) -> str:
        return " / ".join(part for part in (payment.store_id, payment.terminal_id) if part)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.cancel_payment")

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.refund_payment")

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.resolve_payment")

    def _cancel_step(self, payment: Payment, left: Decimal, may_refund: bool) -> Step:
        label, currency = payment.partner_trans_id, payment.currency
        if payment.state in Payment.IN_FLIGHT_STATES:
            return Step(label, _("Cancelled before any money moves."))
        if payment.state not in Payment.REFUNDABLE_STATES:
            return Step(
                label,
                _("Cannot be cancelled: it is %(state)s.") % {"state": payment.get_state_display()},
                possible=False,
            )
        if left <= 0:
            return Step(label, _("Nothing is left to give back."), possible=False)
        if not may_refund:
            # A paid payment's cancel gives its money back (reversal or full refund).
            return Step(
                label,
                _("Cancelling a paid payment refunds it, which needs the refund permission."),
                possible=False,
            )
        if left == payment.amount and lifecycle.cancel_window_open(payment):
            text = _("Reversed today: %(amount)s goes back to the buyer.")
        else:
            text = _("Refunded: the %(amount)s left goes back to the buyer.")
        amount = refund_limits.format_money(left, currency)
        return Step(label, text % {"amount": amount}, currency, left)

    @admin.action(description=_("Cancel (reverse today, refund later)"), permissions=["cancel"])
    def cancel_payments(self, request, queryset: QuerySet[Payment]):
        may_refund = self.has_refund_permission(request)
        payments = list(queryset)
        left = refund_limits.refundable_amounts(p.pk for p in payments)
        steps = {p.pk: self._cancel_step(p, left[p.pk], may_refund) for p in payments}

        def perform(_data) -> None:
            _refuse_impossible(self, request, payments, steps)
            _run(
                self,
                request,
                [p for p in payments if steps[p.pk].possible],
                lifecycle.request_cancel,
                lambda n: ngettext("%d payment cancelled.", "%d payments cancelled.", n) % n,
            )

        return admin_confirmation.action_page(
            self,
            request,
            queryset,
            action="cancel_payments",
            title=_("Cancel payments"),
            plan=Plan(list(steps.values())),
            perform=perform,
        )

    @admin.action(description=_("Refund what is left in full"), permissions=["refund"])
    def refund_in_full(self, request, queryset: QuerySet[Payment]):
        payments = list(queryset)
        left = refund_limits.refundable_amounts(p.pk for p in payments)
        steps = {}
        for p in payments:
            if p.state in Payment.REFUNDABLE_STATES and left[p.pk] > 0:
                text = _("Refunded: %(amount)s goes back to the buyer.") % {
                    "amount": refund_limits.format_money(left[p.pk], p.currency)
                }
                steps[p.pk] = Step(p.partner_trans_id, text, p.currency, left[p.pk])
            else:
                steps[p.pk] = Step(
                    p.partner_trans_id, str(NotRefundable.default_message), possible=False
                )

        def refund(payment: Payment, *, actor: str):
            # Exactly what the page showed: a refund made meanwhile makes this one too large.
            return lifecycle.request_refund(
                payment, amount=steps[payment.pk].amount, reason="refund by staff", actor=actor
            )

        def perform(_data) -> None:
            _refuse_impossible(self, request, payments, steps)
            _run(
                self,
                request,
                [p for p in payments if steps[p.pk].possible],
                refund,
                lambda n: ngettext("%d refund requested.", "%d refunds requested.", n) % n,
            )

        return admin_confirmation.action_page(
            self,
            request,
            queryset,
            action="refund_in_full",
            title=_("Refund what is left in full"),
            plan=Plan(list(steps.values())),
            perform=perform,
        )

    @admin.action(
        description=_("Retry the cancel of payments needing attention"), permissions=["resolve"]
    )
    def retry_attention(self, request, queryset: QuerySet[Payment]) -> None:
        _run(
            self,
            request,
            queryset.filter(state=Payment.State.NEEDS_ATTENTION),
            lifecycle.retry_needs_attention,
            lambda n: ngettext("%d payment retried.", "%d payments retried.", n) % n,
        )


class RefundExchangeInline(GatewayExchangeInline):
    fk_name = "refund"


@admin.register(Refund)
class RefundAdmin(RefundAttentionActions, ReadOnlyAdmin):
    list_display = ("partner_refund_id", "payment", "amount", "state", "attempts", "created_at")
    list_filter = ("state", "created_at")
    search_fields = ("partner_refund_id", "payment__partner_trans_id", "=uuid")
    list_select_related = ("payment",)
    inlines = (RefundExchangeInline,)
    actions = ("retry_refunds", *RefundAttentionActions.attention_actions)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.retry_refund")

    @admin.action(description=_("Retry refunds needing attention"), permissions=["retry"])
    def retry_refunds(self, request, queryset: QuerySet[Refund]) -> None:
        _run(
            self,
            request,
            queryset.filter(state=Refund.State.NEEDS_ATTENTION),
            refunds.retry_refund,
            lambda n: ngettext("%d refund retried.", "%d refunds retried.", n) % n,
        )
