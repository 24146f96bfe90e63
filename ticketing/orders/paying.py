"""Paying: start the order's Alipay payment (QR online, barcode at the counter), or settle it free.

held -> awaiting_payment while the payment runs; the hold is kept past its expiry until that
payment ends (ticketing.orders.payment_outcomes). No gateway call happens inside a transaction.
"""

from __future__ import annotations

import logging

from django.db import transaction

from payments import clock, lifecycle
from payments.exceptions import PaymentError
from payments.models import Payment

from .. import inventory
from ..exceptions import HoldExpired, OrderStateConflict, PaymentInProgress, PaymentUnavailable
from ..models import Order
from .holds import expire_order
from .payment_outcomes import payment_ended
from .states import State, move_order
from .tickets import issue_tickets, queue_delivery

logger = logging.getLogger(__name__)

PAYMENT_GRACE_SECONDS = 120


def _payment_model():
    return Payment


def _describe(order: Order) -> str:
    local = order.slot.starts_at.astimezone(order.attraction.tz)
    return f"{order.attraction.name} {local:%Y-%m-%d %H:%M} x{order.admissions} ({order.code})"


def start_payment(order: Order):
    """Start (or return the in-flight) Alipay QR payment; the hold is kept while it runs.

    Returns the Payment (`qr_code`, `state`, `uuid`), or None for a free order (paid at once).
    Raises HoldExpired, OrderStateConflict, PaymentUnavailable (the hold is kept: retry later).
    """

    def create(current: Order, remaining: int):
        # The QR lives as long as the hold plus a grace for a buyer who scanned at the last
        # moment and is still confirming; the hold in turn is kept while the payment is in flight.
        return lifecycle.create_qr_payment(
            amount=current.total,
            currency=current.currency,
            description=_describe(current),
            reference=current.payment_reference,
            deadline_seconds=min(max(remaining, 60), 7200),
            actor="ticketing",
        )

    return _start_order_payment(order, create, actor="buyer")


def start_counter_payment(order: Order, buyer_code: str, *, store_id: str, terminal_id: str,
                          actor: str):  # fmt: skip
    """At the box office: pay the order with the buyer's Alipay payment code (barcode flow).

    Returns the Payment as the first pay left it: paid (the order is paid, tickets issued),
    failed (the order is held again: scan another code while the hold lasts) or pending (the
    buyer is confirming with a PIN; the poller follows it to its end), or None for a free order.
    Raises payments.exceptions.InvalidBuyerCode for a code that is not an Alipay payment code
    (nothing changes), and what start_payment raises.
    """
    # The lifecycle checks this too, but only once the order awaits its payment: check first so
    # a misread scan leaves the order held with nothing recorded.
    code = lifecycle.clean_buyer_code(buyer_code)

    def create(current: Order, remaining: int):
        return lifecycle.create_barcode_payment(
            amount=current.total,
            currency=current.currency,
            description=_describe(current),
            buyer_code=code,
            reference=current.payment_reference,
            store_id=store_id,
            terminal_id=terminal_id,
            actor=actor,
        )

    return _start_order_payment(order, create, actor=actor)


def _start_order_payment(order: Order, create, *, actor: str):
    """held -> awaiting_payment, then `create(order, seconds the hold has left + grace)` makes the
    payment; a payment that cannot start (or fails at once) gives the order back to held."""
    payment_model = _payment_model()
    now = clock.now()
    current = Order.objects.select_related("attraction", "slot", "payment").get(pk=order.pk)
    if current.state == State.AWAITING_PAYMENT:
        if current.payment is not None and current.payment.state in payment_model.ACTIVE_STATES:
            return current.payment
        raise PaymentInProgress()
    if current.state == State.EXPIRED:
        raise HoldExpired()
    if current.state != State.HELD:
        raise OrderStateConflict()
    if current.hold_expires_at <= now:
        expire_order(current.pk)
        raise HoldExpired()
    if current.total == 0:
        _settle_free_order(current)
        return None
    if not move_order(
        current,
        to=State.AWAITING_PAYMENT,
        from_states=State.HELD,
        kind="payment_started",
        actor=actor,
        fields={"payment": None, "payment_started_at": now},
        where={"hold_expires_at__gt": now},
    ):
        # Someone else moved it first: a second click starting the same payment, or expiry.
        moved_to = Order.objects.filter(pk=current.pk).values_list("state", flat=True).first()
        if moved_to == State.AWAITING_PAYMENT:
            raise PaymentInProgress()
        raise HoldExpired() if moved_to in (State.HELD, State.EXPIRED) else OrderStateConflict()
    remaining = int((current.hold_expires_at - now).total_seconds()) + PAYMENT_GRACE_SECONDS
    try:
        payment = create(current, remaining)
    except PaymentError as exc:
        logger.warning("order %s: payment could not start (%s)", current.code, exc.code)
        payment_ended(current.pk, None)
        raise PaymentUnavailable() from exc
    except Exception as exc:
        logger.exception("order %s: payment could not start", current.code)
        payment_ended(current.pk, None)
        raise PaymentUnavailable() from exc
    # Not a state change: the attempt learns its payment. Nothing to do when it matches no row:
    # the attempt has already ended (payment_ended with no payment, by the sweeper) and this
    # payment's own outcome is applied below or by its signal.
    with transaction.atomic():
        Order.objects.filter(
            pk=current.pk, state=State.AWAITING_PAYMENT, payment__isnull=True
        ).update(payment=payment)
    # Its outcome may already be known (a precreate refused at once, a barcode pay declined or
    # even paid): its signal came before the order knew the payment, so apply it here. Both
    # paths are idempotent.
    payment.refresh_from_db()
    if payment.state in (payment_model.State.FAILED, payment_model.State.CANCELLED):
        payment_ended(current.pk, payment)
    return payment


def _settle_free_order(order: Order) -> None:
    with transaction.atomic():
        if not move_order(
            order,
            to=State.PAID,
            from_states=State.HELD,
            kind="paid",
            actor="system",
            fields={"paid_at": clock.now()},
            detail={"free": True},
        ):
            raise OrderStateConflict()
        inventory.confirm_hold(order.slot_id, order.admissions)
        issue_tickets(order)
        transaction.on_commit(lambda: queue_delivery(order.pk))
