"""The counter's cash and shift rules (ticketing.counter), without a gateway: cash needs none.

No sale outside an open shift; expected cash is the float plus cash sales minus cash refunds;
a variance over the threshold needs a supervisor (never the cashier) and a note; two tills'
shifts never mix; the Z report is read from the records.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from ticketing import orders
from ticketing.counter import reports, sales, shifts
from ticketing.exceptions import (
    ApprovalNeeded,
    InvalidCash,
    OtherShift,
    SelfApproval,
    ShiftConflict,
    SlotUnavailable,
)
from ticketing.models import Order, Shift, ShiftEvent, Ticket, Till, TillMovement

from ..ticketing.helpers import counters, state


@pytest.fixture
def world(booking, clock, settings):
    settings.BOX_OFFICE_VARIANCE_THRESHOLD = "5"
    return booking


def user(name: str) -> User:
    return User.objects.create_user(name, password="pw-1234-abcd")


def open_on(name: str, cashier: User, float_: str = "200.00") -> Shift:
    till = Till.objects.get_or_create(name=name)[0]
    return shifts.open_shift(
        till=till, cashier=cashier, currency="CNY", opening_float=float_, actor=cashier.username
    )


def sell(world, shift: Shift, slot, **counts) -> Order:
    return sales.book(
        shift,
        attraction=world.attraction,
        slot=slot,
        quantities=world.quantities(**(counts or {"adult": 1})),
        buyer_name="",
        email="",
        language="en",
        actor="box-office:test",
    )


def test_a_cash_sale_pays_the_order_issues_tickets_and_fills_the_drawer(world):
    cashier = user("mei")
    shift = open_on("Counter 1", cashier)
    slot = world.slot(capacity=5)
    order = sell(world, shift, slot, adult=2)
    assert order.buyer_name == ""  # a walk-in is no "Box office"
    movement = sales.pay_cash(order, shift, "200", actor="box-office:mei")
    assert (movement.tendered, movement.change) == (Decimal("200.00"), Decimal("40.00"))
    assert state(order) == Order.State.PAID
    assert Ticket.objects.filter(order=order).count() == 2
    assert counters(slot) == (0, 2)
    assert order.counter_sale.method == "cash" and order.payment is None
    assert ShiftEvent.objects.filter(shift=shift, kind="cash_sale").exists()
    # Paying twice changes nothing.
    with pytest.raises(Exception):  # noqa: B017 - OrderStateConflict, and no second movement
        sales.pay_cash(order, shift, "200", actor="box-office:mei")
    assert TillMovement.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("tendered", ["159.99", "-1", "abc", "1.234", "", "NaN", "1e9"])
def test_cash_that_is_not_enough_or_not_an_amount_changes_nothing(world, tendered):
    shift = open_on("Counter 1", user("mei"))
    order = sell(world, shift, world.slot(capacity=5), adult=2)
    with pytest.raises(InvalidCash):
        sales.pay_cash(order, shift, tendered, actor="x")
    assert state(order) == Order.State.HELD
    assert not TillMovement.objects.filter(order=order).exists()


def test_no_sale_and_no_cash_in_a_closed_shift(world):
    cashier = user("mei")
    shift = open_on("Counter 1", cashier)
    order = sell(world, shift, world.slot(capacity=5))
    shifts.close_shift(shift, counted={"100.00": 2}, actor="mei")
    with pytest.raises(ShiftConflict):
        sell(world, shift, world.slot(capacity=5))
    with pytest.raises(ShiftConflict):
        sales.pay_cash(order, shift, "100", actor="x")
    assert shifts.current_shift(cashier) is None
    assert state(order) == Order.State.HELD


def test_expected_cash_is_the_float_plus_cash_sales_minus_cash_refunds(world):
    cashier, boss = user("mei"), user("boss")
    shift = open_on("Counter 1", cashier, "150.50")
    slot = world.slot(capacity=10)
    first = sell(world, shift, slot, adult=2)  # 160
    second = sell(world, shift, slot, child=1)  # 40
    sales.pay_cash(first, shift, "200", actor="mei")
    sales.pay_cash(second, shift, "50", actor="mei")
    refund = sales.refund(second, shift, actor="mei", supervisor=boss, reason="changed mind")
    assert refund.method == "cash" and refund.amount == Decimal("40.00")
    assert state(second) == Order.State.REFUNDED
    assert not Ticket.objects.filter(order=second, state=Ticket.State.VALID).exists()
    assert counters(slot) == (0, 2)
    assert shifts.expected_cash(shift) == Decimal("150.50") + 160 + 40 - 40
    closed = shifts.close_shift(
        shift, counted={"100.00": 2, "50.00": 2, "10.00": 1, "0.50": 1}, actor="mei"
    )
    assert closed.state == Shift.State.CLOSED
    assert (closed.expected_cash, closed.counted_cash, closed.variance) == (
        Decimal("310.50"),
        Decimal("310.50"),
        Decimal("0.00"),
    )
    report = reports.z_report([closed])
    assert report.sales["cash"].amount == Decimal("200.00") and report.sales["cash"].count == 2
    assert report.refunds["cash"].amount == Decimal("40.00")
    assert report.expected_cash == Decimal("310.50") and report.variance == 0
    assert report.by_ticket_type["Adult"].count == 2


def test_a_variance_over_the_threshold_needs_a_supervisor_and_a_note(world):
    cashier, boss = user("mei"), user("boss")
    shift = open_on("Counter 1", cashier, "100.00")
    sales.pay_cash(sell(world, shift, world.slot(capacity=5)), shift, "80", actor="mei")
    short = {"100.00": 1, "50.00": 1, "20.00": 1}  # 170 of 180 expected
    assert shifts.count_drawer(shift, short).variance == Decimal("-10.00")
    with pytest.raises(ApprovalNeeded):
        shifts.close_shift(shift, counted=short, actor="mei")
    with pytest.raises(ApprovalNeeded):
        shifts.close_shift(shift, counted=short, actor="mei", supervisor=boss)  # no note
    with pytest.raises(SelfApproval):
        shifts.close_shift(shift, counted=short, actor="mei", supervisor=cashier, note="?")
    assert Shift.objects.get(pk=shift.pk).state == Shift.State.OPEN
    closed = shifts.close_shift(
        shift, counted=short, actor="mei", supervisor=boss, note="10 given as change twice"
    )
    assert closed.approved_by == "boss" and closed.variance == Decimal("-10.00")
    # Within the threshold no approval is asked for.
    other = open_on("Counter 1", cashier, "100.00")
    assert shifts.close_shift(other, counted={"100.00": 1, "1.00": 4}, actor="mei").variance == 4


def test_a_supervisor_cannot_approve_a_refund_in_their_own_shift(world):
    boss = user("boss")
    shift = open_on("Counter 1", boss)
    order = sell(world, shift, world.slot(capacity=5))
    sales.pay_cash(order, shift, "80", actor="boss")
    with pytest.raises(SelfApproval):
        sales.refund(order, shift, actor="boss", supervisor=boss, reason="")
    assert state(order) == Order.State.PAID


def test_two_tills_shifts_never_mix(world):
    mei, jun = user("mei"), user("jun")
    one = open_on("Counter 1", mei, "100.00")
    two = open_on("Counter 2", jun, "50.00")
    with pytest.raises(ShiftConflict):
        open_on("Counter 1", jun)  # the till has an open shift
    with pytest.raises(ShiftConflict):
        open_on("Counter 3", mei)  # the cashier has an open shift
    slot = world.slot(capacity=10)
    ours = sell(world, one, slot, adult=1)
    theirs = sell(world, two, slot, child=1)
    with pytest.raises(OtherShift):
        sales.pay_cash(ours, two, "80", actor="jun")
    with pytest.raises(OtherShift):
        sales.cancel(ours, two, actor="jun")
    sales.pay_cash(ours, one, "100", actor="mei")
    sales.pay_cash(theirs, two, "40", actor="jun")
    assert shifts.expected_cash(one) == Decimal("180.00")
    assert shifts.expected_cash(two) == Decimal("90.00")
    report_one, report_two = reports.z_report([one]), reports.z_report([two])
    assert report_one.sales["cash"].amount == 80 and report_two.sales["cash"].amount == 40
    assert set(report_one.by_ticket_type) == {"Adult"}
    assert set(report_two.by_ticket_type) == {"Child"}


def test_a_cancelled_sale_is_a_void_in_the_z_report(world):
    shift = open_on("Counter 1", user("mei"))
    slot = world.slot(capacity=5)
    order = sell(world, shift, slot, adult=3)
    sales.cancel(order, shift, actor="mei")
    assert state(order) == Order.State.CANCELLED and counters(slot) == (0, 0)
    report = reports.z_report([shift])
    assert (report.voids.count, report.voids.amount) == (1, Decimal("240.00"))
    assert report.gross_sales == 0


def test_the_box_office_sells_a_started_slot_until_it_ends_the_shop_does_not(world, clock):
    shift = open_on("Counter 1", user("mei"))
    slot = world.slot(capacity=5, hours_ahead=-0.5)  # started half an hour ago, ends in 30 min
    assert list(orders.bookable_slots(world.attraction, slot.local_date, "box_office")) == [slot]
    assert list(orders.bookable_slots(world.attraction, slot.local_date)) == []
    with pytest.raises(SlotUnavailable):
        world.order(slot, adult=1)
    order = sell(world, shift, slot, adult=1)
    assert order.state == Order.State.HELD
    clock.advance(dt.timedelta(minutes=31).total_seconds())
    with pytest.raises(SlotUnavailable):
        sell(world, shift, slot, adult=1)


def test_jpy_has_no_fractions(world):
    from ticketing.counter.denominations import count_total, parse_amount

    assert parse_amount("1000", "JPY") == Decimal("1000")
    with pytest.raises(InvalidCash):
        parse_amount("1000.5", "JPY")
    assert count_total({"1000": 3, "500": "1"}, "JPY")[1] == Decimal("3500")
    with pytest.raises(InvalidCash):
        count_total({"0.50": 1}, "JPY")


def test_a_walk_in_with_an_e_mail_is_greeted_without_a_made_up_name(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    shift = open_on("Counter 1", user("mei"))
    order = sales.book(
        shift,
        attraction=world.attraction,
        slot=world.slot(capacity=5),
        quantities=world.quantities(adult=1),
        buyer_name="",
        email="walkin@example.com",
        language="en",
        actor="box-office:mei",
    )
    with django_capture_on_commit_callbacks(execute=True):
        sales.pay_cash(order, shift, "80", actor="box-office:mei")
    [message] = mailoutbox
    assert message.body.startswith("Hello,")
    assert "Box office" not in message.body and "Dear" not in message.body


def test_the_z_report_reads_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    shift = open_on("Counter 1", user("mei"))
    slot = world.slot(capacity=50)
    for _sale in range(6):
        sales.pay_cash(sell(world, shift, slot, adult=1, child=1), shift, "120", actor="mei")
    sales.cancel(sell(world, shift, slot), shift, actor="mei")
    with django_assert_max_num_queries(6):
        report = reports.z_report([shift])
    assert report.sales["cash"].count == 6 and report.voids.count == 1
    assert report.by_ticket_type["Child"].count == 6
