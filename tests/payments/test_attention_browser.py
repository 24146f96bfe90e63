"""A Finance (and Support) user resolves a stuck payment in headless Chromium: the admin index
says what needs attention, the "Needs attention" page lists it, and "Check with Alipay now" (with
a note) takes the payment the buyer did confirm as paid, so its order gets its tickets.
Screenshots of each step go to test-artifacts/attention/ for a person to look at."""

from __future__ import annotations

import pytest

from payments.models import Payment
from payments.sandbox.trades import buyer_confirms
from tests.staff import role_member, run_role_migration
from tests.ticketing.helpers import Booking, make_attraction
from ticketing import orders
from ticketing.models import Order

from ..browser import MARKS, artifacts, chromium_context, expect, sign_in
from .helpers import cancel_system_error, sandbox_trade

pytestmark = [*MARKS, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", viewport={"width": 1280, "height": 900}) as ctx:
        yield ctx


def test_finance_resolves_a_stuck_payment_by_checking_with_alipay(
    sandbox_clock, settings, live_server, browser_context
):
    settings.ALIPAY = {**settings.ALIPAY, "READ_TIMEOUT": 15.0}
    settings.PAYMENTS = {**settings.PAYMENTS, "CANCEL_MAX_ATTEMPTS": 2}
    booking = Booking(make_attraction())
    order = booking.order(booking.slot(capacity=5), adult=2)
    payment = orders.start_counter_payment(
        order, cancel_system_error(99), store_id="BOX", terminal_id="T1", actor="cashier"
    )
    payment.refresh_from_db()
    assert payment.state == Payment.State.NEEDS_ATTENTION
    assert buyer_confirms(sandbox_trade(payment))  # the buyer did confirm, unseen

    user = role_member("Finance")
    user.groups.add(run_role_migration("Support"))  # who sees orders too
    sign_in(browser_context, live_server.url, user)
    folder = artifacts("attention")
    page = browser_context.new_page()

    page.goto(f"{live_server.url}/admin/")
    status = page.locator("#attention-status")
    expect(status).to_contain_text("Payments needing attention: 1")
    expect(status).to_contain_text("Orders with a payment under review: 1")
    page.screenshot(path=str(folder / "01-index.png"), full_page=True)

    status.get_by_role("link", name="Needs attention").click()
    expect(page.locator("#attention-orders")).to_contain_text(order.code)
    expect(page.locator("#attention-payments")).to_contain_text(payment.partner_trans_id)
    page.screenshot(path=str(folder / "02-needs-attention.png"), full_page=True)

    page.locator("#attention-payments").get_by_role("link", name="Open the list to act").click()
    row = page.locator("#result_list tbody tr").filter(has_text=payment.partner_trans_id)
    expect(row).to_have_count(1)
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("check_with_alipay")
    page.locator("button[name=index]").click()

    expect(page.locator("#attention-plan")).to_contain_text("Alipay is asked now")
    page.get_by_label("Note (why; kept in the audit trail)").fill("Buyer shows the receipt")
    page.screenshot(path=str(folder / "03-confirm.png"), full_page=True)
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.locator(".messagelist")).to_contain_text("Alipay says paid (TRADE_SUCCESS)")
    page.screenshot(path=str(folder / "04-paid.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/ticketing/order/{order.pk}/change/")
    expect(page.locator("body")).to_contain_text("Paid")
    page.screenshot(path=str(folder / "05-order.png"), full_page=True)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.PAID
    assert order.state == Order.State.PAID and order.tickets.count() == 2
    assert payment.events.filter(actor=f"admin:{user.username}", to_state="paid").exists()
