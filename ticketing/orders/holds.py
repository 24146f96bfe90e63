"""Holds ending: an order held past its expiry, with no payment in flight, gives its places back."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from payments import clock

from .. import inventory
from ..models import Order
from .states import State, move_order

Reason = Order.OutcomeReason


def expire_order(order_id: int) -> bool:
    """End an overdue hold without a payment in flight; True if this call expired it."""
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.filter(pk=order_id).only("slot_id", "admissions", "state").first()
        if order is None or order.state != State.HELD:
            return False
        if not move_order(
            order,
            to=State.EXPIRED,
            from_states=State.HELD,
            kind="hold_expired",
            actor="system",
            fields={"outcome_reason": Reason.HOLD_EXPIRED},
            where={"hold_expires_at__lte": now},
        ):
            # Paid, cancelled, awaiting a payment or not yet due: nothing of ours to end.
            return False
        inventory.release_hold(order.slot_id, order.admissions)
    return True


def end_hold_if_overdue(order: Order, *, now: dt.datetime | None = None) -> bool:
    """Expire `order` now if it is still held past its expiry (the sweeper would, a minute later).

    Pages that show an order call this first, so a buyer or cashier never sees places as
    reserved once the reservation has ended. True if this call expired it.
    """
    if order.state == State.HELD and order.hold_expires_at <= (now or clock.now()):
        return expire_order(order.pk)
    return False


def release_expired_holds(*, slot_id: int | None = None, limit: int = 500) -> int:
    """Expire overdue holds (the sweeper, and a sold-out slot before saying so)."""
    overdue = Order.objects.filter(state=State.HELD, hold_expires_at__lte=clock.now())
    if slot_id is not None:
        overdue = overdue.filter(slot_id=slot_id)
    ids = list(overdue.order_by("hold_expires_at").values_list("id", flat=True)[:limit])
    return sum(expire_order(order_id) for order_id in ids)
