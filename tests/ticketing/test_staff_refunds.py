"""Staff's refunds and cancels of one order in the admin, over the sandbox's real HTTP: part of
the amount, chosen tickets, the whole order; each shown first with its count and sum, each
e-mailed to the buyer once, each audited, and each within the user's permissions and limit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from payments.models import Payment, PaymentEvent, Refund
from tests.staff import (
    confirmation_fields,
    confirmed,
    offered_actions,
    role_member,
    run_action,
    run_confirmed,
    signed_in,
    staff_with,
)
from ticketing import inventory, orders
from ticketing.counter import sales
from ticketing.exceptions import InvalidRefundAmount, NotCancellableNow
from ticketing.models import Order, OrderEvent, Ticket, TillMovement
from ticketing.orders import self_service, staff
from ticketing.views.box_office import SUPERVISORS_GROUP

from ..box_office.helpers import member
from .helpers import counters
from .money_world import BUYER_EMAIL, book, revoked_uuids, set_up_world
from .staff_world import (
    ORDERS,
    PAYMENTS,
    SLOTS,
    counter_cash_sale,
    counter_shift,
    mails_about,
    order_url,
    paid_order,
    valid_numbers,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
    return set_up_world(alipay_gateway, settings)


@pytest.fixture(autouse=True)
def capacity_stays_consistent(transactional_db):
    yield
    assert inventory.check_capacity() == []


def refunds_of(order: Order) -> list[tuple[Decimal, str]]:
    return list(
        Refund.objects.filter(payment_id=order.payment_id)
        .order_by("id")
        .values_list("amount", "state")
    )


# --- Part of the amount ---------------------------------------------------------------------


def test_a_refund_by_amount_is_shown_first_then_refunded_once_and_the_tickets_stay_valid(
    world, admin_client
):
    slot = world.slot(capacity=10)
    order, payment = paid_order(world, slot, adult=3)  # CNY 240.00
    url = order_url(order, "refund-amount")

    form = admin_client.get(url)
    assert form.status_code == 200 and "CNY 240.00" in form.content.decode()
    page = admin_client.post(url, {"amount": "50.00", "reason": "Exhibit closed"})
    assert page.status_code == 200
    assert page.context["count"] == 1
    assert [(row["currency"], row["count"], row["sum"]) for row in page.context["totals"]] == [
        ("CNY", 1, "CNY 50.00")
    ]
    assert refunds_of(order) == [] and mails_about(order) == []  # nothing moved yet

    fields = confirmation_fields(page)
    answer = admin_client.post(url, fields, follow=True)
    assert answer.redirect_chain[-1][0] == order_url(order)
    assert refunds_of(order) == [(Decimal("50.00"), Refund.State.SUCCEEDED)]
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == Order.State.PAID and valid_numbers(order) == [1, 2, 3]
    assert counters(slot) == (0, 3)
    assert payment.state == Payment.State.PARTIALLY_REFUNDED
    event = OrderEvent.objects.get(order=order, kind="refunded_by_staff")
    assert event.actor == "admin:admin"
    assert event.detail["amount"] == "50.00" and event.detail["reason"] == "Exhibit closed"
    assert PaymentEvent.objects.filter(
        payment=payment, actor="ticketing: admin:admin", note__contains="Exhibit closed"
    ).exists()
    mails = mails_about(order)
    assert [m.subject for m in mails] == [f"A refund for your order {order.code}"]
    assert "CNY 50.00" in mails[0].body and "Exhibit closed" in mails[0].body

    # The confirmation posted again (a double click): nothing twice.
    admin_client.post(url, fields, follow=True)
    assert len(refunds_of(order)) == 1 and len(mails_about(order)) == 1


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        ("0", "r", "more than zero"),
        ("-5", "r", "more than zero"),
        ("abc", "r", "like 12.50"),
        ("12.345", "r", "at most 2 decimals"),
        ("80.01", "r", "At most CNY 80.00 is left"),
        ("10", "", "This field is required"),
        ("10", 'say "no"', "without double quotes"),
        ("10", "x" * 129, "at most 128"),
    ],
)
def test_a_bad_amount_or_reason_is_refused_next_to_its_field(
    world, admin_client, amount, reason, message
):
    order, _payment = paid_order(world, world.slot(), adult=1)
    answer = admin_client.post(
        order_url(order, "refund-amount"), {"amount": amount, "reason": reason}
    )
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert refunds_of(order) == []


@pytest.mark.parametrize(
    ("raw", "currency", "left", "expected"),
    [
        ("100", "JPY", Decimal("500"), Decimal("100")),
        ("1,000", "JPY", Decimal("5000"), Decimal("1000")),
        ("12.5", "CNY", Decimal("20"), Decimal("12.50")),
        ("20.00", "CNY", Decimal("20"), Decimal("20.00")),
    ],
)
def test_amounts_follow_the_currency_s_minor_units(raw, currency, left, expected):
    assert staff.clean_amount(raw, currency, left) == expected


@pytest.mark.parametrize(
    ("raw", "currency", "message"),
    [("100.5", "JPY", "JPY amounts have no fractions"), ("1.001", "USD", "at most 2 decimals")],
)
def test_a_fraction_the_currency_does_not_have_is_refused(raw, currency, message):
    with pytest.raises(InvalidRefundAmount, match=message):
        staff.clean_amount(raw, currency, Decimal("1000"))


def test_refunding_everything_left_by_amount_cancels_the_order(world, admin_client):
    slot = world.slot(capacity=10)
    order, _payment = paid_order(world, slot, adult=2)
    url = order_url(order, "refund-amount")
    page = admin_client.post(url, {"amount": "160", "reason": "Goodwill"})
    assert "the order is cancelled, its tickets revoked" in page.content.decode()
    fields = confirmation_fields(page)
    admin_client.post(url, fields, follow=True)
    # Confirmed twice (a double click): the order is no longer paid, nothing goes twice.
    again = admin_client.post(url, fields)
    assert again.status_code == 409 and "Only a paid order" in again.content.decode()
    order.refresh_from_db()
    assert order.state == Order.State.REFUNDED
    assert valid_numbers(order) == [] and counters(slot) == (0, 0)
    assert refunds_of(order) == [(Decimal("160.00"), Refund.State.SUCCEEDED)]
    assert [m.subject for m in mails_about(order)] == [f"Your order {order.code} is cancelled"]


# --- Chosen tickets ---------------------------------------------------------------------------


def test_refunding_tickets_revokes_exactly_those_and_frees_exactly_their_places(
    world, admin_client
):
    # No refund policy at all: the buyer may cancel nothing, staff override it.
    world.types["family"].refundable = False
    world.types["family"].save()
    slot = world.slot(capacity=10)
    order, payment = paid_order(world, slot, adult=2, family=1)  # 1-2 adult, 3-6 family
    assert counters(slot) == (0, 6)
    with pytest.raises(NotCancellableNow):
        self_service.quote_cancel(order, [1])
    uuids = dict(order.tickets.values_list("number", "uuid"))
    url = order_url(order, "refund-tickets")

    choices = admin_client.get(url)
    assert choices.status_code == 200 and "No. 3-6 Family" in choices.content.decode()
    # The family ticket is one choice: its four parts go together, as for the buyer.
    page = admin_client.post(url, {"tickets": ["1", "3"], "reason": "Child unwell"})
    assert page.status_code == 200
    assert "5 tickets will be refunded (5 admissions back on sale)" in page.content.decode()
    assert [(row["count"], row["sum"]) for row in page.context["totals"]] == [(1, "CNY 280.00")]
    assert valid_numbers(order) == [1, 2, 3, 4, 5, 6] and refunds_of(order) == []

    admin_client.post(url, confirmation_fields(page), follow=True)

    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert valid_numbers(order) == [2]
    revoked = order.tickets.filter(state=Ticket.State.REVOKED)
    assert sorted(revoked.values_list("number", flat=True)) == [1, 3, 4, 5, 6]
    assert order.admissions == 1 and counters(slot) == (0, 1)
    assert refunds_of(order) == [(Decimal("280.00"), Refund.State.SUCCEEDED)]
    assert Refund.objects.get(payment=payment).partner_refund_id.endswith("-TC1")
    published = revoked_uuids(Client())
    assert {str(uuids[n]) for n in (1, 3, 4, 5, 6)} <= published
    assert str(uuids[2]) not in published
    event = OrderEvent.objects.get(order=order, kind="tickets_refunded_by_staff")
    assert event.actor == "admin:admin" and event.detail["tickets"] == [1, 3, 4, 5, 6]
    mails = mails_about(order)
    assert [m.subject for m in mails] == [f"Tickets of order {order.code} refunded"]
    assert "5 tickets" in mails[0].body and "CNY 280.00" in mails[0].body
    # The places are on sale again: another buyer takes the last nine.
    assert book(world, slot, adult=9).state == Order.State.HELD


def test_refunding_every_ticket_left_cancels_the_order_in_full(world, admin_client):
    slot = world.slot(capacity=10)
    order, _payment = paid_order(world, slot, adult=1, child=1)
    confirmed(
        admin_client,
        order_url(order, "refund-tickets"),
        {"tickets": ["1", "2"], "reason": "Weather"},
    )
    order.refresh_from_db()
    assert order.state == Order.State.REFUNDED and counters(slot) == (0, 0)
    assert refunds_of(order) == [(Decimal("120.00"), Refund.State.SUCCEEDED)]
    assert [m.subject for m in mails_about(order)] == [f"Your order {order.code} is cancelled"]


def test_a_ticket_not_in_the_order_is_refused_with_a_message(world, admin_client):
    order, _payment = paid_order(world, world.slot(), adult=1)
    answer = admin_client.post(
        order_url(order, "refund-tickets"), {"tickets": ["9"], "reason": "x"}
    )
    assert answer.status_code == 400 and "valid choice" in answer.content.decode()
    assert valid_numbers(order) == [1]


# --- The whole order ---------------------------------------------------------------------------


def test_cancelling_a_paid_order_refunds_in_full_revokes_releases_and_e_mails_once(
    world, admin_client
):
    slot = world.slot(capacity=10)
    order, payment = paid_order(world, slot, adult=2)
    page = admin_client.get(order_url(order, "cancel"))
    assert page.context["totals"][0]["sum"] == "CNY 160.00"
    assert Order.objects.get(pk=order.pk).state == Order.State.PAID

    confirmed(admin_client, order_url(order, "cancel"), {}, reason="Closed for repairs")

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == Order.State.REFUNDED and payment.state == Payment.State.REFUNDED
    assert valid_numbers(order) == [] and counters(slot) == (0, 0)
    mails = mails_about(order)
    assert [m.subject for m in mails] == [f"Your order {order.code} is cancelled"]
    assert "CNY 160.00" in mails[0].body and "Closed for repairs" in mails[0].body
    cancelled = OrderEvent.objects.get(order=order, kind="cancelled")
    assert cancelled.actor == "admin:admin" and cancelled.detail["reason"] == "Closed for repairs"


def test_a_full_refund_in_the_payments_admin_unwinds_the_order_and_e_mails_once(
    world, admin_client
):
    slot = world.slot(capacity=10)
    order, payment = paid_order(world, slot, adult=1)
    run_confirmed(admin_client, PAYMENTS, "refund_in_full", payment)
    order.refresh_from_db()
    assert order.state == Order.State.REFUNDED and counters(slot) == (0, 0)
    assert len(mails_about(order)) == 1


def test_a_cash_sale_cancelled_in_the_admin_is_paid_out_at_the_counter(world, admin_client):
    shift = counter_shift()
    slot = world.slot(capacity=10)
    order = counter_cash_sale(world, shift, slot, email=BUYER_EMAIL, adult=2)
    # No payment to refund part of: the amount and ticket refunds send staff to the counter.
    refused = admin_client.get(order_url(order, "refund-amount"))
    assert refused.status_code == 409 and "refund it at the counter" in refused.content.decode()
    page = run_action(admin_client, ORDERS, "cancel_orders", order)
    assert "CNY 160.00 in cash owed at the box office" in page.content.decode()

    run_confirmed(admin_client, ORDERS, "cancel_orders", order)
    order.refresh_from_db()
    assert order.state == Order.State.REFUND_PENDING and order.refund_requested_at is not None
    assert valid_numbers(order) == [] and counters(slot) == (0, 0)
    mails = mails_about(order)
    assert len(mails) == 1 and "paid back to you at the box office" in mails[0].body

    assert orders.can_refund_at_counter(order)  # the counter's order page offers the refund
    supervisor = member(SUPERVISORS_GROUP)
    counter_refund = sales.refund(
        order, shift, actor="box-office:cashier", supervisor=supervisor, reason="cancelled"
    )
    order.refresh_from_db()
    assert order.state == Order.State.REFUNDED and counter_refund.method == "cash"
    assert TillMovement.objects.get(order=order, kind="refund").amount == Decimal("-160.00")


# --- Who may do what ---------------------------------------------------------------------------


def test_view_only_staff_get_no_money_action_and_forged_ones_change_nothing(world):
    order, _payment = paid_order(world, world.slot(), adult=1)
    viewer = signed_in(staff_with("ticketing.view_order"))
    assert offered_actions(viewer, ORDERS) == set()
    page = viewer.get(order_url(order))
    assert page.status_code == 200 and page.context["money_actions"] == []
    for what, data in [
        ("refund-amount", {"amount": "10", "reason": "x"}),
        ("refund-tickets", {"tickets": ["1"], "reason": "x"}),
        ("cancel", {}),
    ]:
        assert viewer.get(order_url(order, what)).status_code == 403
        assert viewer.post(order_url(order, what), data).status_code == 403
    run_action(viewer, ORDERS, "cancel_orders", order)
    assert refunds_of(order) == [] and valid_numbers(order) == [1]


def test_support_refunds_up_to_the_limit_and_is_refused_above_it(world, settings):
    settings.SUPPORT_REFUND_LIMIT = {"*": Decimal("500")}
    order, _payment = paid_order(world, world.slot(capacity=10), adult=8)  # CNY 640.00
    support = signed_in(role_member("Support"))
    url = order_url(order, "refund-amount")

    page = support.post(url, {"amount": "600", "reason": "Complaint"})
    assert "above your refund limit of CNY 500.00" in page.content.decode()
    assert not page.context["can_confirm"]
    forged = support.post(url, confirmation_fields_of(page))
    assert forged.status_code == 403
    assert refunds_of(order) == []

    confirmed(support, url, {"amount": "500", "reason": "Complaint"})
    assert refunds_of(order) == [(Decimal("500.00"), Refund.State.SUCCEEDED)]
    # Cancelling gives back the CNY 140.00 left: within the limit too.
    assert "1 order cancelled." in [
        str(m) for m in run_confirmed(support, ORDERS, "cancel_orders", order).context["messages"]
    ]


def test_finance_refunds_without_the_limit(world, settings):
    settings.SUPPORT_REFUND_LIMIT = {"*": Decimal("500")}
    order, _payment = paid_order(world, world.slot(capacity=10), adult=8)
    finance = signed_in(role_member("Finance"))
    assert offered_actions(finance, ORDERS) == {"cancel_orders"}
    confirmed(finance, order_url(order, "refund-amount"), {"amount": "600", "reason": "Audit"})
    assert refunds_of(order) == [(Decimal("600.00"), Refund.State.SUCCEEDED)]


def confirmation_fields_of(page) -> dict:
    """The fields a forged post would send past a page that offered no confirmation."""
    fields = {name: [value] for name, value in page.context["carry"]}
    return {**fields, "confirmed": "yes", "plan_digest": page.context["digest"]}


def test_the_buyer_is_told_in_the_order_s_language(world, admin_client):
    order, _payment = paid_order(world, world.slot(), adult=1)
    Order.objects.filter(pk=order.pk).update(language="zh-hans")
    confirmed(
        admin_client, order_url(order, "refund-amount"), {"amount": "10", "reason": "展品关闭"}
    )
    (sent,) = mails_about(order)
    assert sent.subject == f"您的订单 {order.code} 的退款"
    assert "CNY 10.00" in sent.body and "您的电子门票仍然有效。" in sent.body
    assert "原因：展品关闭" in sent.body


def test_the_confirmation_pages_read_a_selection_in_a_fixed_number_of_queries(world, admin_client):
    slot = world.slot(capacity=10)
    chosen = [paid_order(world, slot, adult=1)[0]]

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as orders_page:
            run_action(admin_client, ORDERS, "cancel_orders", *chosen)
        with CaptureQueriesContext(connection) as slot_page:
            run_action(admin_client, SLOTS, "cancel_slot_orders", slot)
        return len(orders_page), len(slot_page)

    one = queries()
    chosen += [paid_order(world, slot, adult=1)[0], book(world, slot, adult=2)]
    assert queries() == one
