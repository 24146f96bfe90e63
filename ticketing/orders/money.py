"""An order's money across its payments: the order's own payment, and the price difference of
each dearer change of time it paid for (ticketing.orders.slot_changes).

Whatever ticketing gives back of an order (tickets cancelled, a cheaper time, the whole order
cancelled) is taken from these payments oldest first, each part a Refund of its own under an id
fixed per payment and purpose, so a retry finds the same refunds rather than new ones.

Locks: every payment of the order, in ascending id, before the order's row. Payments lock one
payment and then (telling ticketing that money goes back) the order; taking the order's payments
in one fixed order first leaves PostgreSQL nothing to deadlock on.
"""

from __future__ import annotations

from decimal import Decimal

from payments.exceptions import PaymentError
from payments.lifecycle import record_refund
from payments.models import Payment

from ..exceptions import OrderStateConflict
from ..models import Order, SlotChange
from .refunding import refund_id


def payment_ids(order: Order) -> list[int]:
    """The ids of every payment of the order: its own and those of its changes of time."""
    ids = set(
        SlotChange.objects.filter(order_id=order.pk, payment__isnull=False).values_list(
            "payment_id", flat=True
        )
    )
    if order.payment_id is not None:
        ids.add(order.payment_id)
    return sorted(ids)


def lock_payments(order: Order) -> None:
    """Lock the order's payments (ascending id) before the caller locks the order itself."""
    ids = payment_ids(order)
    if ids:
        list(Payment.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))


def paid_payments(order: Order) -> list[Payment]:
    """The payments that paid for the order's tickets, oldest first: its own, then the
    difference of every change of time that was made."""
    changed = SlotChange.objects.filter(
        order_id=order.pk, state=SlotChange.State.CHANGED, payment__isnull=False
    ).values_list("payment_id", flat=True)
    ids = set(changed)
    if order.payment_id is not None:
        ids.add(order.payment_id)
    return list(Payment.objects.filter(pk__in=ids).order_by("pk"))


def has_paid_difference(order: Order) -> bool:
    return SlotChange.objects.filter(order_id=order.pk, state=SlotChange.State.CHANGED).exists()


def refundable(order: Order) -> Decimal:
    """What can still be given back of the order's money."""
    return sum(
        (p.refundable_amount for p in paid_payments(order) if p.state in Payment.REFUNDABLE_STATES),
        Decimal("0"),
    )


def record_order_refund(
    order: Order, amount: Decimal, *, reason: str, suffix: str, actor: str = "ticketing"
) -> None:
    """Record refunds of `amount` across the order's payments, oldest first (inside the caller's
    transaction; the poller sends them). Raises OrderStateConflict when payments refuses one (a
    reversal runs, say): the caller's transaction rolls back as a whole."""
    left = amount
    for payment in paid_payments(order):
        if left <= 0:
            break
        if payment.state not in Payment.REFUNDABLE_STATES:
            continue
        part = min(left, payment.refundable_amount)
        if part <= 0:
            continue
        try:
            record_refund(
                payment,
                amount=part,
                reason=reason[:128],
                actor=actor,
                partner_refund_id=refund_id(payment, suffix),
            )
        except PaymentError as exc:
            raise OrderStateConflict(exc.message) from exc
        left -= part
    if left > 0:
        # The quote capped the refund at what is refundable, under the same locks: only a bug
        # gets here, and refunding less than promised must not commit.
        raise OrderStateConflict()


def refund_differences(order: Order, *, reason: str, suffix: str, actor: str = "ticketing") -> None:
    """Record the refund of what is left of every difference the order paid (the order itself
    is being given back in full: the difference paid for it goes back too)."""
    for payment in paid_payments(order):
        if payment.pk == order.payment_id or payment.state not in Payment.REFUNDABLE_STATES:
            continue
        left = payment.refundable_amount
        if left > 0:
            record_refund(
                payment,
                amount=left,
                reason=reason[:128],
                actor=actor,
                partner_refund_id=refund_id(payment, suffix),
            )


def all_given_back(order: Order) -> bool:
    """Every payment of the order has given its money back (refunded or reversed)."""
    ended = (Payment.State.REFUNDED, Payment.State.CANCELLED)
    return all(p.state in ended for p in paid_payments(order))
