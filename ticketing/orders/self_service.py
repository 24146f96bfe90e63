"""What a buyer may do to their own order: give back an unpaid hold, and cancel paid tickets
within the attraction's refund policy (ticketing.orders.policy).

Every action locks the order's payment rows, then the order's (ticketing.orders.money), like the
payment receivers do, so two devices of the same buyer (or a buyer and a landing payment) take
turns: the second one decides on what the first one left. Each takes an idempotency `key`: a key
already recorded in the order's history returns the order as it is, so a retried request
changes nothing twice. While a change of time waits for its difference to be paid
(ticketing.orders.slot_changes) the order takes no other change.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from payments import clock, lifecycle
from payments.cancelling import cancel_window_open
from payments.exceptions import NotCancellable, PaymentError
from payments.models import Payment

from .. import inventory
from ..exceptions import (
    ChangePending,
    InvalidTicketChoice,
    NeverRefundable,
    NotCancellableNow,
    OrderStateConflict,
)
from ..models import Order, OrderEvent, RefundPolicy, SlotChange, Ticket, TicketType
from . import money, policy
from .buyer_notices import tell_buyer_of_change_on_commit
from .payment_outcomes import buyer_cancelling
from .refunding import TICKET_CANCEL_SUFFIX
from .states import State, move_order, record_event

logger = logging.getLogger(__name__)

Reason = Order.OutcomeReason
BUYER = "buyer"
REFUND_REASON = "Tickets cancelled by the buyer"
KEY_LENGTH = 255  # as the API's Idempotency-Key


def already_done(order: Order, key: str) -> bool:
    """True when an action with this idempotency key is in the order's history."""
    return bool(key) and OrderEvent.objects.filter(order_id=order.pk, detail__key=key).exists()


def clean_key(key: str | None) -> str:
    key = (key or "").strip()
    if len(key) > KEY_LENGTH:
        raise InvalidTicketChoice(_("The request key is too long."))
    return key


def locked(order: Order) -> Order:
    """The order's row, locked after its payments' (the payment receivers' lock order)."""
    money.lock_payments(Order.objects.only("payment_id").get(pk=order.pk))
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("attraction", "slot", "payment")
        .get(pk=order.pk)
    )


def pending_change(order: Order) -> SlotChange | None:
    """The change of time waiting for its difference to be paid, if any."""
    return (
        SlotChange.objects.filter(order_id=order.pk, state__in=SlotChange.HOLDING_STATES)
        .select_related("to_slot", "payment")
        .first()
    )


def refuse_while_changing(order: Order) -> None:
    if SlotChange.objects.filter(order_id=order.pk, state__in=SlotChange.HOLDING_STATES).exists():
        raise ChangePending()


def available_actions(order: Order, language: str | None) -> dict:
    """What the order page offers: each action only while the order and the policy allow it,
    and none but paying or giving it up while a change of time waits for its difference."""
    rules = policy.policy_for(order.attraction)
    now = clock.now()
    pending = pending_change(order) if order.state == State.PAID else None
    paid = order.state == State.PAID and pending is None
    starts = order.slot.starts_at
    return {
        "give_back": order.state in Order.HOLDING_STATES,
        "cancel": paid and policy.may_cancel(rules, starts, now),
        "change": paid and policy.may_change(rules, starts, now),
        "pending_change": pending,
        "policy_lines": policy.describe(
            rules, [line.ticket_type for line in order.lines.all()], language
        ),
    }


# --- Giving back an unpaid hold -------------------------------------------------------------------


def give_back_hold(
    order: Order,
    *,
    key: str = "",
    actor: str = BUYER,
    kind: str = "hold_given_back",
    detail: dict | None = None,
    tell_buyer: Callable[[int], None] | None = None,
) -> Order:
    """End an unpaid order now: its places go back at once.

    A payment in progress is cancelled first through the payments lifecycle (a gateway call, so
    outside any transaction). Whether or not that cancel gets through, the order ends cancelled:
    a payment landing afterwards finds it cancelled and is refunded (payment_paid), never lost.
    Raises OrderStateConflict for a paid order (the buyer cancels it under the refund policy).

    Staff cancelling a hold (ticketing.orders.staff) name their own audit `kind` and e-mail
    (`tell_buyer`, queued inside the transaction that cancels, so only a cancel made is told).
    """
    key = clean_key(key)
    order = Order.objects.select_related("payment").get(pk=order.pk)
    if order.state in (State.CANCELLED, State.EXPIRED):
        return order  # already given back (or ended): nothing left to do
    if order.state not in Order.HOLDING_STATES:
        raise OrderStateConflict(
            _("This order is paid: cancel its tickets under the refund policy instead.")
        )
    payment = order.payment
    if payment is not None and payment.state in Payment.IN_FLIGHT_STATES:
        # Already final or being cancelled elsewhere: the decision below reads fresh state.
        with contextlib.suppress(NotCancellable, PaymentError):
            lifecycle.request_cancel(payment, actor=f"{actor}: hold given back")
    with transaction.atomic():
        current = locked(order)
        if already_done(current, key) or current.state in (State.CANCELLED, State.EXPIRED):
            return current
        if current.state not in Order.HOLDING_STATES:
            raise OrderStateConflict(
                _("This order is paid: cancel its tickets under the refund policy instead.")
            )
        if not move_order(
            current,
            to=State.CANCELLED,
            from_states=current.state,
            kind=kind,
            actor=actor,
            fields={"outcome_reason": Reason.CANCELLED},
            detail={**(detail or {}), "key": key},
        ):
            raise OrderStateConflict()
        inventory.release_hold(current.slot_id, current.admissions)
        if tell_buyer is None:
            tell_buyer_of_change_on_commit(current.pk, "hold_given_back")
        else:
            tell_buyer(current.pk)
    current.refresh_from_db()
    logger.info("order %s: hold given back by the buyer", current.code)
    return current


# --- Cancelling paid tickets ----------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One ticket bought: a family ticket's parts together, since it is cancelled as a whole."""

    number: int  # its first part's number: how the buyer and the API name it
    numbers: tuple[int, ...]
    ticket_type: TicketType
    price: Decimal
    admissions: int


def valid_units(order: Order) -> list[Unit]:
    """The order's units whose every part still admits (a unit with a part used is kept)."""
    units, current = [], []
    tickets = Ticket.objects.filter(order_id=order.pk).select_related("ticket_type", "line")
    for ticket in tickets.order_by("number"):
        if ticket.part == 1:
            current = [ticket]
            units.append(current)
        elif current:
            current.append(ticket)
    return [
        Unit(
            number=parts[0].number,
            numbers=tuple(t.number for t in parts),
            ticket_type=parts[0].ticket_type,
            price=parts[0].price,
            admissions=parts[0].line.admissions_each,
        )
        for parts in units
        if len(parts) == parts[0].parts and all(t.state == Ticket.State.VALID for t in parts)
    ]


@dataclass(frozen=True)
class CancelQuote:
    units: tuple[Unit, ...]
    currency: str
    amount: Decimal
    fee: Decimal
    refund: Decimal
    whole_order: bool  # every unit still valid is cancelled
    # Free tickets cancelled with the last paid ones (nobody is left to use them).
    free_added: tuple[int, ...] = ()

    @property
    def numbers(self) -> list[int]:
        return [n for unit in self.units for n in unit.numbers]

    @property
    def admissions(self) -> int:
        return sum(unit.admissions for unit in self.units)


def quote_cancel(order: Order, numbers: list[int], *, by_staff: bool = False) -> CancelQuote:
    """What cancelling these tickets gives back now; raises when the policy does not allow it.

    Naming any part of a family ticket chooses the whole unit. Cancelling every paid ticket
    cancels the whole order, its free tickets too (an infant's ticket admits nobody alone); a
    partial cancel keeps them. Staff (`by_staff`) override the policy: no cut-off, no fee, and a
    ticket type marked not refundable is refunded too.
    """
    if order.state != State.PAID:
        raise OrderStateConflict(_("Only a paid order's tickets can be cancelled."))
    refuse_while_changing(order)
    rules = policy.policy_for(order.attraction)
    if by_staff:
        # An unsaved policy without fees: the price of the tickets, in the currency's units.
        rules = RefundPolicy(attraction=order.attraction)
    elif not policy.may_cancel(rules, order.slot.starts_at, clock.now()):
        raise NotCancellableNow()
    units = valid_units(order)
    by_number = {n: unit for unit in units for n in unit.numbers}
    if not numbers or any(n not in by_number for n in numbers):
        raise InvalidTicketChoice()
    chosen = {by_number[n].number: by_number[n] for n in numbers}
    if not by_staff and any(not unit.ticket_type.refundable for unit in chosen.values()):
        raise NeverRefundable()
    rest = [unit for unit in units if unit.number not in chosen]
    free_added: tuple[int, ...] = ()
    if (
        rest
        and all(unit.price == 0 for unit in rest)
        and any(unit.price > 0 for unit in chosen.values())
    ):
        free_added = tuple(n for unit in rest for n in unit.numbers)
        chosen.update({unit.number: unit for unit in rest})
    ordered = sorted(chosen.values(), key=_first)
    amount = sum((unit.price for unit in ordered), Decimal("0"))
    currency = order.currency
    priced = policy.quote(rules, amount, currency)
    # Never more than the order's payments still hold (nothing for a free order).
    refund = min(priced.refund, money.refundable(order))
    return CancelQuote(
        units=tuple(ordered),
        currency=currency,
        amount=priced.amount,
        fee=priced.amount - refund,
        refund=refund,
        whole_order=len(ordered) == len(units),
        free_added=free_added,
    )


def _first(unit: Unit) -> int:
    return unit.number


def cancel_tickets(order: Order, numbers: list[int], *, key: str = "", actor: str = BUYER):
    """Cancel these tickets (or the whole order) under the policy; the order afterwards.

    A whole order paid by one payment, with no fee, on the payment's Beijing day is reversed
    (lifecycle.request_cancel: its money_returning revokes the tickets, releases the places and
    e-mails the buyer in the reversal's own transaction). Otherwise the refund after the fee is
    recorded (sent by the poller) across the order's payments (ticketing.orders.money) in the
    transaction that revokes exactly these tickets and releases exactly their places; its refund
    ids mark them as ticketing's own, so the money_returning receiver leaves the tickets to this
    function.
    """
    key = clean_key(key)
    reverse_payment = None
    with transaction.atomic():
        current = locked(order)
        if already_done(current, key):
            if not _reversal_still_due(current, key):
                return current
            # Asked before, and the reversal did not get through: ask again (payments finds
            # the cancel it already started, if any).
            reverse_payment = current.payment
            detail = _requested(current, key)
    if reverse_payment is not None:
        return _reverse(current, reverse_payment, actor, detail)
    with transaction.atomic():
        current = locked(order)
        if already_done(current, key):
            return current
        quote = quote_cancel(current, numbers)
        payment = current.payment
        now = clock.now()
        detail = {
            "key": key,
            "tickets": quote.numbers,
            "amount": str(quote.amount),
            "fee": str(quote.fee),
            "refund": str(quote.refund),
        }
        if (
            quote.whole_order
            and quote.fee == 0
            and payment is not None
            and payment.refundable_amount == payment.amount
            and not money.has_paid_difference(current)
            and cancel_window_open(payment, now)
        ):
            record_event(current, "cancel_requested", current.state, current.state, actor, **detail)
            reverse_payment = payment
        else:
            if quote.whole_order:
                _cancel_whole(current, quote, actor, detail)
            else:
                cancel_units(current, quote, actor, detail)
            tell_buyer_of_change_on_commit(current.pk, "tickets_cancelled", detail)
    if reverse_payment is not None:
        return _reverse(current, reverse_payment, actor, detail)
    current.refresh_from_db()
    logger.info("order %s: tickets %s cancelled by the buyer", current.code, quote.numbers)
    return current


def _requested(order: Order, key: str) -> dict:
    return OrderEvent.objects.filter(order_id=order.pk, detail__key=key).values_list(
        "detail", flat=True
    )[0]


def _reversal_still_due(order: Order, key: str) -> bool:
    kind = OrderEvent.objects.filter(order_id=order.pk, detail__key=key).values_list(
        "kind", flat=True
    )[0]
    return (
        kind == "cancel_requested"
        and order.state == State.PAID
        and order.payment is not None
        and order.payment.state == Payment.State.PAID
    )


def _reverse(order: Order, payment: Payment, actor: str, detail: dict) -> Order:
    """The whole order's payment reversed: its money_returning unwinds the order, as this
    buyer's cancel (one e-mail: the cancel's, sent only once the reversal is recorded)."""
    try:
        with buyer_cancelling(order.pk, detail):
            lifecycle.request_cancel(payment, actor=f"{actor}: order cancelled")
    except (NotCancellable, PaymentError) as exc:
        # Refused (the payment moved meanwhile): the tickets stay valid, nothing went back,
        # and the same request may be tried again.
        raise OrderStateConflict(exc.message) from exc
    order.refresh_from_db()
    logger.info("order %s: cancelled by the buyer, payment reversed", order.code)
    return order


def _cancel_whole(order: Order, quote: CancelQuote, actor: str, detail: dict) -> None:
    """Every ticket left: the order ends; refund_pending until a full refund completes."""
    left = money.refundable(order)
    full = quote.refund > 0 and quote.refund >= left
    if not move_order(
        order,
        to=State.REFUND_PENDING if full else State.CANCELLED,
        from_states=State.PAID,
        kind="cancelled_by_buyer",
        actor=actor,
        fields={
            "outcome_reason": Reason.CANCELLED_REFUND,
            **({"refund_requested_at": clock.now()} if full else {}),
        },
        detail=detail,
    ):
        raise OrderStateConflict()
    # Revoked before the refund is recorded: its money_returning finds the order no longer paid.
    inventory.release_sold(order.slot_id, order.admissions)
    _revoke(order, quote.numbers)
    _record(order, quote)


def cancel_units(
    order: Order,
    quote: CancelQuote,
    actor: str,
    detail: dict,
    *,
    kind: str = "tickets_cancelled",
    reason: str = REFUND_REASON,
    refund_actor: str = "ticketing",
) -> None:
    """Some tickets: exactly these revoked and their places released; the order stays paid.

    Inside the caller's transaction, with the order locked (the buyer's cancel here, staff's
    refund of tickets in ticketing.orders.staff): one way to take tickets out of a paid order.
    """
    _revoke(order, quote.numbers)
    inventory.release_sold(order.slot_id, quote.admissions)
    Order.objects.filter(pk=order.pk).update(
        admissions=F("admissions") - quote.admissions, updated_at=clock.now()
    )
    record_event(order, kind, order.state, order.state, actor, **detail)
    _record(order, quote, reason, refund_actor)


def _revoke(order: Order, numbers: list[int]) -> None:
    revoked = Ticket.objects.filter(
        order_id=order.pk, number__in=numbers, state=Ticket.State.VALID
    ).update(state=Ticket.State.REVOKED, revoked_at=clock.now())
    if revoked != len(numbers):
        raise OrderStateConflict()  # a ticket was used or revoked meanwhile: undo it all


def _record(
    order: Order, quote: CancelQuote, reason: str = REFUND_REASON, actor: str = "ticketing"
) -> None:
    if quote.refund <= 0:
        return
    # One id per unit set and payment: a retry finds the same refunds rather than new ones.
    # Not refundable now (a reversal runs, say): refused as a whole, tickets stay valid.
    money.record_order_refund(
        order,
        quote.refund,
        reason=reason,
        actor=actor,
        suffix=f"{TICKET_CANCEL_SUFFIX}{quote.units[0].number}",
    )
