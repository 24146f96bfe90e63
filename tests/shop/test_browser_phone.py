"""On a phone, in both languages: every problem of the tickets form at once, and paying in the
wallet opened in a new tab, which brings the buyer back to the order.

Headless Chromium on a phone-sized screen against the sandbox on a live server. Screenshots go to
test-artifacts/shop/phone-<language>/.
"""

from __future__ import annotations

import pytest

from ticketing.models import Order

from ..browser import MARKS, chromium_context, expect
from .test_browser import PHONE, Shots

pytestmark = [*MARKS, pytest.mark.usefixtures("shop_gateway")]

TEXTS = {
    "en": {
        "required": "This field is required.",
        "no_tickets": "Choose at least one ticket.",
        "adult": "Adult",
        "paid": "Your tickets are ready.",
        "back": "Your order",
    },
    "zh-hans": {
        "required": "该字段是必填项。",
        "no_tickets": "请至少选择一张门票。",
        "adult": "成人",
        "paid": "您的门票已准备好。",
        "back": "您的订单",
    },
}


@pytest.fixture
def phone(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", **PHONE) as context:
        yield context


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_on_a_phone_all_errors_show_and_the_wallet_tab_returns_to_the_order(
    phone, live_server, attraction, ticket_types, tomorrow_slot, language
):
    texts = TEXTS[language]
    shots = Shots(f"phone-{language}")
    page = phone.new_page()
    page.goto(f"{live_server.url}/attractions/{attraction.slug}/slots/{tomorrow_slot.pk}/")
    if language != "en":
        page.locator(f'form.lang-switch button[value="{language}"]').click()
        page.wait_for_load_state()

    # Sent empty: the name, the e-mail and the tickets are all flagged, on one page.
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#id_buyer_name_errors")).to_have_text(texts["required"])
    expect(page.locator("#id_email_errors")).to_have_text(texts["required"])
    expect(page.locator(".errorlist.nonfield")).to_have_text(texts["no_tickets"])
    for error in page.locator(".errorlist").all():
        expect(error).to_be_visible()
    assert not Order.objects.exists()
    shots(page, "all-errors")

    page.get_by_label(texts["adult"]).fill("1")
    page.locator("#id_buyer_name").fill("Zhang Wei")
    page.locator("#id_email").fill("wei@example.com")
    page.locator("main form button[type=submit]").click()
    page.locator("button.alipay").click()

    # "Open Alipay to pay" opens a new tab; the pay page keeps a link back to the order.
    order = Order.objects.get()
    opener = page.locator('[data-testid="open-alipay"]')
    expect(opener).to_be_visible()
    assert opener.get_attribute("rel") == "noopener"
    back = page.locator('[data-testid="back-to-order"]')
    expect(back).to_be_visible()
    expect(back).to_contain_text(texts["back"])
    assert back.get_attribute("href") == f"/orders/{order.code}/"
    shots(page, "pay")
    with phone.expect_page() as opened:
        opener.click()
    wallet = opened.value
    wallet.wait_for_load_state()
    assert wallet.url.startswith(f"{live_server.url}/sandbox/qr/")
    assert page.url.endswith(f"/orders/{order.code}/pay/")  # the shop's tab stays where it was
    shots(wallet, "wallet")

    # Paying in the wallet brings the buyer back to the order, which says where it stands.
    wallet.locator('button[name="action"][value="pay"]').click()
    wallet.wait_for_url(f"{live_server.url}/orders/{order.code}/")
    expect(wallet.locator('[data-testid="order-standing"]')).to_contain_text(texts["paid"])
    expect(wallet.locator('[data-testid="download-tickets"]')).to_be_visible()
    shots(wallet, "back-at-the-order")

    # The first tab noticed too.
    page.wait_for_url(f"**/orders/{order.code}/", timeout=30_000)
    expect(page.locator('[data-testid="order-standing"]')).to_contain_text(texts["paid"])
    order.refresh_from_db()
    assert order.state == Order.State.PAID
