"""The small world the ticketing tests book in, and ways to read it back.

`Booking` builds it on demand: `booking.slot(capacity=50)` makes a bookable slot tomorrow,
`booking.quantities(adult=2, family=1)` maps ticket type codes to the ids the services take,
`booking.order(slot, adult=1)` books through ticketing.orders.create_order. `paid_order` marks an
order paid and issues its tickets with the same function the payment receiver uses, so a test of
tickets or the gate needs no gateway.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from payments import clock
from ticketing import inventory, orders
from ticketing.etickets.faces import order_faces
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


def paid_order(booking: Booking, *, language: str = "en", **counts) -> Order:
    slot = booking.slot()
    order = orders.create_order(
        attraction=booking.attraction,
        slot=slot,
        quantities=booking.quantities(**counts),
        buyer_name="Ada Buyer",
        email="ada@example.com",
        language=language,
    )
    # What the payment receiver does on a paid payment (ticketing.orders.payment_paid).
    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(state=Order.State.PAID, paid_at=clock.now())
        inventory.confirm_hold(order.slot_id, order.admissions)
        orders._issue_tickets(order)
    order.refresh_from_db()
    return order


def tokens_of(order: Order) -> list[str]:
    return [face.token for face in order_faces(order)]


def state(order: Order) -> str:
    order.refresh_from_db()
    return order.state


def counters(slot: TimeSlot) -> tuple[int, int]:
    slot.refresh_from_db()
    return slot.held, slot.sold
