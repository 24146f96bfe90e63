"""A cashier sells at the box office in headless Chromium: the buyer confirms with a PIN.

The cashier signs in, picks a slot and two adult tickets, scans the buyer's payment code (the
scanner types digits and Enter), sees "Waiting for the buyer to confirm in Alipay", and the page
moves on to the receipt by itself once the poller learns that the buyer confirmed. No worker
runs during the scan, so the payment stays pending until the test drives the poller (with the
clock moved), as a worker would. Screenshots go to test-artifacts/box_office/.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from payments import poller
from ticketing.models import Order
from ticketing.views.box_office import BOX_OFFICE_GROUP

from ..browser import MARKS, artifacts, chromium_context, expect
from ..ticketing.helpers import Booking, make_attraction

PIN_CONFIRM_6S = "280000000000000306"

pytestmark = MARKS


@pytest.fixture
def desk(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", viewport={"width": 1024, "height": 900}) as context:
        yield context


def test_a_pin_sale_moves_on_to_the_receipt_by_itself(
    desk, live_server, alipay_gateway, settings, clock, no_worker
):
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    booking = Booking(make_attraction())
    slot = booking.slot(capacity=10)
    group, _created = Group.objects.get_or_create(name=BOX_OFFICE_GROUP)
    User.objects.create_user("cashier-mei", password="pw-mei-12345").groups.add(group)
    shots = artifacts("box_office")

    page = desk.new_page()
    page.goto(f"{live_server.url}/box-office/?date={slot.local_date.isoformat()}")
    expect(page.get_by_role("heading", name="Box office sign-in")).to_be_visible()
    page.get_by_label("Username").fill("cashier-mei")
    page.get_by_label("Password").fill("pw-mei-12345")
    page.get_by_role("button", name="Sign in").click()

    page.locator(f'input[name="slot"][value="{slot.pk}"]').check()
    page.get_by_label("Adult").fill("2")
    page.screenshot(path=str(shots / "01-sell.png"), full_page=True)
    page.get_by_role("button", name="Hold places and take payment").click()

    field = page.get_by_label("Buyer's payment code")
    expect(field).to_be_focused()
    expect(page.get_by_test_id("pay-total")).to_have_text("CNY 160.00")
    page.keyboard.type(PIN_CONFIRM_6S)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("waiting")).to_contain_text(
        "Waiting for the buyer to confirm in Alipay"
    )
    page.screenshot(path=str(shots / "02-waiting.png"), full_page=True)
    order = Order.objects.get()
    assert order.state == Order.State.AWAITING_PAYMENT

    clock.advance(7)  # the buyer confirmed; the worker's poller asks Alipay
    assert poller.run() >= 1
    expect(page.get_by_test_id("paid")).to_be_visible()
    assert page.url.endswith(f"/box-office/sales/{order.code}/receipt/")
    expect(page.get_by_test_id("order-code")).to_have_text(order.code)
    page.screenshot(path=str(shots / "03-receipt.png"), full_page=True)
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.channel == Order.Channel.BOX_OFFICE
