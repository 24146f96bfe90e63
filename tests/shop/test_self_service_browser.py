"""In headless Chromium, a buyer with three paid tickets cancels one and sees the refund, then
moves the other two to another time, which costs more now: they confirm the difference and pay
it by QR in the sandbox wallet (a second page), and the order page follows by itself; the gate
admits the new tickets and refuses the old ones. In English and in Simplified Chinese.
Screenshots go to test-artifacts/self-service/<language>/.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.ticketing.helpers import counters
from tests.ticketing.money_world import paid_online_order, set_up_world, tokens_of
from ticketing import inventory
from ticketing.etickets.checkin import admit
from ticketing.models import RefundPolicy, Ticket

from ..browser import MARKS, artifacts, chromium_context, expect

pytestmark = [*MARKS, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "en": {"cancel": "Cancel tickets", "change": "Change the time", "refund": "Refund"},
    "zh-hans": {"cancel": "取消门票", "change": "更改场次", "refund": "退还到您的支付宝账户"},
}


@pytest.fixture
def browser_context(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", viewport={"width": 1280, "height": 900}) as context:
        yield context


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_cancel_one_of_three_then_change_the_time_and_the_gate_follows(
    browser_context, live_server, alipay_gateway, poller_elsewhere, settings, clock, language
):
    world = set_up_world(alipay_gateway, settings)
    RefundPolicy.objects.create(
        attraction=world.attraction,
        cancel_hours_before=2,
        fee_percent=Decimal("10"),
        change_allowed=True,
        change_hours_before=1,
    )
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, payment = paid_online_order(world, old, adult=3)
    old_tokens = tokens_of(order)
    texts = TEXTS[language]
    folder = artifacts(f"self-service/{language}")
    page = browser_context.new_page()
    page.goto(f"{live_server.url}/orders/{order.code}/?token={order.token}")
    if language != "en":
        page.locator(f'form.lang-switch button[value="{language}"]').click()
        page.wait_for_load_state()
    page.screenshot(path=str(folder / "01-order.png"), full_page=True)

    # 1. Cancel one of the three tickets; the refund after the fee shows before confirming.
    cancel = page.locator('[data-testid="cancel-tickets"]')
    expect(cancel).to_have_text(texts["cancel"])
    cancel.click()
    page.locator('[data-testid="cancel-ticket"]').first.check()
    page.locator('[data-testid="review-cancel"]').click()
    expect(page.locator('[data-testid="cancel-quote"]')).to_contain_text(texts["refund"])
    expect(page.locator('[data-testid="refund-amount"]')).to_have_text("CNY 72.00")
    page.screenshot(path=str(folder / "02-quote.png"), full_page=True)
    page.locator('[data-testid="confirm-cancel"]').click()
    expect(page.locator('[data-testid="order-code"]')).to_have_text(order.code)
    assert payment.refunds.get().amount == Decimal("72.00")
    assert counters(old) == (0, 2)

    # 2. Move the other two to the other time: adults cost 90.00 now, so 20.00 more is due.
    adult = world.types["adult"]
    adult.price = Decimal("90.00")
    adult.save()
    change = page.locator('[data-testid="change-slot"]')
    expect(change).to_have_text(texts["change"])
    change.click()
    expect(page.locator('[data-testid="difference-notice"]')).to_contain_text("CNY 20.00")
    page.locator('[data-testid="new-slot"]').select_option(str(new.pk))
    page.screenshot(path=str(folder / "03-change.png"), full_page=True)
    page.locator('[data-testid="confirm-change"]').click()
    expect(page.locator('[data-testid="difference-due"]')).to_contain_text("CNY 20.00")
    page.screenshot(path=str(folder / "04-difference.png"), full_page=True)
    page.locator('[data-testid="pay-difference"]').click()
    qr_url = page.locator("[data-qr-url]").get_attribute("data-qr-url")
    assert counters(new) == (2, 0)  # held while the buyer pays
    page.screenshot(path=str(folder / "05-pay-difference.png"), full_page=True)
    wallet = browser_context.new_page()
    wallet.goto(qr_url)
    wallet.locator('button[name="action"][value="pay"]').click()
    expect(wallet.locator('[data-testid="qr-state"]')).to_be_visible()
    wallet.close()
    # No click here: the pay page polls and moves on to the order by itself.
    page.wait_for_url(f"**/orders/{order.code}/", timeout=30_000)
    expect(page.locator('[data-testid="order-code"]')).to_have_text(order.code)
    page.screenshot(path=str(folder / "06-changed.png"), full_page=True)
    assert counters(old) == (0, 0) and counters(new) == (0, 2)

    # 3. At the new time the gate admits the new tickets and refuses every old one.
    new_tokens = tokens_of(order)
    assert len(new_tokens) == 2 and not set(new_tokens) & set(old_tokens)
    clock.freeze(new.starts_at + dt.timedelta(minutes=5))
    assert [admit(t, actor="gate:test").code for t in old_tokens] == ["revoked"] * 3
    assert [admit(t, actor="gate:test").code for t in new_tokens] == ["admitted"] * 2
    assert order.tickets.filter(state=Ticket.State.USED, slot=new).count() == 2
    assert inventory.check_capacity() == []
