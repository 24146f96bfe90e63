"""A change of time that costs more: the new places held while the buyer pays the difference
through Alipay (the shop's QR flow), and the tickets moved only once that payment is paid.

    asked (rebooking.change_slot, the amount confirmed by the buyer)
        -> awaiting_payment: the new places held (to_slot.held), the QR payment started
    difference paid, order as it was asked  -> changed: one transaction moves the tickets
                                               (ticketing.orders.moving)
    payment failed, cancelled, never started
      by the hold's end, or the buyer gives up -> released: the places given back, the order
                                               untouched
    paid once released, or the order changed
      meanwhile (cancelled, tickets used)   -> refunded: the difference goes back
                                               automatically; never lost

The hold lasts the shop's hold time (TICKETING_HOLD_MINUTES) and, like an order's, is kept while
its payment is in flight: the QR's own deadline is the hold's end plus the same grace
(paying.PAYMENT_GRACE_SECONDS), so the payment ends, and with it the hold, soon after.

Outcomes arrive from payments' signals (ticketing.receivers) through the change's own link to its
payment (SlotChange.payment, written in the transaction that inserts the payment), never through
OrderPayment: to the order's own payment handling this payment is nobody's. Every function here
is idempotent, and the ticketing sweeper (resume_changes) applies whatever a crash or a lost
signal left undone. Locks: the order's payments, then the order (self_service.locked), then
the change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Q

from payments import clock, lifecycle
from payments.exceptions import NotCancellable, PaymentError
from payments.lifecycle import record_refund
from payments.models import Payment

from .. import inventory
from ..exceptions import PaymentInProgress, PaymentUnavailable
from ..models import Order, SlotChange
from ..reports import ledger
from .booking import hold_minutes
from .buyer_notices import tell_buyer_of_change_on_commit
from .moving import ChangeQuote, move_tickets
from .paying import PAYMENT_GRACE_SECONDS
from .payment_outcomes import finish_refund
from .refunding import is_ticketings, refund_id
from .self_service import BUYER, clean_key, locked, valid_units
from .states import State, record_event

logger = logging.getLogger(__name__)

Outcome = SlotChange.Outcome
ChangeState = SlotChange.State
REFUND_REASON = "Time change not made: difference refunded"
# A payment start that died without recording its payment may be retried after this long.
START_CLAIM_SECONDS = 60


def change_for_payment(payment) -> SlotChange | None:
    """The change whose difference `payment` pays, by its link; None for any other payment."""
    return SlotChange.objects.filter(payment_id=payment.pk).first()


def hold_places(order: Order, quote: ChangeQuote, *, key: str, actor: str) -> SlotChange:
    """Hold the new places and record the change, awaiting its difference (inside the caller's
    transaction, with the order's payments and the order locked). Raises SoldOut,
    SlotUnavailable."""
    now = clock.now()
    inventory.take_hold(quote.slot.pk, order.admissions)
    change = SlotChange.objects.create(
        order=order,
        from_slot_id=order.slot_id,
        to_slot=quote.slot,
        admissions=order.admissions,
        prices={str(n): str(price) for n, price in quote.prices.items()},
        amount=quote.difference,
        currency=quote.currency,
        key=key,
        hold_expires_at=now + dt.timedelta(minutes=hold_minutes()),
        created_at=now,
        updated_at=now,
    )
    record_event(
        order,
        "slot_change_requested",
        order.state,
        order.state,
        actor,
        key=key,
        change=change.pk,
        from_slot=order.slot_id,
        to_slot=quote.slot.pk,
        amount=str(quote.difference),
    )
    return change


def change_asked_with(order: Order, key: str) -> SlotChange | None:
    return SlotChange.objects.filter(order_id=order.pk, key=key).first() if key else None


# --- The difference's payment --------------------------------------------------------------------


def start_payment(change: SlotChange) -> Payment:
    """Start the difference's Alipay QR payment, or return the one already started.

    Raises PaymentUnavailable when the payment cannot start (the places stay held: try again
    while the hold lasts), PaymentInProgress while another request is starting it.
    """
    now = clock.now()
    change = SlotChange.objects.select_related("order__attraction", "to_slot", "payment").get(
        pk=change.pk
    )
    if change.payment is not None:
        return change.payment
    claimed = (
        SlotChange.objects.filter(
            pk=change.pk, state=ChangeState.AWAITING_PAYMENT, payment__isnull=True
        )
        .filter(
            Q(payment_started_at__isnull=True)
            | Q(payment_started_at__lte=now - dt.timedelta(seconds=START_CLAIM_SECONDS))
        )
        .update(payment_started_at=now, updated_at=now)
    )
    if not claimed:
        change.refresh_from_db()
        if change.payment is not None:
            return change.payment
        raise PaymentInProgress()
    remaining = int((change.hold_expires_at - now).total_seconds()) + PAYMENT_GRACE_SECONDS
    order = change.order
    try:
        return lifecycle.create_qr_payment(
            amount=change.amount,
            currency=change.currency,
            description=_describe(change),
            reference=f"{order.payment_reference}:change",
            deadline_seconds=min(max(remaining, 60), 7200),
            actor="ticketing",
            on_record=link_to(change),
        )
    except Exception as exc:
        # PaymentError (gateway settings, a refused request) or anything unexpected: nothing
        # was charged; free the claim so the buyer may try again while the places are held.
        logger.warning("order %s: difference payment could not start (%r)", order.code, exc)
        SlotChange.objects.filter(pk=change.pk, payment__isnull=True).update(
            payment_started_at=None
        )
        raise PaymentUnavailable() from exc


def _describe(change: SlotChange) -> str:
    order = change.order
    local = change.to_slot.starts_at.astimezone(order.attraction.tz)
    return f"{order.attraction.name} time change to {local:%Y-%m-%d %H:%M} ({order.code})"


def link_to(change: SlotChange):
    """Runs inside the transaction that inserts the payment: the change knows its payment before
    any gateway call can pay it, so no outcome can miss it."""

    def link(payment) -> None:
        if not SlotChange.objects.filter(pk=change.pk, payment__isnull=True).update(
            payment=payment
        ):
            raise RuntimeError(f"slot change {change.pk} already has a payment")

    return link


# --- Outcomes ------------------------------------------------------------------------------------


def difference_paid(payment) -> str:
    """The difference was paid: the tickets move (if the order is still as it was asked),
    otherwise the difference is refunded. Returns what happened (for logs and tests)."""
    change = change_for_payment(payment)
    if change is None:
        return "no_change"
    now = clock.now()
    with transaction.atomic():
        order = locked(change.order)
        change = (
            SlotChange.objects.select_for_update(of=("self",))
            .select_related("to_slot")
            .get(pk=change.pk)
        )
        state = Payment.objects.filter(pk=payment.pk).values_list("state", flat=True)[0]
        if state not in Payment.REFUNDABLE_STATES:
            # Reversed between its commit and this signal: nothing was paid after all.
            return "not_paid_now"
        if change.state in (ChangeState.CHANGED, ChangeState.REFUNDED):
            return "already_applied"
        if change.state == ChangeState.RELEASED:
            _end(change, order, ChangeState.REFUNDED, Outcome.PAID_TOO_LATE, "slot_change_refunded")
            _refund(change, payment)
            return "refunded_too_late"
        why_not = _why_not_movable(order, change, now)
        if why_not:
            inventory.release_hold(change.to_slot_id, change.admissions)
            _end(change, order, ChangeState.REFUNDED, Outcome.ORDER_CHANGED, "slot_change_refunded")
            _refund(change, payment)
            logger.info("order %s: difference paid but not applied (%s)", order.code, why_not)
            return "refunded_order_changed"
        prices = {int(n): Decimal(p) for n, p in change.prices.items()}
        move_tickets(order, change.to_slot, change.numbers, prices, places_held=True, now=now)
        _end(change, order, ChangeState.CHANGED, "", "slot_changed", paid=str(change.amount))
        ledger.difference_paid(change.pk)
        tell_buyer_of_change_on_commit(order.pk, "slot_changed", {"paid": str(change.amount)})
    logger.info("order %s: moved to slot %s, difference paid", order.code, change.to_slot_id)
    return "changed"


def _why_not_movable(order: Order, change: SlotChange, now: dt.datetime) -> str:
    """Empty when the order is still as it was when the change was asked for."""
    if order.state != State.PAID:
        return "order no longer paid"
    if order.slot_id != change.from_slot_id or order.admissions != change.admissions:
        return "order changed"
    if sorted(n for unit in valid_units(order) for n in unit.numbers) != change.numbers:
        return "tickets changed"
    if change.to_slot.starts_at <= now:
        return "new time already started"
    if not change.to_slot.is_open:
        # Closed meanwhile (staff cancelled the slot for weather, a closed day): no visit to sell.
        return "new time closed"
    return ""


def difference_ended(payment) -> str:
    """The difference's payment failed or was cancelled: the new places go back, the order stays
    as it was."""
    change = change_for_payment(payment)
    if change is None:
        return "no_change"
    with transaction.atomic():
        order = locked(change.order)
        change = SlotChange.objects.select_for_update().get(pk=change.pk)
        if change.state != ChangeState.AWAITING_PAYMENT:
            return "unchanged"
        _release(change, order, Outcome.PAYMENT_NOT_COMPLETED, "slot_change_not_paid", "system")
    return "released"


def give_up(order: Order, *, key: str = "", actor: str = BUYER) -> Order:
    """The buyer keeps the current time: the new places go back at once, then the payment in
    progress is cancelled through the lifecycle (a gateway call, so outside any transaction). A
    payment landing anyway finds the change released and is refunded, never lost."""
    key = clean_key(key)
    payment = None
    with transaction.atomic():
        current = locked(order)
        change = (
            SlotChange.objects.select_for_update()
            .filter(order_id=current.pk, state__in=SlotChange.HOLDING_STATES)
            .first()
        )
        if change is not None:
            _release(change, current, Outcome.GIVEN_UP, "slot_change_given_up", actor, key=key)
            payment = change.payment
    if payment is not None and payment.state in Payment.IN_FLIGHT_STATES:
        # Already final or being cancelled elsewhere: its outcome, applied by its signal,
        # finds the change released.
        with contextlib.suppress(NotCancellable, PaymentError):
            lifecycle.request_cancel(payment, actor=f"{actor}: time change given up")
    current.refresh_from_db()
    return current


def _release(change: SlotChange, order: Order, outcome: str, kind: str, actor: str, **detail):
    inventory.release_hold(change.to_slot_id, change.admissions)
    _end(change, order, ChangeState.RELEASED, outcome, kind, actor=actor, **detail)


def _end(change, order, to: str, outcome: str, kind: str, *, actor: str = "system", **detail):
    """awaiting_payment (or released) -> `to`: a compare-and-set with its event in the order's
    history, inside the caller's transaction (the change's row locked)."""
    moved = SlotChange.objects.filter(pk=change.pk, state=change.state).update(
        state=to, outcome=outcome, updated_at=clock.now()
    )
    if not moved:
        raise RuntimeError(f"slot change {change.pk} changed under a row lock")
    record_event(
        order,
        kind,
        order.state,
        order.state,
        actor,
        change=change.pk,
        to_slot=change.to_slot_id,
        amount=str(change.amount),
        **({"outcome": outcome} if outcome else {}),
        **detail,
    )


def _refund(change: SlotChange, payment) -> None:
    """The difference goes back (recorded now, sent by the poller), and the buyer is told."""
    left = Payment.objects.get(pk=payment.pk).refundable_amount
    if left > 0:
        # Under the payment's row lock it is paid: payments refuses this only on a bug, and
        # then the decision rolls back with it and the sweeper tries again.
        record_refund(
            payment,
            amount=left,
            reason=REFUND_REASON,
            actor="ticketing",
            partner_refund_id=refund_id(payment, "DIF"),
        )
    tell_buyer_of_change_on_commit(
        change.order_id, "slot_change_refunded", {"refund": str(left), "to_slot": change.to_slot_id}
    )


def difference_returning(payment, *, refund, amount) -> str:
    """Money of a difference's payment is going back (inside the transaction recording it). Its
    tickets stay valid: the order's own payment paid for most of them, and ticketing's own
    refunds (a change not made, a cancel) dealt with the tickets already. One made by staff is
    written in the order's history."""
    if refund is not None and is_ticketings(refund.partner_refund_id):
        return "ours"
    change = change_for_payment(payment)
    if change is None:
        return "no_change"
    order = Order.objects.get(pk=change.order_id)
    record_event(
        order,
        "difference_returned",
        order.state,
        order.state,
        "system",
        change=change.pk,
        payment=str(payment.uuid),
        amount=str(amount),
        refund=refund.partner_refund_id if refund is not None else "",
    )
    return "recorded"


def difference_refunded(payment) -> str:
    """A refund of a difference's payment succeeded: an order being refunded in full is
    refunded once this was the last of its money to come back."""
    change = change_for_payment(payment)
    if change is None:
        return "no_change"
    with transaction.atomic():
        order = locked(change.order)
        return finish_refund(order)


# --- The sweeper ---------------------------------------------------------------------------------


def resume_changes(*, limit: int = 100) -> int:
    """Apply what a lost signal or a crash left undone: a change past its hold whose payment
    never started (or stays with staff), and a change whose payment ended unseen. Returns how
    many were settled."""
    now = clock.now()
    stale = now - dt.timedelta(minutes=1)
    due = (
        SlotChange.objects.filter(state=ChangeState.AWAITING_PAYMENT)
        .filter(Q(hold_expires_at__lte=now) | Q(updated_at__lte=stale, payment__isnull=False))
        .select_related("payment")
        .order_by("hold_expires_at")[:limit]
    )
    settled = 0
    for change in due:
        payment = change.payment
        if payment is not None and payment.state in Payment.REFUNDABLE_STATES:
            settled += difference_paid(payment) != "already_applied"
        elif payment is not None and payment.state in (
            Payment.State.FAILED,
            Payment.State.CANCELLED,
        ):
            settled += difference_ended(payment) == "released"
        elif change.hold_expires_at <= now and (
            payment is None or payment.state == Payment.State.NEEDS_ATTENTION
        ):
            settled += _expire(change)
    # A paid difference whose change ended without it (signal lost after a give-up or expiry).
    for payment in Payment.objects.filter(
        slot_change__state=ChangeState.RELEASED,
        state__in=Payment.REFUNDABLE_STATES,
        updated_at__lte=stale,
    )[:limit]:
        settled += difference_paid(payment).startswith("refunded")
    return settled


def _expire(change: SlotChange) -> bool:
    """The hold ended with no payment that may still be paid in time: places back. A payment
    staff later find paid is refunded (difference_paid on a released change)."""
    with transaction.atomic():
        order = locked(change.order)
        change = SlotChange.objects.select_for_update().get(pk=change.pk)
        if change.state != ChangeState.AWAITING_PAYMENT or change.hold_expires_at > clock.now():
            return False
        if change.payment_id is not None:
            state = Payment.objects.filter(pk=change.payment_id).values_list("state", flat=True)[0]
            if state != Payment.State.NEEDS_ATTENTION:
                return False
        _release(change, order, Outcome.PAYMENT_NOT_COMPLETED, "slot_change_expired", "system")
    return True
