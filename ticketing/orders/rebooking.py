"""Changing a paid order's time slot: same attraction, same tickets, one transaction.

The new places are taken and the old ones released in the transaction that revokes the old
tickets and issues the new ones, under the payment's and the order's row locks (the order of
ticketing.orders.self_service), so a cancel from another device waits for it and then sees the
order as it left it. Tickets now cheaper than paid are refunded the difference in the same
transaction (record_refund, sent by the poller).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock
from payments.exceptions import PaymentError
from payments.lifecycle import record_refund

from .. import inventory
from ..exceptions import (
    NotChangeableNow,
    OrderStateConflict,
    PriceDifferenceDue,
    SlotUnavailable,
    SoldOut,
)
from ..models import Order, Ticket, TimeSlot
from . import policy
from .buyer_notices import tell_buyer_of_change_on_commit
from .refunding import TICKET_CANCEL_SUFFIX, refund_id
from .self_service import BUYER, already_done, clean_key, locked, valid_units
from .states import State, record_event
from .tickets import queue_delivery

logger = logging.getLogger(__name__)


def slots_to_change_to(order: Order) -> list[TimeSlot]:
    """Open slots of the same attraction the order's tickets would fit in, soonest first."""
    now = clock.now()
    rules = policy.policy_for(order.attraction)
    return [
        slot
        for slot in TimeSlot.objects.filter(
            attraction_id=order.attraction_id, is_open=True, starts_at__gt=now
        )
        .exclude(pk=order.slot_id)
        .order_by("starts_at")[:200]
        if slot.places_left >= order.admissions and policy.may_change(rules, slot.starts_at, now)
    ]


def price_difference(order: Order) -> Decimal:
    """Today's prices of the order's valid tickets less what was paid for them (+: more due)."""
    units = valid_units(order)
    return sum((unit.ticket_type.price - unit.price for unit in units), Decimal("0"))


def change_slot(order: Order, slot_id: int, *, key: str = "", actor: str = BUYER) -> Order:
    """Move the order's valid tickets to another slot; the order afterwards."""
    key = clean_key(key)
    with transaction.atomic():
        current = locked(order)
        if already_done(current, key):
            return current
        if current.state != State.PAID:
            raise OrderStateConflict(_("Only a paid order can change its time slot."))
        now = clock.now()
        rules = policy.policy_for(current.attraction)
        if not policy.may_change(rules, current.slot.starts_at, now):
            raise NotChangeableNow()
        new_slot = TimeSlot.objects.filter(pk=slot_id, attraction_id=current.attraction_id).first()
        if (
            new_slot is None
            or new_slot.pk == current.slot_id
            or not new_slot.is_open
            or not policy.may_change(rules, new_slot.starts_at, now)
        ):
            raise SlotUnavailable()
        units = valid_units(current)
        if (
            not units
            or Ticket.objects.filter(order_id=current.pk, state=Ticket.State.USED).exists()
        ):
            raise OrderStateConflict(_("These tickets can no longer be moved."))
        difference = sum((u.ticket_type.price - u.price for u in units), Decimal("0"))
        if difference > 0:
            raise PriceDifferenceDue()
        if not inventory.take_sold(new_slot.pk, current.admissions):
            raise SoldOut()
        inventory.release_sold(current.slot_id, current.admissions)
        old_slot_id = current.slot_id
        _reissue(current, units, new_slot, now)
        Order.objects.filter(pk=current.pk).update(
            slot=new_slot, tickets_sent_at=None, updated_at=now
        )
        refund = -difference
        record_event(
            current,
            "slot_changed",
            current.state,
            current.state,
            actor,
            key=key,
            from_slot=old_slot_id,
            to_slot=new_slot.pk,
            refund=str(refund),
        )
        if refund > 0:
            _refund_difference(current, refund, units[0].number)
        order_id = current.pk
        transaction.on_commit(lambda: queue_delivery(order_id))
        tell_buyer_of_change_on_commit(order_id, "slot_changed", {"refund": str(refund)})
    current.refresh_from_db()
    logger.info("order %s: moved from slot %s to %s", current.code, old_slot_id, new_slot.pk)
    return current


def _reissue(order: Order, units, slot: TimeSlot, now) -> None:
    """Old tickets revoked, new ones (new QR codes) issued for the new slot, numbered on."""
    numbers = [n for unit in units for n in unit.numbers]
    price_now = {n: unit.ticket_type.price for unit in units for n in unit.numbers}
    old = {
        t.number: t
        for t in Ticket.objects.filter(
            order_id=order.pk, number__in=numbers, state=Ticket.State.VALID
        )
    }
    if len(old) != len(numbers):
        raise OrderStateConflict()
    Ticket.objects.filter(pk__in=[t.pk for t in old.values()]).update(
        state=Ticket.State.REVOKED, revoked_at=now
    )
    last = max(Ticket.objects.filter(order_id=order.pk).values_list("number", flat=True))
    fresh = []
    for offset, number in enumerate(numbers, start=1):
        ticket = old[number]
        fresh.append(
            Ticket(
                order_id=order.pk,
                line_id=ticket.line_id,
                ticket_type_id=ticket.ticket_type_id,
                slot=slot,
                number=last + offset,
                part=ticket.part,
                parts=ticket.parts,
                price=price_now[number],
                issued_at=now,
            )
        )
    Ticket.objects.bulk_create(fresh)


def _refund_difference(order: Order, amount: Decimal, first_number: int) -> None:
    try:
        record_refund(
            order.payment,
            amount=amount,
            reason="Time slot changed: price difference",
            actor="ticketing",
            # Marked as a ticket change: the tickets were already dealt with here.
            partner_refund_id=refund_id(order.payment, f"{TICKET_CANCEL_SUFFIX}S{first_number}"),
        )
    except PaymentError as exc:
        raise OrderStateConflict(exc.message) from exc
