"""The ticketing admin: pages render, actions call the services, domain errors become messages."""

from __future__ import annotations

import datetime as dt

import pytest

from ticketing.models import OpeningRule, Order, TimeSlot


@pytest.fixture
def staff(admin_client):
    return admin_client


def test_every_ticketing_admin_page_renders(staff, booking):
    slot = booking.slot(capacity=5)
    order = booking.order(slot, family=1)
    pages = [
        "/admin/ticketing/attraction/",
        f"/admin/ticketing/attraction/{booking.attraction.pk}/change/",
        "/admin/ticketing/attraction/add/",
        "/admin/ticketing/timeslot/",
        f"/admin/ticketing/timeslot/{slot.pk}/change/",
        "/admin/ticketing/order/",
        f"/admin/ticketing/order/{order.pk}/change/",
        "/admin/ticketing/order/?q=" + order.code,
    ]
    for page in pages:
        assert staff.get(page).status_code == 200, page


def test_the_generate_action_makes_slots(staff, booking):
    for weekday in range(7):
        OpeningRule.objects.create(
            attraction=booking.attraction,
            weekday=weekday,
            opens=dt.time(10),
            closes=dt.time(12),
            slot_minutes=60,
            capacity=9,
        )
    response = staff.post(
        "/admin/ticketing/attraction/",
        {"action": "generate_90_days", "_selected_action": [booking.attraction.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert TimeSlot.objects.filter(attraction=booking.attraction).count() == 90 * 2
    assert "180 slots created" in response.content.decode()


def test_a_capacity_override_below_the_booked_places_is_refused_with_a_message(staff, booking):
    slot = booking.slot(capacity=10)
    booking.order(slot, adult=4)
    url = f"/admin/ticketing/timeslot/{slot.pk}/change/"
    response = staff.post(url, {"capacity_override": "2"}, follow=True)
    assert response.status_code == 200
    slot.refresh_from_db()
    assert slot.capacity_override is None
    assert "cannot be" in response.content.decode()
    staff.post(url, {"capacity_override": "12"}, follow=True)
    slot.refresh_from_db()
    assert slot.capacity_override == 12 and slot.places_left == 8


def test_the_cancel_action_cancels_holds(staff, booking):
    slot = booking.slot(capacity=3)
    order = booking.order(slot, adult=3)
    staff.post(
        "/admin/ticketing/order/",
        {"action": "cancel_orders", "_selected_action": [order.pk]},
        follow=True,
    )
    order.refresh_from_db()
    slot.refresh_from_db()
    assert order.state == Order.State.CANCELLED and slot.held == 0
    assert order.events.last().actor == "admin:admin"


def test_the_override_form_explains_the_limit_next_to_the_field(staff, booking):
    slot = booking.slot(capacity=10)
    booking.order(slot, adult=4)
    response = staff.post(
        f"/admin/ticketing/timeslot/{slot.pk}/change/", {"capacity_override": "3"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert "4 places are already held or sold" in response.content.decode()
