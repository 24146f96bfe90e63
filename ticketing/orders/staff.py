"""What staff do to an order from the admin: cancel it, refund part of its amount, refund tickets.

Staff override the buyer's refund policy (no cut-off, no fee, "never refundable" included) but
not the rules of money: every refund is recorded through the payments lifecycle in the
transaction that decides it (sent by the poller), tickets stop admitting in that same
transaction, the order's history names the staff user and the reason next to the payment's, and
the buyer gets one e-mail per action (ticketing.orders.staff_notices). They reuse the buyer's
services: giving back a hold and cancelling tickets (self_service), cancelling a paid order
(cancelling). Each action takes the confirmation page's one-time key, so a double click acts once.

A cash sale has no payment to refund: cancelling it leaves its cash owed at the box office
(ticketing.counter.sales.refund pays it out), and it cannot be refunded in part here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from payments.lifecycle import record_refund
from payments.models import Payment, Refund

from ..exceptions import InvalidRefundAmount, InvalidRefundReason, OrderStateConflict
from ..models import Order, currency_exponent
from ..templatetags.shop import money
from . import self_service, staff_notices
from .cancelling import cancel_order
from .refunding import STAFF_AMOUNT_SUFFIX, refund_id
from .self_service import CancelQuote, already_done, clean_key
from .states import State, record_event

# What an order came to, for the admin's messages and the slot cancellation's progress.
CANCELLED = "cancelled"  # an unpaid reservation (or a free order) ended
REFUNDED = "refunded"  # money going back to Alipay
CASH_DUE = "cash_due"  # cancelled; its cash is paid back at the box office
ENDED = "ended"  # already over when staff asked: nothing done

ALIPAY, CASH, NONE = "alipay", "cash", "none"


@dataclass(frozen=True)
class MoneyBack:
    """What cancelling an order now gives back, and how."""

    amount: Decimal
    method: str  # ALIPAY, CASH or NONE


def money_back(order: Order, left: dict[int, Decimal] | None = None) -> MoneyBack:
    """`left`: each payment's refundable amount (payments.refund_limits.refundable_amounts), so
    that a page of orders costs one query rather than one per order."""
    if order.state != State.PAID:
        return MoneyBack(Decimal("0"), NONE)
    if order.payment_id is None:
        # Paid at the counter in cash, or nothing to pay.
        return MoneyBack(order.total, CASH) if order.total > 0 else MoneyBack(Decimal("0"), NONE)
    if left is not None and order.payment_id in left:
        return MoneyBack(left[order.payment_id], ALIPAY)
    return MoneyBack(order.payment.refundable_amount, ALIPAY)


def describe_cancel(order: Order, back: MoneyBack) -> str:
    """What cancelling does to `order`, in the words of the confirmation page."""
    if order.state in Order.HOLDING_STATES:
        if order.state == State.AWAITING_PAYMENT:
            return _("Reservation cancelled and its payment in progress stopped; places back.")
        return _("Reservation cancelled; places back. Nothing was charged.")
    if order.state != State.PAID:
        return _("Nothing to do: the order is %(state)s.") % {"state": order.get_state_display()}
    amount = money(back.amount, order.currency)
    if back.method == ALIPAY:
        return _("Cancelled: tickets revoked, places back, %(amount)s refunded to Alipay.") % {
            "amount": amount
        }
    if back.method == CASH:
        return _(
            "Cancelled: tickets revoked, places back, %(amount)s in cash owed at the box office."
        ) % {"amount": amount}
    return _("Cancelled: tickets revoked, places back. Nothing was paid.")


def clean_reason(reason: str | None, *, required: bool) -> str:
    """The reason staff give: Alipay keeps it with the refund (128 characters, no quotes)."""
    text = (reason or "").strip()
    if (
        (required and not text)
        or len(text) > 128
        or '"' in text
        or any(ord(c) < 32 or ord(c) == 127 for c in text)
    ):
        raise InvalidRefundReason()
    return text


def clean_amount(raw: object, currency: str, left: Decimal) -> Decimal:
    """An amount staff typed: above zero, in the currency's minor units, at most what is left."""
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidRefundAmount() from None
    if not value.is_finite():
        raise InvalidRefundAmount()
    if value <= 0:
        raise InvalidRefundAmount(_("The amount must be more than zero."))
    places = currency_exponent(currency)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        if places == 0:
            raise InvalidRefundAmount(
                _("%(currency)s amounts have no fractions.") % {"currency": currency}
            )
        raise InvalidRefundAmount(
            _("%(currency)s amounts take at most %(places)s decimals.")
            % {"currency": currency, "places": places}
        )
    if value > left:
        raise InvalidRefundAmount(
            _("At most %(left)s is left to refund.") % {"left": money(left, currency)}
        )
    return value.quantize(Decimal(1).scaleb(-places))


def refundable_payment(order: Order) -> Payment:
    """The payment staff refund part of, or why they cannot."""
    if order.state != State.PAID:
        raise OrderStateConflict(_("Only a paid order can be refunded."))
    if order.payment is None:
        raise OrderStateConflict(
            _("Paid in cash at the box office: refund it at the counter, or cancel the order.")
        )
    if order.payment.state not in Payment.REFUNDABLE_STATES:
        raise OrderStateConflict(_("This order's payment cannot be refunded now."))
    return order.payment


def new_key() -> str:
    return secrets.token_urlsafe(16)


def cancel(order: Order, *, actor: str, reason: str = "", key: str = "") -> str:
    """Cancel an order whatever it holds: a reservation gives its places back (its payment in
    progress stopped), a paid order is refunded in full (or its cash owed), tickets revoked and
    places back. Returns CANCELLED, REFUNDED, CASH_DUE, or ENDED when it was already over."""
    key = clean_key(key) or new_key()
    reason = clean_reason(reason, required=False)
    current = Order.objects.select_related("payment").get(pk=order.pk)
    if current.state in Order.HOLDING_STATES:
        try:
            after = self_service.give_back_hold(
                current,
                key=key,
                actor=actor,
                kind="cancelled_by_staff",
                detail={"reason": reason},
                tell_buyer=lambda pk: staff_notices.tell_buyer_on_commit(
                    pk, "order_cancelled", {"method": NONE, "reason": reason}
                ),
            )
            return CANCELLED if already_done(after, key) else ENDED
        except OrderStateConflict:
            # Paid meanwhile: cancel it as the paid order it now is.
            current = Order.objects.select_related("payment").get(pk=order.pk)
    if current.state != State.PAID:
        return ENDED
    method = money_back(current).method
    try:
        cancel_order(
            current,
            actor=actor,
            reason=reason,
            tell_buyer=lambda pk: staff_notices.tell_buyer_on_commit(
                pk, "order_cancelled", {"method": method, "reason": reason}
            ),
            key=key,
        )
    except OrderStateConflict:
        if Order.objects.filter(pk=order.pk).exclude(state=State.PAID).exists():
            return ENDED  # someone else ended it meanwhile: nothing twice
        raise
    return {ALIPAY: REFUNDED, CASH: CASH_DUE}.get(method, CANCELLED)


def refund_amount(order: Order, amount: object, *, actor: str, reason: str, key: str) -> str:
    """Give back part of a paid order's payment; the tickets stay valid. Giving back all that is
    left is a cancel (the tickets stop admitting when the money goes). Returns REFUNDED."""
    key = clean_key(key) or new_key()
    reason = clean_reason(reason, required=True)
    with transaction.atomic():
        current = self_service.locked(order)
        if already_done(current, key):
            return REFUNDED
        payment = refundable_payment(current)
        left = payment.refundable_amount
        value = clean_amount(amount, current.currency, left)
        if value < left:
            number = Refund.objects.filter(payment=payment).count() + 1
            rid = refund_id(payment, f"{STAFF_AMOUNT_SUFFIX}{number}")
            record_event(
                current,
                "refunded_by_staff",
                current.state,
                current.state,
                actor,
                key=key,
                amount=str(value),
                reason=reason,
                refund=rid,
            )
            record_refund(
                payment,
                amount=value,
                reason=reason,
                actor=f"ticketing: {actor}",
                partner_refund_id=rid,
            )
            staff_notices.tell_buyer_on_commit(
                current.pk, "amount_refunded", {"amount": str(value), "reason": reason}
            )
            return REFUNDED
    cancel(order, actor=actor, reason=reason, key=key)
    return REFUNDED


def quote_tickets(order: Order, numbers: list[int]) -> CancelQuote:
    """What refunding these tickets gives back (their price, no fee); a family ticket goes
    whole, as when its buyer cancels it."""
    if order.state == State.PAID and order.payment is None and order.total > 0:
        refundable_payment(order)  # raises: cash is refunded at the counter
    return self_service.quote_cancel(order, numbers, by_staff=True)


def refund_tickets(order: Order, numbers: list[int], *, actor: str, reason: str, key: str) -> str:
    """Refund exactly these tickets: revoked, their places back on sale, their price refunded;
    the order's other tickets stay valid. All that is left is a cancel. Returns REFUNDED."""
    key = clean_key(key) or new_key()
    reason = clean_reason(reason, required=True)
    with transaction.atomic():
        current = self_service.locked(order)
        if already_done(current, key):
            return REFUNDED
        quote = quote_tickets(current, numbers)
        left = current.payment.refundable_amount if current.payment is not None else Decimal(0)
        if not (quote.whole_order and quote.refund >= left):
            detail = {
                "key": key,
                "tickets": quote.numbers,
                "amount": str(quote.amount),
                "refund": str(quote.refund),
                "reason": reason,
            }
            self_service.cancel_units(
                current,
                quote,
                actor,
                detail,
                kind="tickets_refunded_by_staff",
                reason=reason,
                refund_actor=f"ticketing: {actor}",
            )
            staff_notices.tell_buyer_on_commit(current.pk, "tickets_refunded", detail)
            return REFUNDED
    cancel(order, actor=actor, reason=reason, key=key)
    return REFUNDED
