"""Payment outcomes -> orders: a payment ended, was paid (on time, late, twice) or was refunded.

Payments are linked by reference "order:<code>"; payments never import ticketing and announce
outcomes through payments.signals (ticketing.receivers connects them to the functions below).
Every function here is idempotent: a repeated or late signal changes nothing.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django_q.tasks import async_task

from payments import clock
from payments.models import Payment

from .. import inventory
from ..models import Order
from .states import State, move_order, record_event
from .tickets import issue_tickets, queue_delivery, revoke_tickets

logger = logging.getLogger(__name__)

Reason = Order.OutcomeReason
REFERENCE_PREFIX = "order:"


def _payment_model():
    return Payment


def _move_locked(order: Order, **move) -> None:
    """move_order for a caller holding the order's row lock (select_for_update; on SQLite the
    immediate transaction locks the database): nobody can have moved it first, so a refusal
    means the lock did not hold, and everything done in the transaction is rolled back."""
    if not move_order(order, **move):
        raise RuntimeError("order changed under a row lock")


def payment_ended(order_id: int, payment) -> bool:
    """A payment failed or was cancelled: back to held while the hold lasts, else expired.

    Only the order's current attempt counts: `payment` must be the one the order points at
    (None while start_payment has not recorded it yet), so a stale failure is ignored.
    """
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.filter(pk=order_id).first()
        if order is None or order.state != State.AWAITING_PAYMENT:
            return False
        same = (order.payment_id is None) if payment is None else order.payment_id == payment.pk
        if not same:
            return False
        attempt = {
            "order": order,
            "from_states": State.AWAITING_PAYMENT,
            "kind": "payment_ended",
            "actor": "system",
            "where": {"payment": order.payment_id},
        }
        # A refusal means another worker ended (or a signal paid) this attempt first: theirs
        # is the outcome, and this call reports it did nothing.
        if order.hold_expires_at > now:
            if not move_order(to=State.HELD, **attempt):
                return False
        else:
            if not move_order(
                to=State.EXPIRED,
                fields={"outcome_reason": Reason.PAYMENT_NOT_COMPLETED},
                **attempt,
            ):
                return False
            inventory.release_hold(order.slot_id, order.admissions)
    return True


def order_for_payment(payment) -> Order | None:
    reference = payment.reference or ""
    if not reference.startswith(REFERENCE_PREFIX):
        return None
    return Order.objects.filter(code=reference[len(REFERENCE_PREFIX) :]).first()


def payment_paid(payment) -> str:
    """A payment for an order succeeded. Returns what happened (for logs and tests).

    Held (or awaiting) -> paid and tickets issued. Expired -> honoured when the places can be
    taken again, otherwise refunded and the buyer told. A second payment for an order already
    paid, or a payment for a cancelled order, is refunded. Repeated signals change nothing.
    """
    order = order_for_payment(payment)
    if order is None:
        # Partner API sales (cash registers) are not for an order: nothing to apply, and no
        # error to mail for each of them. Only an order's payment without its order is one.
        if (payment.reference or "").startswith(REFERENCE_PREFIX):
            logger.error(
                "paid payment %s has no order (reference %r)", payment.uuid, payment.reference
            )
        return "no_order"
    now = clock.now()
    refund_reason = None
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        paid_fields = {"payment": payment, "paid_at": now}
        by_payment = {"actor": "system", "detail": {"payment": str(payment.uuid)}}
        if payment.amount != order.total or payment.currency != order.currency:
            outcome = "amount_mismatch"
            record_event(
                order,
                "payment_mismatch",
                order.state,
                order.state,
                "system",
                payment=str(payment.uuid),
            )
            refund_reason = "amount_mismatch"
        elif order.state in Order.HOLDING_STATES:
            _move_locked(
                order, to=State.PAID, from_states=order.state, kind="paid", fields=paid_fields,
                **by_payment,
            )  # fmt: skip
            inventory.confirm_hold(order.slot_id, order.admissions)
            issue_tickets(order)
            transaction.on_commit(lambda: queue_delivery(order.pk))
            outcome = "paid"
        elif order.state == State.EXPIRED:
            if inventory.take_sold(order.slot_id, order.admissions):
                _move_locked(
                    order,
                    to=State.PAID,
                    from_states=State.EXPIRED,
                    kind="paid_late",
                    fields={**paid_fields, "outcome_reason": Reason.LATE_PAYMENT_HONOURED},
                    **by_payment,
                )
                issue_tickets(order)
                transaction.on_commit(lambda: queue_delivery(order.pk))
                outcome = "paid_late"
            else:
                _move_locked(
                    order,
                    to=State.REFUND_PENDING,
                    from_states=State.EXPIRED,
                    kind="paid_late_sold_out",
                    fields={**paid_fields, "outcome_reason": Reason.LATE_PAYMENT_SOLD_OUT},
                    **by_payment,
                )
                order_id = order.pk
                transaction.on_commit(
                    lambda: async_task("ticketing.tasks.refund_order", order_id, "sold_out")
                )
                outcome = "refund_sold_out"
        elif order.state == State.CANCELLED:
            _move_locked(
                order,
                to=State.REFUND_PENDING,
                from_states=State.CANCELLED,
                kind="paid_after_cancel",
                actor="system",
                fields={**paid_fields, "outcome_reason": Reason.PAID_AFTER_CANCEL},
            )
            order_id = order.pk
            transaction.on_commit(
                lambda: async_task("ticketing.tasks.refund_order", order_id, "cancelled")
            )
            outcome = "refund_cancelled"
        elif order.payment_id == payment.pk:
            outcome = "already_applied"
        else:
            # Paid twice (two QR codes both scanned): keep the first, give this one back.
            record_event(
                order,
                "duplicate_payment",
                order.state,
                order.state,
                "system",
                payment=str(payment.uuid),
            )
            refund_reason = "duplicate_payment"
            outcome = "refund_duplicate"
        if refund_reason:
            payment_id = payment.pk
            transaction.on_commit(
                lambda: async_task("ticketing.tasks.refund_payment", payment_id, refund_reason)
            )
    logger.info("order %s: payment %s paid -> %s", order.code, payment.uuid, outcome)
    return outcome


def payment_refunded(payment) -> str:
    """A refund of an order's payment succeeded: the order is refunded once fully repaid.

    A full refund made outside ticketing (payments admin, partner API) of a paid order cancels
    it: tickets revoked, places back.
    """
    payment_model = _payment_model()
    order = order_for_payment(payment)
    if order is None or order.payment_id != payment.pk:
        return "not_ours"
    fully = payment.state == payment_model.State.REFUNDED
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not fully:
            record_event(order, "partial_refund", order.state, order.state, "system")
            return "partial"
        refunded = {"order": order, "to": State.REFUNDED, "kind": "refunded", "actor": "system"}
        if order.state == State.REFUND_PENDING:
            _move_locked(from_states=State.REFUND_PENDING, **refunded)
            return "refunded"
        if order.state == State.PAID:
            _move_locked(
                from_states=State.PAID, fields={"outcome_reason": Reason.REFUNDED}, **refunded
            )
            inventory.release_sold(order.slot_id, order.admissions)
            revoke_tickets(order.pk, now)
            return "refunded"
    return "unchanged"
