"""Cancelling: an order's places go back; a paid one is refunded and its tickets revoked.

Also the box office's two rules on top of it: a cashier may cancel only a sale not yet paid (a
payment still waiting for the buyer's PIN is cancelled first), and a paid sale is undone only as
a refund a supervisor approved.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock, lifecycle
from payments.exceptions import NotCancellable, PaymentError
from payments.lifecycle import record_refund
from payments.models import Payment

from .. import inventory
from ..exceptions import OrderStateConflict, PaymentInProgress
from ..models import Order
from . import money
from .refunding import REFUND_REASONS, refund_id, tell_buyer_on_commit
from .states import State, move_order
from .tickets import revoke_tickets

Reason = Order.OutcomeReason


def cancel_order(
    order: Order,
    *,
    actor: str,
    reason: str = "",
    refund_if_paid: bool = True,
    tell_buyer: Callable[[int], None] | None = tell_buyer_on_commit,
    key: str = "",
) -> Order:
    """Cancel: a hold gives its places back; a paid order is refunded and its tickets revoked.

    With refund_if_paid=False a paid order raises OrderStateConflict instead: for callers that
    may only give back an unpaid hold (a cashier's "cancel sale"), decided in the same
    transaction as the cancel, so a payment landing meanwhile is never refunded by accident.

    A paid order without a payment was paid in cash at the box office (or cost nothing): its
    cash is owed until a cashier pays it out of a drawer (ticketing.counter.sales.refund), so it
    waits in refund_pending with no refund for the sweeper to chase; a free one just ends.
    `tell_buyer` (queued in the cancel's transaction) lets staff send their own single e-mail;
    `key`, kept in the audit record, lets them recognise a cancel they already made.
    """
    now = clock.now()
    with transaction.atomic():
        money.lock_payments(Order.objects.only("payment_id").get(pk=order.pk))
        current = Order.objects.select_related("payment").get(pk=order.pk)
        if current.state == State.HELD:
            if not move_order(
                current,
                to=State.CANCELLED,
                from_states=State.HELD,
                kind="cancelled",
                actor=actor,
                fields={"outcome_reason": Reason.CANCELLED},
                detail={"reason": reason},
            ):
                raise OrderStateConflict()
            inventory.release_hold(current.slot_id, current.admissions)
        elif current.state == State.PAID and refund_if_paid:
            owed = current.payment is not None or current.total > 0
            # Revoked first, then refunded: the refund's money_returning finds the order no
            # longer paid and leaves it to this cancel.
            if not move_order(
                current,
                to=State.REFUND_PENDING if owed else State.CANCELLED,
                from_states=State.PAID,
                kind="cancelled",
                actor=actor,
                fields={"outcome_reason": Reason.CANCELLED_REFUND, "refund_requested_at": now},
                detail={
                    "reason": reason,
                    **({"key": key} if key else {}),
                    **(_cash_due(current) if owed else {}),
                },
            ):
                raise OrderStateConflict()
            inventory.release_sold(current.slot_id, current.admissions)
            revoke_tickets(current.pk, now)
            # A cash sale has no payment: only a difference paid for a change of time, if any.
            _record_cancel_refund(current, reason, actor)
            if tell_buyer is not None:
                tell_buyer(current.pk)
        elif current.state == State.AWAITING_PAYMENT:
            raise PaymentInProgress()
        else:
            raise OrderStateConflict()
    current.refresh_from_db()
    return current


def _cash_due(order: Order) -> dict:
    """The audit's note of cash owed back at the box office (no payment: paid in cash)."""
    return {} if order.payment is not None else {"cash_due": str(order.total)}


def cash_due(order: Order) -> bool:
    """A cancelled cash sale whose money a cashier has yet to pay out of a drawer."""
    return order.state == State.REFUND_PENDING and order.payment_id is None and order.total > 0


def _record_cancel_refund(order: Order, reason: str, actor: str) -> None:
    """The paid order's refund, recorded in the cancel's transaction (sent by the poller): what
    is left of its payment, and of any price difference paid for a change of time; the
    payments' audit names who cancelled."""
    # Alipay's refund reason: plain, at most 128 characters, no double quotes.
    plain = "".join(c for c in reason if c >= " " and c != '"').strip()
    reason = (plain or REFUND_REASONS["cancelled"])[:128]
    try:
        payment = order.payment
        left = payment.refundable_amount if payment is not None else 0
        if left > 0:
            record_refund(
                payment,
                amount=left,
                reason=reason,
                actor=f"ticketing: {actor}",
                partner_refund_id=refund_id(payment, "ORD"),
            )
        money.refund_differences(order, reason=reason, suffix="ORD", actor=f"ticketing: {actor}")
    except PaymentError as exc:
        # Not refundable now (its reversal runs, say): the cancel is refused as a whole, so
        # tickets never stop admitting on a promise of money that is not coming back.
        raise OrderStateConflict(exc.message) from exc


# --- At the box office ---------------------------------------------------------------------------


def _already_paid() -> OrderStateConflict:
    return OrderStateConflict(_("This sale is already paid: refund it with a supervisor instead."))


def cancel_counter_sale(order: Order, *, actor: str) -> Order:
    """A cashier's "cancel sale": give an unpaid sale's places back; the cancelled order.

    A payment still waiting for the buyer's PIN is cancelled first (a gateway call, so outside
    any transaction). Raises OrderStateConflict for a paid sale (refunding it needs a
    supervisor: refund_counter_sale) or one already ended, PaymentInProgress while its payment
    is still on its way to an end.
    """
    if order.state == State.PAID:
        raise _already_paid()
    if order.state not in Order.HOLDING_STATES:
        raise OrderStateConflict()
    if order.state == State.AWAITING_PAYMENT and order.payment is not None:
        if order.payment.state in Payment.IN_FLIGHT_STATES:
            # Already final or cancelling elsewhere: the order's state, read again below, says
            # what the cashier may do now.
            with contextlib.suppress(NotCancellable, PaymentError):
                lifecycle.request_cancel(order.payment, actor=actor)
        order = Order.objects.get(pk=order.pk)
    if order.state != State.HELD:
        # Still awaiting its payment (the cancel is on its way, or it was paid meanwhile).
        if order.state == State.PAID:
            raise _already_paid()
        raise PaymentInProgress()
    # Paid meanwhile after all: cancel_order refuses, as a refund needs a supervisor.
    return cancel_order(
        order, actor=actor, reason="box office: sale cancelled", refund_if_paid=False
    )


def can_refund_at_counter(order: Order) -> bool:
    # A cash sale staff cancelled in the admin waits for its cash at the counter.
    return order.state == State.PAID or cash_due(order)


def check_refundable_at_counter(order: Order) -> None:
    """Raise OrderStateConflict unless the box office may refund `order` (it must be paid)."""
    if not can_refund_at_counter(order):
        raise OrderStateConflict(_("Only a paid order can be refunded."))


def refund_counter_sale(order: Order, *, actor: str, supervisor: str, reason: str) -> Order:
    """Cancel a paid counter sale and refund it, as approved by `supervisor` (already checked)."""
    check_refundable_at_counter(order)
    return cancel_order(
        order, actor=f"{actor} approved by {supervisor}", reason=reason or "box office refund"
    )
