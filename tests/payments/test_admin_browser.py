"""The payments admin in headless Chromium at 1280 px, the width of an administrator's laptop: the
list shows its key columns without scrolling sideways, and a payment's page, its gateway
exchanges opened (raw replies of one long line of XML), stays as wide as the window.
Screenshots go to test-artifacts/admin-payments/.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from payments import lifecycle
from payments.api.terminals import get_or_create_terminal, issue_token
from payments.models import GatewayExchange, Payment

from ..browser import MARKS, artifacts, chromium_context, expect
from .helpers import SUCCESS, pay, pin_confirm

pytestmark = [*MARKS, pytest.mark.django_db(transaction=True)]

WIDTH = 1280
KEY_COLUMNS = ("partner_trans_id", "created_at", "state", "amount_and_currency", "channel_short")


@pytest.fixture
def desktop(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", viewport={"width": WIDTH, "height": 900}) as ctx:
        yield ctx


def _partner_sale() -> None:
    """A partner-API payment: its partner_trans_id is the longest kind (42 characters)."""
    terminal, _created = get_or_create_terminal("MUSEUM-SHOP", "REGISTER-01")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(terminal)}")
    body = {"amount": "1234.50", "currency": "CNY", "description": "Shop", "buyer_code": SUCCESS}
    answer = api.post(
        "/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert answer.status_code == 201


def _widths(page) -> dict:
    return page.evaluate(
        """() => ({
            document: document.documentElement.scrollWidth,
            viewport: document.documentElement.clientWidth,
        })"""
    )


def test_the_payments_list_and_a_payments_page_fit_1280_px(
    desktop, live_server, sandbox_clock, settings
):
    settings.ALIPAY = {**settings.ALIPAY, "READ_TIMEOUT": 15.0}
    # Queried until the buyer confirms (several exchanges), then partly refunded.
    payment = pay(pin_confirm(7), "88.00", "CNY", reference="order:LONGREF2026")
    lifecycle.request_refund(payment, amount=payment.amount / 2, reason="one", actor="staff:t")
    for _ in range(3):
        _partner_sale()
    assert GatewayExchange.objects.filter(payment=payment).count() >= 4
    assert max(len(p) for p in Payment.objects.values_list("partner_trans_id", flat=True)) >= 40
    User.objects.create_superuser("boss", "boss@example.com", "pw-boss-123456")
    shots = artifacts("admin-payments")

    page = desktop.new_page()
    page.set_default_timeout(60_000)  # the first admin page compiles templates on a busy host
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("pw-boss-123456")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Entrada administration")).to_be_visible()

    page.goto(live_server.url + "/admin/payments/payment/")
    expect(page.locator("#result_list")).to_be_visible()
    page.screenshot(path=str(shots / "01-payments-list.png"), full_page=True)
    widths = _widths(page)
    assert widths["document"] <= widths["viewport"] == WIDTH, widths
    # The list itself scrolls inside its box when too wide: every key column header must be
    # inside both the box and the window.
    box = page.locator("#changelist .results").bounding_box()
    for column in KEY_COLUMNS:
        header = page.locator(f"#result_list thead th.column-{column}").bounding_box()
        assert header is not None, column
        right = header["x"] + header["width"]
        assert right <= box["x"] + box["width"] + 1 and right <= WIDTH, (column, header, box)
    results = page.evaluate(
        "() => { const r = document.querySelector('#changelist .results');"
        " return [r.scrollWidth, r.clientWidth]; }"
    )
    assert results[0] <= results[1], f"the list scrolls sideways: {results}"

    page.goto(f"{live_server.url}/admin/payments/payment/{payment.pk}/change/")
    summaries = page.locator("details.gateway-exchange summary")
    assert summaries.count() >= 4
    for index in range(summaries.count()):
        summaries.nth(index).click()
    reply = page.locator("pre.gateway-text").nth(1)
    expect(reply).to_contain_text("<alipay>")
    page.screenshot(path=str(shots / "02-payment-page.png"), full_page=True)
    widths = _widths(page)
    assert widths["document"] <= widths["viewport"] == WIDTH, widths
    # Times on the page read to the second, with their zone.
    expect(page.locator("td.field-created_at").first).to_contain_text(":")
    expect(page.locator("td.field-created_at").first).to_contain_text("UTC")
