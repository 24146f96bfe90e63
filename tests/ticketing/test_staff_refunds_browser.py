"""An administrator in headless Chromium refunds two tickets of an order (a family ticket among
them) through the order's page and its confirmation, then cancels a time slot and watches the
progress bar fill as the worker runs. Screenshots go to test-artifacts/staff-refunds/."""

from __future__ import annotations

import pytest

from payments.models import Refund
from tests.helpers import no_worker
from ticketing import tasks
from ticketing.models import Order, SlotCancellation, Ticket

from ..browser import MARKS, artifacts, chromium_context, expect, sign_in
from .money_world import book, set_up_world
from .staff_world import ORDERS, SLOTS, paid_order

pytestmark = [*MARKS, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
    return set_up_world(alipay_gateway, settings)


@pytest.fixture
def browser(tmp_path, monkeypatch, live_server, admin_user):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", viewport={"width": 1280, "height": 900}) as ctx:
        sign_in(ctx, live_server.url, admin_user)
        yield ctx.new_page()


def test_an_administrator_refunds_tickets_then_cancels_a_slot_and_watches_it(
    world, browser, live_server
):
    folder = artifacts("staff-refunds")
    page = browser
    slot = world.slot(capacity=10)
    order, payment = paid_order(world, slot, adult=2, family=1)

    page.goto(f"{live_server.url}{ORDERS}{order.pk}/change/")
    page.get_by_role("link", name="Refund tickets").click()
    page.get_by_label("No. 1 Adult, 1 admission: CNY 80.00").check()
    page.get_by_label("No. 3-6 Family, 4 admissions: CNY 200.00").check()
    page.get_by_label("Reason").fill("Family could not travel")
    page.screenshot(path=str(folder / "01-choose-tickets.png"), full_page=True)
    page.get_by_role("button", name="Next: check what happens").click()

    expect(page.get_by_test_id("confirm-count")).to_contain_text("5 tickets will be refunded")
    expect(page.get_by_test_id("total-sum")).to_have_text("CNY 280.00")
    page.screenshot(path=str(folder / "02-confirm.png"), full_page=True)
    assert not Refund.objects.exists()
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Tickets of order {order.code} refunded: CNY 280.00."
    )
    page.screenshot(path=str(folder / "03-refunded.png"), full_page=True)
    valid = order.tickets.filter(state=Ticket.State.VALID).values_list("number", flat=True)
    assert list(valid) == [2]
    assert Refund.objects.get(payment=payment).amount == 280

    held = book(world, slot, adult=1)
    with no_worker():
        page.goto(f"{live_server.url}{SLOTS}{slot.pk}/change/")
        page.get_by_test_id("cancel-slot").click()
        expect(page.get_by_test_id("money-totals")).to_contain_text("CNY 80.00")
        page.get_by_label("Reason").fill("Typhoon warning")
        page.screenshot(path=str(folder / "04-dry-run.png"), full_page=True)
        page.get_by_role("button", name="Cancel this slot").click()
        expect(page.get_by_test_id("progress-percent")).to_have_text("0")
        page.screenshot(path=str(folder / "05-queued.png"), full_page=True)
        run = SlotCancellation.objects.get()
    tasks.cancel_slot(run.pk)  # what the worker does; the page polls and shows it
    expect(page.get_by_test_id("progress-percent")).to_have_text("100", timeout=20_000)
    expect(page.get_by_test_id("progress-text")).to_contain_text("Done")
    page.screenshot(path=str(folder / "06-done.png"), full_page=True)
    assert {Order.objects.get(pk=o.pk).state for o in (order, held)} == {
        Order.State.REFUNDED,
        Order.State.CANCELLED,
    }
