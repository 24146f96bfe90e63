"""One Finance member in headless Chromium, in the order a working day brings them: a box-office
payment stuck in needs attention (its cancel kept failing, the buyer did pay) is taken as paid
with "Check with Alipay now" and its order gets its tickets; one ticket of that order is refunded
from the order's page; the sales report's chart then shows the day's gross, the refund and the
net. Screenshots go to test-artifacts/finance-day/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from payments.models import Payment, Refund
from payments.sandbox.trades import buyer_confirms
from tests.payments.helpers import cancel_system_error
from tests.staff import grant_sales_report, role_member
from ticketing import orders
from ticketing.models import Order, Ticket

from ..browser import MARKS, artifacts, chromium_context, expect, sign_in
from .money_world import book, set_up_world, trade
from .staff_world import order_url

pytestmark = [*MARKS, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
    # Mid-morning in Beijing (the attraction's zone), far from a day's edge in any zone used.
    clock.freeze(dt.datetime.combine(dt.date.today(), dt.time(2), dt.UTC))
    settings.PAYMENTS = {**settings.PAYMENTS, "CANCEL_MAX_ATTEMPTS": 2}
    return set_up_world(alipay_gateway, settings)


@pytest.fixture
def desktop(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", viewport={"width": 1280, "height": 900}) as ctx:
        yield ctx


def test_finance_resolves_a_stuck_payment_refunds_a_ticket_and_reads_the_report(
    world, clock, live_server, desktop
):
    order = book(world, world.slot(capacity=5, hours_ahead=30), adult=2)
    payment = orders.start_counter_payment(
        order, cancel_system_error(99), store_id="BOX", terminal_id="T1", actor="cashier"
    )
    payment.refresh_from_db()
    assert payment.state == Payment.State.NEEDS_ATTENTION
    assert buyer_confirms(trade(payment))  # the buyer did pay, unseen

    finance = role_member("Finance")
    grant_sales_report()
    sign_in(desktop, live_server.url, finance)
    folder = artifacts("finance-day")
    page = desktop.new_page()
    # The admin's first page load compiles templates and serves its static files one by one:
    # on a busy shared machine that outlasts the default 15 s.
    page.set_default_timeout(60_000)

    # (a) The stuck payment, from the admin index to Alipay's answer.
    page.goto(f"{live_server.url}/admin/")
    status = page.locator("#attention-status")
    expect(status).to_contain_text("Payments needing attention: 1")
    page.screenshot(path=str(folder / "01-index.png"), full_page=True)
    status.get_by_role("link", name="Needs attention").click()
    expect(page.locator("#attention-orders")).to_contain_text(order.code)
    page.locator("#attention-payments").get_by_role("link", name="Open the list to act").click()
    row = page.locator("#result_list tbody tr").filter(has_text=payment.partner_trans_id)
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("check_with_alipay")
    page.locator("button[name=index]").click()
    page.get_by_label("Note (why; kept in the audit trail)").fill("Buyer shows the receipt")
    page.screenshot(path=str(folder / "02-check-with-alipay.png"), full_page=True)
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.locator(".messagelist")).to_contain_text("Alipay says paid (TRADE_SUCCESS)")

    page.goto(f"{live_server.url}{order_url(order)}")
    expect(page.locator("body")).to_contain_text("Paid")
    page.screenshot(path=str(folder / "03-order-paid.png"), full_page=True)
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.tickets.count() == 2

    # (b) One of its two tickets refunded.
    page.get_by_role("link", name="Refund tickets").click()
    page.get_by_label("No. 1 Adult, 1 admission: CNY 80.00").check()
    page.get_by_label("Reason").fill("One visitor could not come")
    page.get_by_role("button", name="Next: check what happens").click()
    expect(page.get_by_test_id("confirm-count")).to_contain_text("1 ticket will be refunded")
    expect(page.get_by_test_id("total-sum")).to_have_text("CNY 80.00")
    page.screenshot(path=str(folder / "04-refund-confirm.png"), full_page=True)
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Tickets of order {order.code} refunded: CNY 80.00."
    )
    page.screenshot(path=str(folder / "05-refunded.png"), full_page=True)
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.state) == (Decimal("80.00"), Refund.State.SUCCEEDED)
    valid = order.tickets.filter(state=Ticket.State.VALID)
    assert list(valid.values_list("number", flat=True)) == [2]

    # (c) The sales report: today's bar says the gross, the refund and the net.
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Sales reports").click()
    chart = page.locator("svg#trend-cny")
    expect(chart).to_be_visible()
    today = clock.now().astimezone(world.attraction.tz).date()
    bar = chart.locator("rect").filter(
        has_text=f"{today}: net 80.00, gross 160.00, refunds 80.00 CNY"
    )
    expect(bar).to_have_count(1)
    assert bar.bounding_box()["height"] > 0
    currency = page.locator("section:has(#table-currency) tbody")
    expect(currency).to_contain_text("160.00")
    page.screenshot(path=str(folder / "06-sales-report.png"), full_page=True)
