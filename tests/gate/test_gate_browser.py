"""Gate staff check tickets in with a barcode scanner, in headless Chromium on a phone-sized screen.

A scanner is a keyboard: it types the token and presses Enter. The staff member signs in on the
gate's own sign-in page, scans a ticket (admitted), scans it again (refused: used), and each time
the field is empty and focused for the next scan. Screenshots go to test-artifacts/gate/.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth.models import Group, User

from ticketing.models import OrderEvent, Ticket
from ticketing.views.gate import GATE_STAFF_GROUP

from ..browser import MARKS, artifacts, chromium_context, expect
from ..ticketing.helpers import Booking, make_attraction, paid_order, tokens_of

SLOT_START = dt.datetime(2026, 12, 24, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))

pytestmark = MARKS


@pytest.fixture
def phone(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    screen = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    with chromium_context(tmp_path / "profile", **screen) as context:
        yield context


def test_gate_staff_scan_a_ticket_by_typing_and_enter(phone, live_server, transactional_db, clock):
    clock.freeze(SLOT_START - dt.timedelta(days=1))
    order = paid_order(Booking(make_attraction()), adult=2)
    first = tokens_of(order)[0]
    clock.freeze(SLOT_START)
    # A transactional test starts from an empty database: the migration's group is gone.
    group, _created = Group.objects.get_or_create(name=GATE_STAFF_GROUP)
    User.objects.create_user("gate-lin", password="pw-lin-12345").groups.add(group)
    shots = artifacts("gate")

    page = phone.new_page()
    page.goto(live_server.url + "/gate/")
    page.get_by_label("Username").fill("gate-lin")
    page.get_by_label("Password").fill("pw-lin-12345")
    page.get_by_role("button", name="Sign in").click()
    field = page.get_by_label("Ticket code")
    expect(field).to_be_focused()
    # No camera button that does nothing: without a barcode detector it stays hidden (the page's
    # CSS once drew it anyway) and the page says why.
    if not page.evaluate("'BarcodeDetector' in window"):
        expect(page.locator("#camera-scan")).to_be_hidden()
        expect(page.locator("#camera-unavailable")).to_be_visible()
    page.screenshot(path=str(shots / "01-ready.png"), full_page=True)

    page.keyboard.type(first)
    page.keyboard.press("Enter")
    verdict = page.locator(".verdict")
    expect(verdict).to_have_attribute("data-code", "admitted")
    expect(verdict).to_contain_text("Admitted")
    expect(verdict).to_contain_text(order.code)
    expect(field).to_be_focused()
    expect(field).to_have_value("")
    page.screenshot(path=str(shots / "02-admitted.png"), full_page=True)

    page.keyboard.type(first)
    page.keyboard.press("Enter")
    expect(verdict).to_have_attribute("data-code", "used")
    expect(verdict).to_contain_text("Do not admit")
    expect(verdict).to_contain_text("Used at Thursday, Dec. 24, 2026, 10:00 CST.")
    expect(field).to_be_focused()
    page.screenshot(path=str(shots / "03-used.png"), full_page=True)

    assert order.tickets.get(number=1).state == Ticket.State.USED
    assert order.tickets.get(number=2).state == Ticket.State.VALID
    event = OrderEvent.objects.get(order=order, kind="ticket_used")
    assert event.actor == "gate:gate-lin"
