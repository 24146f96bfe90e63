"""Moving a paid order's tickets to another time slot: what one change of time does, in the
caller's transaction (which holds the order's payments' and the order's row locks).

Used at once for a change that costs the same or less (ticketing.orders.rebooking) and, for a
dearer one, when its difference is paid (ticketing.orders.slot_changes). Either way the new places
are taken and the old ones released, the old tickets revoked and new ones (new QR codes) issued,
in one transaction: a gate never sees both sets valid, nor neither.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock

from .. import inventory
from ..exceptions import NotChangeableNow, OrderStateConflict, SlotUnavailable, SoldOut
from ..models import Order, Ticket, TimeSlot
from . import policy
from .self_service import Unit, valid_units
from .states import State
from .tickets import queue_delivery


@dataclass(frozen=True)
class ChangeQuote:
    """What moving the order's valid tickets to `slot` costs now (+: the buyer pays more)."""

    slot: TimeSlot
    units: tuple[Unit, ...]
    # Today's price of each ticket moved, by number: what the new tickets will carry.
    prices: dict[int, Decimal]
    difference: Decimal
    currency: str

    @property
    def numbers(self) -> list[int]:
        return [n for unit in self.units for n in unit.numbers]


def quote_change(order: Order, slot_id: int, now: dt.datetime | None = None) -> ChangeQuote:
    """Check that the order may move to `slot_id` now, and price it; raises when it may not.

    Places are not checked here: taking them is (SoldOut), in the transaction that needs them.
    """
    now = now or clock.now()
    if order.state != State.PAID:
        raise OrderStateConflict(_("Only a paid order can change its time slot."))
    rules = policy.policy_for(order.attraction)
    if not policy.may_change(rules, order.slot.starts_at, now):
        raise NotChangeableNow()
    slot = TimeSlot.objects.filter(pk=slot_id, attraction_id=order.attraction_id).first()
    if (
        slot is None
        or slot.pk == order.slot_id
        or not slot.is_open
        or not policy.may_change(rules, slot.starts_at, now)
    ):
        raise SlotUnavailable()
    units = valid_units(order)
    if not units or Ticket.objects.filter(order_id=order.pk, state=Ticket.State.USED).exists():
        raise OrderStateConflict(_("These tickets can no longer be moved."))
    return ChangeQuote(
        slot=slot,
        units=tuple(units),
        prices={n: unit.ticket_type.price for unit in units for n in unit.numbers},
        difference=sum((u.ticket_type.price - u.price for u in units), Decimal("0")),
        currency=order.currency,
    )


def move_tickets(
    order: Order,
    slot: TimeSlot,
    numbers: list[int],
    prices: dict[int, Decimal],
    *,
    places_held: bool,
    now: dt.datetime,
) -> int:
    """Take the new places (`places_held`: turn the change's hold on them into sold ones), give
    the old ones back, revoke tickets `numbers` and issue their successors at `prices`, and point
    the order at `slot`. Returns the slot left. Raises SoldOut, OrderStateConflict."""
    if places_held:
        inventory.confirm_hold(slot.pk, order.admissions)
    elif not inventory.take_sold(slot.pk, order.admissions):
        raise SoldOut()
    old_slot_id = order.slot_id
    inventory.release_sold(old_slot_id, order.admissions)
    _reissue(order, numbers, prices, slot, now)
    Order.objects.filter(pk=order.pk).update(slot=slot, tickets_sent_at=None, updated_at=now)
    order_id = order.pk
    # The new tickets (new QR codes) are e-mailed again: the first e-mail's no longer admit.
    transaction.on_commit(lambda: queue_delivery(order_id))
    return old_slot_id


def _reissue(
    order: Order, numbers: list[int], prices: dict[int, Decimal], slot: TimeSlot, now
) -> None:
    """Old tickets revoked, new ones issued for the new slot, numbered on."""
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
                price=prices[number],
                issued_at=now,
            )
        )
    Ticket.objects.bulk_create(fresh)
