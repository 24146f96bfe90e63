"""Payment outcomes -> orders: a payment ended, was paid (on time, late, twice), its money is
going back, or it was refunded.

A payment finds its order by its OrderPayment link, written by ticketing in the transaction that
inserts the payment (link_to); a payment without one (taken through the partner API) never
touches an order, whatever its free-text reference says. Payments never import ticketing and
announce outcomes through payments.signals (ticketing.receivers connects them to the functions
below). Every function here is idempotent: a repeated or late signal changes nothing.

Locks: the payment's row before the order's, as payments takes them when it tells ticketing that
money is going back (refunding.lock_payment).

Who decided: payments names the actor of each transition in its signals. A staff decision (a
payment needing attention checked, refunded instead or marked failed in the admin) is written in
the order's history under that staff user; the lifecycle's own actors appear as "system".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from payments import clock
from payments.models import Payment, Refund

from .. import inventory
from ..models import Order, OrderPayment
from . import money
from .buyer_notices import tell_buyer_of_change_on_commit
from .refunding import (
    is_decided_with_order,
    is_ticket_cancel,
    lock_payment,
    record_refund_of,
    tell_buyer_on_commit,
)
from .states import State, move_order, record_event
from .tickets import issue_tickets, queue_delivery, revoke_tickets

logger = logging.getLogger(__name__)

Reason = Order.OutcomeReason


def _payment_model():
    return Payment


STAFF_ACTORS = ("admin:", "staff:")


def decider(actor: str) -> str:
    """The actor an order event names for a payment outcome made by `actor`."""
    return actor if actor.startswith(STAFF_ACTORS) else "system"


# A buyer's cancel of a whole order by reversal (ticketing.orders.self_service) is carried out by
# money_returning, which lifecycle.request_cancel sends in the same thread, inside the reversal's
# transaction. Set while that call runs, this says whose cancel it is: the order then ends as the
# buyer's cancel, and the buyer gets that one e-mail rather than a refund notice besides.
_buyer_cancel: ContextVar[tuple[int, dict] | None] = ContextVar("buyer_cancel", default=None)


@contextmanager
def buyer_cancelling(order_id: int, detail: dict) -> Iterator[None]:
    token = _buyer_cancel.set((order_id, detail))
    try:
        yield
    finally:
        _buyer_cancel.reset(token)


def _move_locked(order: Order, **move) -> None:
    """move_order for a caller holding the order's row lock (select_for_update; on SQLite the
    immediate transaction locks the database): nobody can have moved it first, so a refusal
    means the lock did not hold, and everything done in the transaction is rolled back."""
    if not move_order(order, **move):
        raise RuntimeError("order changed under a row lock")


def payment_ended(order_id: int, payment, *, actor: str = "system") -> bool:
    """A payment failed or was cancelled: back to held while the hold lasts, else expired.

    Only the order's current attempt counts: `payment` must be the one the order points at
    (None while start_payment has not recorded it yet), so a stale failure is ignored. An order
    that was under review (its payment needed attention) tells its buyer how it ended.
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
            "actor": decider(actor),
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
        if order.review_ends_at is not None:
            tell_buyer_of_change_on_commit(order.pk, "review_not_paid")
    return True


def link_to(order: Order):
    """The callback payments runs inside the transaction that inserts a payment for `order`
    (lifecycle.create_qr_payment / create_barcode_payment `on_record`): the link is written
    with the payment, before any gateway call can pay it."""

    def link(payment) -> None:
        OrderPayment.objects.create(order_id=order.pk, payment=payment, created_at=clock.now())

    return link


def order_for_payment(payment) -> Order | None:
    """The order ticketing started `payment` for, by its link; None for anyone else's payment."""
    return Order.objects.filter(payment_links__payment_id=payment.pk).first()


def payment_paid(payment, *, actor: str = "system") -> str:
    """A payment for an order succeeded. Returns what happened (for logs and tests).

    Held (or awaiting) -> paid and tickets issued. Expired -> honoured while the slot has not
    ended and its places can be taken again, otherwise refunded and the buyer told (a payment
    decided hours later, after a review, must not sell a visit that is over). A second payment
    for an order already paid, or a payment for a cancelled order, is refunded. Repeated signals
    change nothing.
    """
    order = order_for_payment(payment)
    if order is None:
        # A payment ticketing did not start (a partner API sale): not an order's business.
        logger.info("paid payment %s is no order's", payment.uuid)
        return "no_order"
    now = clock.now()
    refund_reason = None
    payment_model = _payment_model()
    with transaction.atomic():
        lock_payment(payment.pk)
        state = payment_model.objects.filter(pk=payment.pk).values_list("state", flat=True)[0]
        if state not in payment_model.REFUNDABLE_STATES:
            # Reversed between its commit and this signal (its money_returning found the order
            # not yet paid): paying the order now would leave tickets valid for money given
            # back. Its payment_cancelled ends the attempt instead.
            logger.info("order %s: payment %s is %s, not applied", order.code, payment.uuid, state)
            return "not_paid_now"
        order = Order.objects.select_for_update().get(pk=order.pk)
        paid_fields = {"payment": payment, "paid_at": now}
        by_payment = {"actor": decider(actor), "detail": {"payment": str(payment.uuid)}}
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
            slot_over = order.slot.ends_at <= now
            if not slot_over and inventory.take_sold(order.slot_id, order.admissions):
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
                    fields={
                        **paid_fields,
                        "outcome_reason": Reason.LATE_PAYMENT_SLOT_OVER
                        if slot_over
                        else Reason.LATE_PAYMENT_SOLD_OUT,
                        "refund_requested_at": now,
                    },
                    **by_payment,
                )
                _refund_order_payment(order, payment, "slot_over" if slot_over else "sold_out")
                outcome = "refund_slot_over" if slot_over else "refund_sold_out"
        elif order.state == State.CANCELLED:
            _move_locked(
                order,
                to=State.REFUND_PENDING,
                from_states=State.CANCELLED,
                kind="paid_after_cancel",
                actor="system",
                fields={
                    **paid_fields,
                    "outcome_reason": Reason.PAID_AFTER_CANCEL,
                    "refund_requested_at": now,
                },
            )
            _refund_order_payment(order, payment, "cancelled")
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
            # Recorded with the decision: the poller sends it, and a crash after this commit
            # leaves a refund due, not a buyer charged twice.
            record_refund_of(payment, reason=refund_reason, suffix="DUP")
    logger.info("order %s: payment %s paid -> %s", order.code, payment.uuid, outcome)
    return outcome


def _refund_order_payment(order: Order, payment, reason: str) -> None:
    """The order's payment goes back (recorded now, sent by the poller) and the buyer is told."""
    if not record_refund_of(payment, reason=reason, suffix="ORD"):
        # Not refundable now (e.g. being cancelled, which gives the money back): the sweeper
        # looks again at refund_pending orders without a refund requested.
        Order.objects.filter(pk=order.pk).update(refund_requested_at=None)
    tell_buyer_on_commit(order.pk)


def money_returning(payment, *, refund, amount, in_full: bool) -> str:
    """Money of `payment` is going back (a reversal, or a refund recorded): called inside the
    transaction that records it, so the tickets stop admitting exactly when the money goes.

    The order's own payment returned in full: paid -> refund_pending, tickets revoked (listed
    for the gates), places released, any price difference it paid for a change of time refunded
    too, the buyer told on commit; the payment's final signal (payment_cancelled /
    payment_refunded) ends it cancelled or refunded. A partial return leaves the tickets valid
    and is recorded in the order's history. The payment of an order under review given back
    (staff chose to refund it instead, or reconciliation refunded it): awaiting or expired ->
    refund_pending, its held places released, the buyer told. Anything else changes nothing: an
    order ticketing cancelled itself (it revoked first, then refunded), a duplicate or
    mismatched payment (not the order's payment), a payment that is no order's.
    """
    order = order_for_payment(payment)
    if order is None:
        return "not_ours"
    now = clock.now()
    detail = {
        "payment": str(payment.uuid),
        "amount": str(amount),
        # Empty for a reversal (a same-day cancel gives the whole payment back).
        "refund": refund.partner_refund_id if refund is not None else "",
    }
    with transaction.atomic():
        lock_payment(payment.pk)
        order = Order.objects.select_for_update().get(pk=order.pk)
        if (
            in_full
            and order.review_ends_at is not None
            and order.payment_id == payment.pk
            and order.state in (State.AWAITING_PAYMENT, State.EXPIRED)
        ):
            return _review_refunded(order, refund, now, detail)
        if order.payment_id != payment.pk or order.state != State.PAID:
            return "unchanged"
        if refund is not None and is_decided_with_order(refund.partner_refund_id):
            # A ticket cancel revoked exactly its tickets in this transaction: the rest stay
            # valid even when this refund gives back everything paid (a free ticket kept).
            # Staff's refund of an amount wrote its own audit record and keeps the tickets.
            return "decided_with_order"
        if not in_full:
            record_event(
                order, "partial_refund_requested", order.state, order.state, "system", **detail
            )
            return "partial"
        cancel = _buyer_cancel.get()
        by_buyer = cancel is not None and cancel[0] == order.pk
        if by_buyer:
            asked = {k: v for k, v in cancel[1].items() if k != "key"}
            move = {
                "kind": "cancelled_by_buyer",
                "actor": "buyer",
                "reason": Reason.CANCELLED_REFUND,
                "detail": {**detail, **asked},
            }
        else:
            move = {
                "kind": "payment_returned",
                "actor": "system",
                "reason": Reason.PAYMENT_RETURNED,
                "detail": detail,
            }
        _move_locked(
            order,
            to=State.REFUND_PENDING,
            from_states=State.PAID,
            kind=move["kind"],
            actor=move["actor"],
            fields={"outcome_reason": move["reason"], "refund_requested_at": now},
            detail=move["detail"],
        )
        inventory.release_sold(order.slot_id, order.admissions)
        revoke_tickets(order.pk, now)
        # The whole order goes back: so does any price difference paid for a change of time.
        money.refund_differences(order, reason="Order cancelled", suffix="ORD")
        if by_buyer:
            tell_buyer_of_change_on_commit(order.pk, "tickets_cancelled", cancel[1])
        else:
            tell_buyer_on_commit(order.pk)
    logger.info("order %s: payment %s returned, order unwound", order.code, payment.uuid)
    return "unwound"


def _review_refunded(order: Order, refund, now, detail: dict) -> str:
    """The payment under review goes back in full: the order ends refunded, never paid."""
    holding = order.state == State.AWAITING_PAYMENT
    _move_locked(
        order,
        to=State.REFUND_PENDING,
        from_states=order.state,
        kind="review_refunded",
        actor=decider(refund.actor if refund is not None else ""),
        fields={"outcome_reason": Reason.REVIEW_REFUNDED, "refund_requested_at": now},
        detail=detail,
    )
    if holding:
        inventory.release_hold(order.slot_id, order.admissions)
    tell_buyer_on_commit(order.pk)
    logger.info("order %s: payment under review given back, order unwound", order.code)
    return "review_refunded"


def payment_returned(payment) -> str:
    """A reversal of the order's payment completed (payment cancelled): refund_pending ->
    cancelled. A reversal whose money_returning was missed (an older version, a crash) is
    applied first."""
    order = order_for_payment(payment)
    if order is None or order.payment_id != payment.pk:
        return "not_ours"
    if payment.state != _payment_model().State.CANCELLED:
        return "unchanged"
    if order.state == State.PAID:
        money_returning(payment, refund=None, amount=payment.amount, in_full=True)
    with transaction.atomic():
        lock_payment(payment.pk)
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.state != State.REFUND_PENDING:
            return "unchanged"
        _move_locked(
            order,
            to=State.CANCELLED,
            from_states=State.REFUND_PENDING,
            kind="reversed",
            actor="system",
            detail={"payment": str(payment.uuid)},
        )
    return "cancelled"


def payment_refunded(payment) -> str:
    """A refund of an order's payment succeeded: the order is refunded once all its money is
    back (its payment, and any price difference it paid for a change of time).

    A full refund made outside ticketing (payments admin, partner API) of a paid order cancels
    it: tickets revoked, places back. One made of ticketing's own ticket cancels does not: those
    revoked exactly the tickets they refunded, and the order's other tickets (free ones, or those
    a price difference paid for) still admit.
    """
    payment_model = _payment_model()
    order = order_for_payment(payment)
    if order is None or order.payment_id != payment.pk:
        return "not_ours"
    fully = payment.state == payment_model.State.REFUNDED
    with transaction.atomic():
        lock_payment(payment.pk)
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not fully:
            record_event(order, "partial_refund", order.state, order.state, "system")
            return "partial"
        if order.state == State.PAID:
            if not _refunded_outside_ticket_cancels(payment):
                kind = "refunded_by_ticket_cancels"
                record_event(order, kind, order.state, order.state, "system")
                return "tickets_cancelled"
            # Its money_returning was missed (an older version, a crash): unwind it now.
            money_returning(payment, refund=None, amount=payment.amount, in_full=True)
            order.refresh_from_db()
        return finish_refund(order)


def finish_refund(order: Order) -> str:
    """refund_pending -> refunded once every payment of the order has given its money back
    (inside the caller's transaction, the order's row locked)."""
    if order.state != State.REFUND_PENDING or not money.all_given_back(order):
        return "unchanged"
    _move_locked(
        order,
        to=State.REFUNDED,
        from_states=State.REFUND_PENDING,
        kind="refunded",
        actor="system",
    )
    return "refunded"


def _refunded_outside_ticket_cancels(payment) -> bool:
    """Some of this payment's money went back by other means than a buyer's ticket cancel."""
    ids = Refund.objects.filter(payment_id=payment.pk).exclude(state=Refund.State.FAILED)
    return any(not is_ticket_cancel(i) for i in ids.values_list("partner_refund_id", flat=True))
