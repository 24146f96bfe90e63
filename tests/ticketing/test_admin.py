"""The ticketing admin: pages render, actions call the services, domain errors become messages,
and each action runs only for staff holding its permission."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission

from payments.models import Payment
from tests.payments.helpers import SUCCESS
from tests.staff import (
    codenames,
    messages_of,
    offered_actions,
    role_member,
    run_confirmed,
    run_role_migration,
    signed_in,
    staff_with,
)
from ticketing import orders
from ticketing.models import OpeningRule, Order, OrderEvent, TimeSlot

ORDERS = "/admin/ticketing/order/"
ATTRACTIONS = "/admin/ticketing/attraction/"

SUPPORT = {
    "ticketing.view_order",
    "ticketing.view_orderline",
    "ticketing.view_ticket",
    "ticketing.view_orderevent",
    "ticketing.cancel_order",
    "payments.view_payment",
    "payments.view_paymentevent",
    "payments.view_gatewayexchange",
    "payments.view_refund",
    "payments.cancel_payment",
    "payments.refund_payment",
}


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


def open_every_day(booking) -> None:
    for weekday in range(7):
        OpeningRule.objects.create(
            attraction=booking.attraction,
            weekday=weekday,
            opens=dt.time(10),
            closes=dt.time(12),
            slot_minutes=60,
            capacity=9,
        )


def test_the_generate_action_makes_slots(staff, booking):
    open_every_day(booking)
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


def test_the_cancel_action_cancels_holds_once_confirmed(staff, booking):
    slot = booking.slot(capacity=3)
    order = booking.order(slot, adult=3)
    page = staff.post(ORDERS, {"action": "cancel_orders", "_selected_action": [order.pk]})
    assert page.status_code == 200 and page.context["count"] == 1
    order.refresh_from_db()
    assert order.state == Order.State.HELD  # nothing moves before the confirmation
    run_confirmed(staff, ORDERS, "cancel_orders", order)
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


def run_action(client, url: str, action: str, *objects):
    return client.post(
        url, {"action": action, "_selected_action": [o.pk for o in objects]}, follow=True
    )


def test_view_only_staff_are_offered_no_ticketing_action_and_forged_ones_change_nothing(booking):
    open_every_day(booking)
    slot = booking.slot(capacity=3)
    order = booking.order(slot, adult=2)
    events = OrderEvent.objects.count()
    viewer = signed_in(staff_with("ticketing.view_order", "ticketing.view_attraction"))
    assert offered_actions(viewer, ORDERS) == set()
    assert offered_actions(viewer, ATTRACTIONS) == set()

    assert run_action(viewer, ORDERS, "cancel_orders", order).status_code == 200
    assert (
        run_action(viewer, ATTRACTIONS, "generate_90_days", booking.attraction).status_code == 200
    )

    order.refresh_from_db()
    slot.refresh_from_db()
    assert order.state == Order.State.HELD and slot.held == 2
    assert OrderEvent.objects.count() == events
    assert list(TimeSlot.objects.all()) == [slot]


def test_support_cancel_orders_and_cannot_generate_slots(booking):
    open_every_day(booking)
    slot = booking.slot(capacity=3)
    order = booking.order(slot, adult=2)
    member = role_member("Support")
    support = signed_in(member)
    assert offered_actions(support, ORDERS) == {"cancel_orders"}
    assert support.get(ATTRACTIONS).status_code == 403
    page = support.get(f"{ORDERS}{order.pk}/change/")
    assert page.status_code == 200 and "Adult" in page.content.decode()  # its lines inline

    assert "1 order cancelled." in messages_of(
        run_confirmed(support, ORDERS, "cancel_orders", order)
    )
    order.refresh_from_db()
    slot.refresh_from_db()
    assert order.state == Order.State.CANCELLED and slot.held == 0
    assert order.events.last().actor == f"admin:{member.username}"


def test_generating_slots_needs_the_slot_permissions(booking):
    open_every_day(booking)
    planner = signed_in(
        staff_with(
            "ticketing.view_attraction", "ticketing.add_timeslot", "ticketing.change_timeslot"
        )
    )
    assert offered_actions(planner, ATTRACTIONS) == {"generate_90_days"}
    run_action(planner, ATTRACTIONS, "generate_90_days", booking.attraction)
    assert TimeSlot.objects.filter(attraction=booking.attraction).count() == 90 * 2


def test_view_only_staff_cannot_save_a_capacity_override(booking):
    slot = booking.slot(capacity=10)
    viewer = signed_in(staff_with("ticketing.view_timeslot"))
    url = f"/admin/ticketing/timeslot/{slot.pk}/change/"
    assert viewer.get(url).status_code == 200
    assert viewer.post(url, {"capacity_override": "12"}).status_code == 403
    slot.refresh_from_db()
    assert slot.capacity_override is None


def test_orders_are_read_only_even_for_superusers(staff, booking):
    order = booking.order(booking.slot(capacity=3), adult=1)
    url = f"/admin/ticketing/order/{order.pk}/change/"
    assert staff.get(url).status_code == 200
    assert staff.post(url, {}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_paid_order_refunds_it_so_it_needs_the_refund_permission(
    alipay_gateway, settings, clock, booking, mailoutbox
):
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    slot = booking.slot(capacity=3)
    order = booking.order(slot, adult=1)
    payment = orders.start_counter_payment(
        order, SUCCESS, store_id="S1", terminal_id="R1", actor="cashier"
    )
    order.refresh_from_db()
    assert order.state == Order.State.PAID

    clerk = signed_in(staff_with("ticketing.view_order", "ticketing.cancel_order"))
    page = run_action(clerk, ORDERS, "cancel_orders", order)
    assert "refund permission" in page.content.decode()
    assert not page.context["can_confirm"]
    answer = run_confirmed(clerk, ORDERS, "cancel_orders", order)
    assert answer.status_code == 200
    order.refresh_from_db()
    assert order.state == Order.State.PAID

    run_confirmed(signed_in(role_member("Support")), ORDERS, "cancel_orders", order)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == Order.State.REFUNDED
    assert payment.state == Payment.State.REFUNDED


# ticketing 0017 adds the staff refunds to the role (within the support limit).
SUPPORT_REFUNDS = {
    "ticketing.refund_order_amount",
    "ticketing.refund_order_tickets",
    "ticketing.view_timeslot",
    "ticketing.cancel_slot",
    "ticketing.view_slotcancellation",
    "ticketing.view_slotcancellationorder",
}


def test_migrate_makes_the_support_group_with_exactly_its_permissions(db):
    # ticketing 0013 adds the sales report to the role.
    assert codenames(Group.objects.get(name="Support")) == {
        *SUPPORT,
        *SUPPORT_REFUNDS,
        "ticketing.view_sales_report",
    }


def test_the_support_group_gets_permissions_that_do_not_exist_yet_when_it_migrates(db):
    # As on a fresh database, where Django adds permissions only after all migrations ran.
    Permission.objects.filter(
        codename__in=["cancel_order", "cancel_payment", "refund_payment"]
    ).delete()
    Group.objects.filter(name="Support").delete()
    assert codenames(run_role_migration("Support")) == SUPPORT | SUPPORT_REFUNDS
