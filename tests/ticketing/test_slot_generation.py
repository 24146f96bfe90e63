"""Slot generation from opening rules: weekdays, validity, closed and special days, DST."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from ticketing.models import ClosedDay, OpeningRule, Order, SpecialOpening, TimeSlot
from ticketing.slot_generation import generate_for, generate_slots

from .helpers import make_attraction

MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def garden(db):
    attraction = make_attraction("garden", timezone="Asia/Shanghai")
    for weekday in range(5):  # Monday to Friday, 09:00-12:00 hourly, 20 places
        OpeningRule.objects.create(
            attraction=attraction,
            weekday=weekday,
            opens=dt.time(9),
            closes=dt.time(12),
            slot_minutes=60,
            capacity=20,
        )
    return attraction


def local_starts(attraction, day):
    return [
        s.starts_at.astimezone(attraction.tz).strftime("%H:%M")
        for s in TimeSlot.objects.filter(attraction=attraction, local_date=day).order_by(
            "starts_at"
        )
    ]


def test_weekly_rules_make_slots_on_their_weekdays_in_local_time(garden):
    result = generate_for(garden, 7, start=MONDAY)
    assert result.created == 5 * 3
    assert local_starts(garden, MONDAY) == ["09:00", "10:00", "11:00"]
    assert local_starts(garden, MONDAY + dt.timedelta(days=5)) == []  # Saturday
    first = TimeSlot.objects.filter(attraction=garden).order_by("starts_at").first()
    # 09:00 in Shanghai is 01:00 UTC; slots are stored aware, in UTC.
    assert first.starts_at == dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
    assert first.ends_at - first.starts_at == dt.timedelta(hours=1)
    assert first.capacity == 20 and first.local_date == MONDAY


def test_a_slot_that_would_end_after_closing_is_not_made(garden):
    OpeningRule.objects.filter(attraction=garden).update(slot_minutes=90)
    generate_for(garden, 1, start=MONDAY)
    assert local_starts(garden, MONDAY) == ["09:00", "10:30"]


def test_generating_twice_creates_nothing_new(garden):
    generate_for(garden, 14, start=MONDAY)
    again = generate_for(garden, 14, start=MONDAY)
    assert again.created == 0
    assert TimeSlot.objects.filter(attraction=garden).count() == 10 * 3


def test_rules_apply_only_within_their_validity(garden):
    OpeningRule.objects.filter(attraction=garden, weekday=0).update(
        valid_from=MONDAY + dt.timedelta(days=7)
    )
    generate_for(garden, 14, start=MONDAY)
    assert local_starts(garden, MONDAY) == []
    assert len(local_starts(garden, MONDAY + dt.timedelta(days=7))) == 3


def test_a_closed_day_has_no_bookable_slots_and_reopens_when_removed(garden):
    tuesday = MONDAY + dt.timedelta(days=1)
    generate_for(garden, 3, start=MONDAY)
    closed = ClosedDay.objects.create(attraction=garden, date=tuesday)
    result = generate_for(garden, 3, start=MONDAY)
    assert result.closed == 3
    assert not TimeSlot.objects.filter(local_date=tuesday, is_open=True).exists()
    closed.delete()
    assert generate_for(garden, 3, start=MONDAY).reopened == 3


def test_a_closed_day_known_in_advance_gets_no_slots(garden):
    ClosedDay.objects.create(attraction=garden, date=MONDAY)
    generate_for(garden, 1, start=MONDAY)
    assert local_starts(garden, MONDAY) == []


def test_a_special_opening_replaces_the_weekly_hours(garden):
    SpecialOpening.objects.create(
        attraction=garden,
        date=MONDAY,
        opens=dt.time(18),
        closes=dt.time(20),
        slot_minutes=30,
        capacity=7,
    )
    saturday = MONDAY + dt.timedelta(days=5)
    SpecialOpening.objects.create(
        attraction=garden, date=saturday, opens=dt.time(10), closes=dt.time(11), capacity=3
    )
    generate_for(garden, 6, start=MONDAY)
    assert local_starts(garden, MONDAY) == ["18:00", "18:30", "19:00", "19:30"]
    assert local_starts(garden, saturday) == ["10:00"]
    assert set(TimeSlot.objects.filter(local_date=MONDAY).values_list("capacity", flat=True)) == {7}


def test_a_closed_day_wins_over_a_special_opening(garden):
    SpecialOpening.objects.create(
        attraction=garden, date=MONDAY, opens=dt.time(18), closes=dt.time(20), capacity=7
    )
    ClosedDay.objects.create(attraction=garden, date=MONDAY)
    generate_for(garden, 1, start=MONDAY)
    assert local_starts(garden, MONDAY) == []


def test_local_times_in_a_dst_gap_are_skipped(db):
    paris = make_attraction("paris", timezone="Europe/Paris", currency="EUR")
    spring_forward = dt.date(2027, 3, 28)  # 02:00 -> 03:00, a Sunday
    OpeningRule.objects.create(
        attraction=paris,
        weekday=spring_forward.weekday(),
        opens=dt.time(1),
        closes=dt.time(5),
        slot_minutes=60,
        capacity=5,
    )
    generate_for(paris, 1, start=spring_forward)
    # 02:00 does not exist that night; the 01:00 slot would end at the non-existent 02:00.
    assert local_starts(paris, spring_forward) == ["03:00", "04:00"]


def test_slots_with_orders_survive_a_closed_day(garden, clock):
    from .helpers import Booking

    clock.freeze(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    generate_for(garden, 1, start=MONDAY)
    booking = Booking(garden)
    slot = TimeSlot.objects.filter(local_date=MONDAY).first()
    order = booking.order(slot, adult=2)
    ClosedDay.objects.create(attraction=garden, date=MONDAY)
    generate_for(garden, 1, start=MONDAY)
    slot.refresh_from_db()
    assert not slot.is_open and slot.held == 2
    assert Order.objects.get(pk=order.pk).slot_id == slot.pk


def test_the_command_generates_for_every_active_attraction(garden, clock):
    clock.freeze(dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC))  # 20:00 Sunday in Shanghai
    make_attraction("closed-for-sale", active=False)
    call_command("generate_slots", "--days", "7")
    assert TimeSlot.objects.count() == 15
    assert generate_slots(7).created == 0


def test_the_command_refuses_nonsense(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("generate_slots", "--days", "0")
    with pytest.raises(CommandError):
        call_command("generate_slots", "--attraction", "nope")
