"""Capacity: the only module that changes a slot's `held` and `sold` counters.

Every change is one compare-and-set UPDATE whose WHERE clause states the rule it protects
(`held + sold + n <= capacity`, `held >= n`), so it is correct under any concurrency on SQLite and
PostgreSQL alike: the database serialises the writes and the loser's UPDATE matches no row. Callers
run these inside `transaction.atomic()` together with the order transition they belong to; on
SQLite that transaction is BEGIN IMMEDIATE (settings), so writers queue on the busy timeout
instead of failing with "database is locked".

Counters are in admissions (a family ticket counts 4). `check_capacity()` recomputes them from the
orders (and the dearer changes of time holding places while their difference is paid) and reports
any difference (management command and property-based test).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from payments import clock

from .exceptions import CapacityConflict, SlotUnavailable, SoldOut
from .models import Attraction, Order, SlotChange, TimeSlot


def _capacity():
    return Coalesce(F("capacity_override"), F("capacity"))


def _require_atomic() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("capacity changes must run inside transaction.atomic()")


@functools.cache
def _take_hold_sql() -> str:
    """The compare-and-set of take_hold, as the ORM would write it for
    `filter(pk=, is_open=True, held__lte=capacity - sold - n).update(held=F("held") + n)`."""
    quote = connection.ops.quote_name
    c = {f.name: quote(f.column) for f in TimeSlot._meta.concrete_fields}
    template = (
        "UPDATE {table} SET {held} = {held} + %s WHERE {id} = %s AND {is_open} = %s "
        "AND {held} <= COALESCE({capacity_override}, {capacity}) - {sold} - %s"
    )
    return template.format(table=quote(TimeSlot._meta.db_table), **c)


def take_hold(slot_id: int, admissions: int) -> None:
    """Hold `admissions` places in an open slot, or raise SoldOut (nothing changed)."""
    if not hold(slot_id, admissions):
        raise_not_held(slot_id)


def hold(slot_id: int, admissions: int) -> bool:
    """take_hold that answers False instead of raising: booking raises after its transaction,
    which then needs no savepoint inside a caller's (ticketing/orders/booking.py)."""
    _require_atomic()
    if admissions < 0:
        raise ValueError("admissions must not be negative")
    # Every booking sends this statement: written once rather than built by the ORM each time,
    # which cost more than the update itself (bench/booking.py).
    with connection.cursor() as cursor:
        cursor.execute(_take_hold_sql(), [admissions, slot_id, True, admissions])
        return bool(cursor.rowcount)


def raise_not_held(slot_id: int) -> None:
    """Why hold() found no room: the slot is closed (SlotUnavailable) or full (SoldOut)."""
    if not TimeSlot.objects.filter(pk=slot_id, is_open=True).exists():
        raise SlotUnavailable()
    raise SoldOut()


def release_hold(slot_id: int, admissions: int) -> None:
    """Give held places back (hold expired, order cancelled, payment failed too late)."""
    _require_atomic()
    changed = TimeSlot.objects.filter(pk=slot_id, held__gte=admissions).update(
        held=F("held") - admissions
    )
    if not changed:
        # Only a bug elsewhere gets here; failing loudly keeps the counters honest.
        raise RuntimeError(f"slot {slot_id}: releasing {admissions} held places it does not hold")


def confirm_hold(slot_id: int, admissions: int) -> None:
    """Turn held places into sold ones (the order's payment arrived while it held them)."""
    _require_atomic()
    changed = TimeSlot.objects.filter(pk=slot_id, held__gte=admissions).update(
        held=F("held") - admissions, sold=F("sold") + admissions
    )
    if not changed:
        raise RuntimeError(f"slot {slot_id}: confirming {admissions} places it does not hold")


def take_sold(slot_id: int, admissions: int) -> bool:
    """Sell places directly (a payment that landed after its hold expired); False if full."""
    _require_atomic()
    return bool(
        TimeSlot.objects.filter(
            pk=slot_id, is_open=True, held__lte=_capacity() - F("sold") - admissions
        ).update(sold=F("sold") + admissions)
    )


def release_sold(slot_id: int, admissions: int) -> None:
    """Give sold places back (a paid order cancelled or refunded)."""
    _require_atomic()
    changed = TimeSlot.objects.filter(pk=slot_id, sold__gte=admissions).update(
        sold=F("sold") - admissions
    )
    if not changed:
        raise RuntimeError(f"slot {slot_id}: releasing {admissions} sold places it has not sold")


def set_capacity_override(slot_id: int, capacity: int | None) -> None:
    """Change one slot's capacity; never below what is already held and sold."""
    if capacity is not None and capacity < 0:
        raise CapacityConflict()
    with transaction.atomic():
        slots = TimeSlot.objects.filter(pk=slot_id)
        if capacity is None:
            slots = slots.filter(held__lte=F("capacity") - F("sold"))
        else:
            slots = slots.filter(held__lte=capacity - F("sold"))
        try:
            changed = slots.update(capacity_override=capacity)
        except IntegrityError as exc:  # the database's own not-oversold check
            raise CapacityConflict() from exc
        if not changed:
            raise CapacityConflict()


# --- Reading availability --------------------------------------------------------------------


@dataclass(frozen=True)
class SlotAvailability:
    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    places_left: int
    bookable: bool


@dataclass
class DayAvailability:
    date: dt.date
    capacity: int = 0
    places_left: int = 0
    slots: list[SlotAvailability] = field(default_factory=list)


def availability(
    attraction: Attraction, date_from: dt.date, date_to: dt.date
) -> list[DayAvailability]:
    """Per attraction-local day in [date_from, date_to]: places left and each slot's places left.

    One query for the whole range. Slots already started or closed are listed but not bookable
    and count no places. Held places of expired holds count until the sweeper returns them
    (at most a minute): availability under-promises, never over-promises.
    """
    now = clock.now()
    rows = (
        TimeSlot.objects.filter(
            attraction=attraction, local_date__gte=date_from, local_date__lte=date_to
        )
        .order_by("starts_at")
        .values_list(
            "id",
            "local_date",
            "starts_at",
            "ends_at",
            "capacity",
            "capacity_override",
            "held",
            "sold",
            "is_open",
        )
    )
    days: dict[dt.date, DayAvailability] = {}
    for slot_id, day, starts, ends, cap, override, held, sold, is_open in rows:
        capacity = cap if override is None else override
        bookable = is_open and starts > now
        left = max(capacity - held - sold, 0) if bookable else 0
        entry = days.setdefault(day, DayAvailability(date=day))
        entry.slots.append(
            SlotAvailability(slot_id, starts, ends, capacity, left, bookable and left > 0)
        )
        if bookable:
            entry.capacity += capacity
            entry.places_left += left
    return [days[day] for day in sorted(days)]


# --- Checking the counters against the rows --------------------------------------------------


@dataclass(frozen=True)
class CapacityMismatch:
    slot_id: int
    held: int
    expected_held: int
    sold: int
    expected_sold: int
    capacity: int

    def __str__(self) -> str:
        return (
            f"slot {self.slot_id}: held {self.held} (orders say {self.expected_held}), "
            f"sold {self.sold} (orders say {self.expected_sold}), capacity {self.capacity}"
        )


def _expected_counters(slot_ids: Iterable[int] | None) -> dict[int, list[int]]:
    orders = Order.objects.filter(state__in=Order.HOLDING_STATES + Order.SOLD_STATES)
    if slot_ids is not None:
        orders = orders.filter(slot_id__in=list(slot_ids))
    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = orders.values_list("slot_id", "state").annotate(n=Sum("admissions"))
    for slot_id, state, admissions in rows.order_by():
        expected[slot_id][0 if state in Order.HOLDING_STATES else 1] += admissions or 0
    # A dearer change of time holds its new places while the difference is being paid.
    changes = SlotChange.objects.filter(state__in=SlotChange.HOLDING_STATES)
    if slot_ids is not None:
        changes = changes.filter(to_slot_id__in=list(slot_ids))
    rows = changes.values_list("to_slot_id").annotate(n=Sum("admissions"))
    for slot_id, admissions in rows.order_by():
        expected[slot_id][0] += admissions or 0
    return expected


def check_capacity(slot_ids: Iterable[int] | None = None) -> list[CapacityMismatch]:
    """Slots whose counters differ from their orders, or that hold more than their capacity.

    Read in one transaction so that a booking committing in between cannot look like a mismatch.
    """
    with transaction.atomic():
        expected = _expected_counters(slot_ids)
        slots = TimeSlot.objects.all()
        if slot_ids is not None:
            slots = slots.filter(pk__in=list(slot_ids))
        else:
            # Slots with no counted orders must have zero counters: only look at those that do
            # have something, or that orders expect something of.
            slots = slots.filter(Q(held__gt=0) | Q(sold__gt=0) | Q(pk__in=list(expected)))
        problems = []
        for slot_id, held, sold, cap, override in slots.values_list(
            "id", "held", "sold", "capacity", "capacity_override"
        ):
            capacity = cap if override is None else override
            want_held, want_sold = expected.get(slot_id, (0, 0))
            if held != want_held or sold != want_sold or held + sold > capacity:
                problems.append(
                    CapacityMismatch(slot_id, held, want_held, sold, want_sold, capacity)
                )
    return problems


def repair_counters(slot_ids: Iterable[int]) -> int:
    """Set the counters of these slots to what their orders say; returns slots changed."""
    changed = 0
    with transaction.atomic():
        expected = _expected_counters(slot_ids)
        for slot_id in slot_ids:
            held, sold = expected.get(slot_id, (0, 0))
            changed += TimeSlot.objects.filter(pk=slot_id).update(held=held, sold=sold)
    return changed


def slots_on(attraction: Attraction, day: dt.date):
    """The slots of one attraction-local day, with `effective_capacity` and `places_left`."""
    return (
        TimeSlot.objects.filter(attraction=attraction, local_date=day)
        .with_capacity()
        .order_by("starts_at")
    )


__all__ = [
    "CapacityMismatch",
    "DayAvailability",
    "SlotAvailability",
    "SlotUnavailable",
    "availability",
    "check_capacity",
    "confirm_hold",
    "release_hold",
    "release_sold",
    "repair_counters",
    "set_capacity_override",
    "slots_on",
    "take_hold",
    "take_sold",
]
