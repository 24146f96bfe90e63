"""A small catalogue for the shop's tests: a Tokyo attraction selling in yen, slots for 3 weeks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from payments import clock
from ticketing.models import Attraction, OpeningRule, TicketType, TimeSlot
from ticketing.slot_generation import generate_for


@pytest.fixture
def attraction(db):
    attraction = Attraction.objects.create(
        slug="tokyo-garden",
        name="Tokyo Garden",
        name_zh="东京庭园",
        description="A quiet garden in the middle of the city.",
        description_zh="城市中心的宁静庭园。",
        address="1-1 Chiyoda, Tokyo",
        timezone="Asia/Tokyo",
        currency="JPY",
    )
    for weekday in range(7):
        OpeningRule.objects.create(
            attraction=attraction,
            weekday=weekday,
            opens=dt.time(9, 0),
            closes=dt.time(17, 0),
            slot_minutes=60,
            capacity=20,
        )
    generate_for(attraction, 21)
    return attraction


@pytest.fixture
def ticket_types(attraction):
    return {
        "adult": TicketType.objects.create(
            attraction=attraction, code="adult", name="Adult", name_zh="成人", price=Decimal("2000")
        ),
        "child": TicketType.objects.create(
            attraction=attraction,
            code="child",
            name="Child",
            name_zh="儿童",
            price=Decimal("1000"),
            sort_order=1,
        ),
        "family": TicketType.objects.create(
            attraction=attraction,
            code="family",
            name="Family (4)",
            name_zh="家庭票（4人）",
            price=Decimal("5500"),
            admissions=4,
            sort_order=2,
        ),
    }


@pytest.fixture
def tomorrow_slot(attraction):
    """The first slot of tomorrow (Tokyo time): bookable whatever the hour of the test run."""
    tomorrow = clock.now().astimezone(attraction.tz).date() + dt.timedelta(days=1)
    return TimeSlot.objects.filter(attraction=attraction, local_date=tomorrow).order_by(
        "starts_at"
    )[0]


@pytest.fixture
def shop_gateway(alipay_gateway, poller_elsewhere):
    """settings.ALIPAY pointed at the sandbox on the live server, with the poller kept out."""
    return alipay_gateway
