"""Catalogue fixtures of the ticketing tests: an attraction with the usual ticket types and slots.

`booking` builds a small world on demand: `booking.slot(capacity=50)` makes a bookable slot
tomorrow, `booking.quantities(adult=2, family=1)` maps ticket type codes to the ids the services
take, `booking.order(slot, adult=1)` books through ticketing.orders.create_order.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from payments import clock
from ticketing import orders
from ticketing.models import Attraction, Order, TicketType, TimeSlot

TYPES = {
    # code: (price, admissions)
    "adult": ("80.00", 1),
    "child": ("40.00", 1),
    "senior": ("40.00", 1),
    "family": ("200.00", 4),
    "infant": ("0.00", 0),
}


class Booking:
    def __init__(self, attraction: Attraction):
        self.attraction = attraction
        self.types = {
            code: TicketType.objects.create(
                attraction=attraction,
                code=code,
                name=code.title(),
                name_zh=f"{code}-zh",
                price=Decimal(price),
                admissions=admissions,
                sort_order=index,
            )
            for index, (code, (price, admissions)) in enumerate(TYPES.items())
        }
        self._next_start = None

    def slot(self, capacity: int = 50, *, hours_ahead: float | None = None, **fields) -> TimeSlot:
        if hours_ahead is None:
            base = self._next_start or (clock.now() + dt.timedelta(days=1)).replace(
                minute=0, second=0, microsecond=0
            )
            starts = base
            self._next_start = base + dt.timedelta(hours=1)
        else:
            starts = clock.now() + dt.timedelta(hours=hours_ahead)
        return TimeSlot.objects.create(
            attraction=self.attraction,
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            local_date=starts.astimezone(self.attraction.tz).date(),
            capacity=capacity,
            **fields,
        )

    def quantities(self, **counts: int) -> dict[int, int]:
        return {self.types[code].id: count for code, count in counts.items()}

    def order(self, slot: TimeSlot, *, email: str = "buyer@example.com", **counts) -> Order:
        return orders.create_order(
            attraction=self.attraction,
            slot=slot,
            quantities=self.quantities(**(counts or {"adult": 1})),
            buyer_name="Ada Buyer",
            email=email,
            language="en",
        )


def make_attraction(slug: str = "test-garden", **fields) -> Attraction:
    values = {
        "name": "Test Garden",
        "name_zh": "测试花园",
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
        **fields,
    }
    return Attraction.objects.create(slug=slug, **values)


@pytest.fixture
def booking(db) -> Booking:
    return Booking(make_attraction())
