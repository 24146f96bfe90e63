"""Capacity: holds are compare-and-set, admissions (not tickets) count, holds end on time."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from ticketing import inventory, orders
from ticketing.exceptions import (
    CapacityConflict,
    InvalidBuyer,
    InvalidQuantity,
    SlotUnavailable,
    SoldOut,
)
from ticketing.models import Order, TimeSlot


def counters(slot: TimeSlot) -> tuple[int, int]:
    slot.refresh_from_db()
    return slot.held, slot.sold


def test_a_family_ticket_takes_four_places_and_an_infant_none(booking):
    slot = booking.slot(capacity=10)
    order = booking.order(slot, family=1, infant=2, adult=1)
    assert order.admissions == 5
    assert order.total == 280
    assert order.state == Order.State.HELD
    assert counters(slot) == (5, 0)


def test_the_last_places_go_to_the_first_buyer_and_the_next_is_sold_out(booking):
    slot = booking.slot(capacity=5)
    booking.order(slot, family=1)
    with pytest.raises(SoldOut) as error:
        booking.order(slot, adult=2)
    assert error.value.code == "sold_out"
    assert counters(slot) == (4, 0)
    booking.order(slot, adult=1)
    assert counters(slot) == (5, 0)
    assert Order.objects.count() == 2


def test_a_capacity_override_replaces_the_rule_capacity(booking):
    slot = booking.slot(capacity=2)
    inventory.set_capacity_override(slot.pk, 6)
    booking.order(slot, adult=6)
    assert counters(slot) == (6, 0)
    with pytest.raises(SoldOut):
        booking.order(slot, adult=1)


def test_an_override_below_what_is_held_is_refused_and_changes_nothing(booking):
    slot = booking.slot(capacity=10)
    booking.order(slot, adult=4)
    with pytest.raises(CapacityConflict):
        inventory.set_capacity_override(slot.pk, 3)
    slot.refresh_from_db()
    assert slot.capacity_override is None
    inventory.set_capacity_override(slot.pk, 4)
    slot.refresh_from_db()
    assert slot.effective_capacity == 4 and slot.places_left == 0


def test_the_database_itself_refuses_an_oversold_slot(booking):
    slot = booking.slot(capacity=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        TimeSlot.objects.filter(pk=slot.pk).update(held=4)


def test_free_tickets_alone_are_refused(booking):
    slot = booking.slot()
    with pytest.raises(InvalidQuantity):
        booking.order(slot, infant=1)
    assert counters(slot) == (0, 0)


@pytest.mark.parametrize(
    "quantities",
    [{}, {"adult": -1}, {"adult": 21}, {"adult": 15, "family": 2}],
    ids=["none", "negative", "too-many", "too-many-admissions"],
)
def test_invalid_quantities_hold_nothing(booking, quantities):
    slot = booking.slot()
    with pytest.raises(InvalidQuantity):
        orders.create_order(
            attraction=booking.attraction,
            slot=slot,
            quantities=booking.quantities(**quantities),
            buyer_name="A",
            email="a@example.com",
            language="en",
        )
    assert counters(slot) == (0, 0)


def test_unknown_or_inactive_ticket_types_are_refused(booking):
    slot = booking.slot()
    booking.types["child"].active = False
    booking.types["child"].save()
    for quantities in ({booking.types["child"].id: 1}, {999999: 1}, {"x": 1}):
        with pytest.raises(InvalidQuantity):
            orders.create_order(
                attraction=booking.attraction,
                slot=slot,
                quantities=quantities,
                buyer_name="A",
                email="a@example.com",
                language="en",
            )


@pytest.mark.parametrize(
    ("name", "email", "language", "field"),
    [
        ("", "a@example.com", "en", "buyer_name"),
        ("A", "not-an-email", "en", "email"),
        ("A", "a@example.com", "fr", "language"),
    ],
)
def test_buyer_details_are_validated(booking, name, email, language, field):
    slot = booking.slot()
    with pytest.raises(InvalidBuyer) as error:
        orders.create_order(
            attraction=booking.attraction,
            slot=slot,
            quantities=booking.quantities(adult=1),
            buyer_name=name,
            email=email,
            language=language,
        )
    assert field in error.value.fields
    assert counters(slot) == (0, 0)


def test_past_closed_and_foreign_slots_cannot_be_booked(booking, clock):
    past = booking.slot(hours_ahead=-1)
    closed = booking.slot(is_open=False)
    other = booking.slot()
    from .helpers import make_attraction

    elsewhere = make_attraction("elsewhere")
    for slot, attraction in ((past, booking.attraction), (closed, booking.attraction)):
        with pytest.raises(SlotUnavailable):
            orders.create_order(
                attraction=attraction,
                slot=slot,
                quantities=booking.quantities(adult=1),
                buyer_name="A",
                email="a@example.com",
                language="en",
            )
    with pytest.raises(SlotUnavailable):
        orders.create_order(
            attraction=elsewhere,
            slot=other,
            quantities=booking.quantities(adult=1),
            buyer_name="A",
            email="a@example.com",
            language="en",
        )


def test_an_expired_hold_returns_its_places_to_the_sweeper(booking, clock):
    slot = booking.slot(capacity=4)
    order = booking.order(slot, adult=3)
    clock.advance(14 * 60)
    assert orders.release_expired_holds() == 0
    clock.advance(61)
    assert orders.release_expired_holds() == 1
    order.refresh_from_db()
    assert order.state == Order.State.EXPIRED
    assert counters(slot) == (0, 0)
    assert orders.release_expired_holds() == 0  # idempotent


def test_a_full_slot_first_reclaims_expired_holds_before_saying_sold_out(booking, clock):
    slot = booking.slot(capacity=2)
    abandoned = booking.order(slot, adult=2)
    clock.advance(15 * 60 + 1)
    winner = booking.order(slot, adult=2)
    abandoned.refresh_from_db()
    assert abandoned.state == Order.State.EXPIRED
    assert winner.state == Order.State.HELD
    assert counters(slot) == (2, 0)


def test_hold_minutes_come_from_settings(booking, clock, settings):
    settings.TICKETING_HOLD_MINUTES = 5
    order = booking.order(booking.slot())
    assert order.hold_expires_at - clock.now() == dt.timedelta(minutes=5)


def test_cancelling_a_hold_gives_the_places_back(booking):
    slot = booking.slot(capacity=2)
    order = booking.order(slot, adult=2)
    orders.cancel_order(order, actor="test")
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED
    assert counters(slot) == (0, 0)
    assert [e.kind for e in order.events.all()] == ["created", "cancelled"]


def test_availability_per_day_and_slot_in_two_queries_at_most(
    booking, clock, django_assert_max_num_queries
):
    first = booking.slot(capacity=10)
    second = booking.slot(capacity=5)
    booking.order(first, family=1)
    for _ in range(20):
        booking.slot(capacity=3)
    day = first.local_date
    with django_assert_max_num_queries(1):
        days = inventory.availability(
            booking.attraction, day - dt.timedelta(days=1), day + dt.timedelta(days=3)
        )
    slots = {s.id: s for d in days for s in d.slots}
    assert slots[first.id].places_left == 6
    assert slots[second.id].places_left == 5
    assert sum(d.places_left for d in days) == 6 + 5 + 20 * 3
    assert sum(d.capacity for d in days) == 10 + 5 + 20 * 3


def test_availability_shows_past_and_closed_slots_as_not_bookable(booking, clock):
    past = booking.slot(hours_ahead=-2)
    closed = booking.slot(is_open=False)
    days = inventory.availability(
        booking.attraction, past.local_date - dt.timedelta(days=1), closed.local_date
    )
    slots = {s.id: s for d in days for s in d.slots}
    assert not slots[past.id].bookable and slots[past.id].places_left == 0
    assert not slots[closed.id].bookable


def test_check_capacity_finds_counters_that_disagree_with_orders(booking):
    slot = booking.slot(capacity=10)
    booking.order(slot, adult=2)
    assert inventory.check_capacity() == []
    TimeSlot.objects.filter(pk=slot.pk).update(held=5)
    problems = inventory.check_capacity()
    assert [(p.slot_id, p.held, p.expected_held) for p in problems] == [(slot.pk, 5, 2)]
    with pytest.raises(Exception, match="do not match"):
        call_command("check_capacity")
    call_command("check_capacity", "--repair")
    assert counters(slot) == (2, 0)
    assert inventory.check_capacity() == []


@pytest.mark.django_db(transaction=True)
def test_capacity_changes_refuse_to_run_outside_a_transaction(booking):
    slot = booking.slot()
    with pytest.raises(RuntimeError):
        inventory.take_hold(slot.pk, 1)


def test_the_daily_task_keeps_slots_ahead_and_reports_counter_problems(booking, caplog):
    from ticketing import tasks
    from ticketing.models import OpeningRule

    OpeningRule.objects.create(
        attraction=booking.attraction,
        weekday=0,
        opens=dt.time(9),
        closes=dt.time(10),
        capacity=5,
    )
    slot = booking.slot(capacity=3)
    from payments import clock

    today = clock.now().astimezone(booking.attraction.tz).date()
    mondays = sum((today + dt.timedelta(days=i)).weekday() == 0 for i in range(90))
    assert tasks.daily() == {"slots_created": mondays, "capacity_problems": 0}
    TimeSlot.objects.filter(pk=slot.pk).update(sold=1)
    assert tasks.daily() == {"slots_created": 0, "capacity_problems": 1}
    assert "disagree" in caplog.text
    tasks.ensure_schedules()
    tasks.ensure_schedules()
    from django_q.models import Schedule

    assert set(Schedule.objects.values_list("name", flat=True)) >= {
        "ticketing-sweep",
        "ticketing-daily",
    }


def test_a_free_order_is_paid_at_once_without_a_payment(
    booking, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from ticketing.models import TicketType

    free = TicketType.objects.create(
        attraction=booking.attraction, code="open-day", name="Open day", price=Decimal("0")
    )
    slot = booking.slot(capacity=3)
    order = orders.create_order(
        attraction=booking.attraction,
        slot=slot,
        quantities={free.id: 2},
        buyer_name="A",
        email="a@example.com",
        language="en",
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert orders.start_payment(order) is None
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.payment is None
    assert order.tickets.count() == 2 and len(queued) == 1  # the ticket e-mail
    assert counters(slot) == (0, 2)


def test_a_booking_whose_order_code_is_taken_draws_another_and_holds_once(booking, monkeypatch):
    """Codes are random (31^8): when one drawn is already taken, the booking draws again inside
    the same transaction, without a savepoint, and holds its places once."""
    slot = booking.slot(capacity=5)
    first = booking.order(slot)
    drawn = iter(first.code + "ABCDEFGH" + first.code)  # taken, then free, then (unused)
    monkeypatch.setattr(secrets, "choice", lambda alphabet: next(drawn))
    second = booking.order(slot, adult=2)
    assert second.code == "ABCDEFGH" and second.pk != first.pk
    slot.refresh_from_db()
    assert slot.held == 3
    assert Order.objects.filter(code=first.code).count() == 1
