"""A buyer books and pays end to end in headless Chromium, against the sandbox on a live server.

Pick a day and a slot, choose quantities, give name and e-mail, review, see the Alipay QR; the
buyer's "phone" (a second page) opens the QR's URL in the sandbox wallet and taps Pay; the shop
page notices by itself and moves on to the confirmation; the PDF downloads and is read back.
Once in English on a phone-sized screen, once in Simplified Chinese on a desktop screen, and once
with a declined first payment that the buyer retries.
Screenshots of every step go to test-artifacts/shop/<language>/ for a person to look at.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from ticketing.models import Order

from ..browser import MARKS, artifacts, chromium_context, expect

pytestmark = [*MARKS, pytest.mark.usefixtures("shop_gateway")]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def browser_context(tmp_path, monkeypatch, request):
    """A fresh Chromium profile; the test drives live_server from this thread's event loop."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", accept_downloads=True, **request.param) as context:
        yield context


class Shots:
    """Numbered full-page screenshots of each step."""

    def __init__(self, language: str):
        self.folder = artifacts(f"shop/{language}")
        self.count = 0

    def __call__(self, page, step: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{step}.png"), full_page=True)


def unlabelled_controls(page) -> list[str]:
    """Form controls a screen reader could not name (WCAG 1.3.1 / 4.1.2)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter(el => el.type !== 'hidden')
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !(el.tagName === 'BUTTON' && el.textContent.trim()))
            .map(el => el.outerHTML)"""
    )


def buy_tickets(context, live_server, attraction, ticket_types, slot, language, texts):
    shots = Shots(language)
    page = context.new_page()
    page.goto(live_server.url + "/")
    if language != "en":
        # The switcher on every page; the choice sticks for the rest of the visit.
        page.locator(f'form.lang-switch button[value="{language}"]').click()
        page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text(texts["home_heading"])
    shots(page, "home")

    page.locator(".attraction-card h2 a").first.click()
    expect(page.locator("h1")).to_have_text(texts["attraction_name"])
    shots(page, "attraction")

    # The date strip: choose the slot's day, then its first time.
    page.locator(f'a.day[href*="date={slot.local_date.isoformat()}"]').click()
    expect(page.locator('a.day[aria-current="date"]')).to_be_visible()
    shots(page, "day")
    page.locator(f'a.slot[href$="/slots/{slot.pk}/"]').click()

    assert unlabelled_controls(page) == []
    page.get_by_label(ticket_types["adult"].display_name(language)).fill("2")
    page.get_by_label(ticket_types["child"].display_name(language)).fill("1")
    page.locator("#id_buyer_name").fill("Zhang Wei")
    page.locator("#id_email").fill("wei@example.com")
    shots(page, "tickets")
    page.locator("main form button[type=submit]").click()

    expect(page.locator('[data-testid="total"]')).to_have_text(texts["total"])
    expect(page.locator("[data-hold-left]")).to_contain_text(":")
    # Keyboard users: the skip link is the first stop and shows itself when focused.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    expect(page.locator(".skip-link")).to_be_in_viewport()
    shots(page, "review")
    page.locator("button.alipay").click()

    qr = page.locator("[data-qr-url]")
    expect(qr.locator("svg")).to_be_visible()
    qr_url = qr.get_attribute("data-qr-url")
    assert "/sandbox/qr/" in qr_url
    phone_button = page.locator('[data-testid="open-alipay"]')
    if texts["phone"]:
        expect(phone_button).to_be_visible()
        # The same QR, opened in a new tab that knows the way back to this order.
        assert phone_button.get_attribute("href").startswith(f"{qr_url}?return_url=")
        assert phone_button.get_attribute("target") == "_blank"
    else:
        expect(phone_button).to_be_hidden()
    shots(page, "qr")

    # The buyer's phone: the QR opens the wallet, where they tap Pay.
    wallet = context.new_page()
    wallet.goto(qr_url)
    shots(wallet, "wallet")
    wallet.locator('button[name="action"][value="pay"]').click()
    expect(wallet.locator('[data-testid="qr-state"]')).to_be_visible()
    shots(wallet, "wallet-paid")
    wallet.close()

    # No click here: the shop's page polls and moves on by itself.
    order = Order.objects.get()
    page.wait_for_url(f"**/orders/{order.code}/", timeout=30_000)
    expect(page.locator('[data-testid="order-code"]')).to_have_text(order.code)
    expect(page.locator(".notice.success")).to_contain_text(texts["thanks"])
    shots(page, "confirmation")

    with page.expect_download() as download_info:
        page.locator('[data-testid="download-tickets"]').click()
    download = download_info.value
    assert download.suggested_filename == f"entrada-{order.code}.pdf"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 3
    assert order.code in reader.pages[0].extract_text()
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert order.language == language
    return order


@pytest.mark.parametrize("browser_context", [PHONE], indirect=True)
def test_a_buyer_books_and_pays_on_a_phone_in_english(
    browser_context, live_server, attraction, ticket_types, tomorrow_slot
):
    texts = {
        "home_heading": "Book timed-entry tickets",
        "attraction_name": "Tokyo Garden",
        "thanks": "Thank you! Your payment is complete.",
        "total": "JPY 5,000",
        "phone": True,
    }
    buy_tickets(browser_context, live_server, attraction, ticket_types, tomorrow_slot, "en", texts)


@pytest.mark.parametrize("browser_context", [DESKTOP], indirect=True)
def test_a_buyer_books_and_pays_on_a_desktop_in_chinese(
    browser_context, live_server, attraction, ticket_types, tomorrow_slot
):
    texts = {
        "home_heading": "预订分时入场门票",
        "attraction_name": "东京庭园",
        "thanks": "谢谢！付款已完成。",
        "total": "JPY 5000",  # Django's zh_Hans number format: no thousands separator
        "phone": False,
    }
    buy_tickets(
        browser_context, live_server, attraction, ticket_types, tomorrow_slot, "zh-hans", texts
    )


@pytest.mark.parametrize("browser_context", [DESKTOP], indirect=True)
def test_a_declined_payment_is_explained_and_a_retry_pays(
    browser_context, live_server, attraction, ticket_types, tomorrow_slot
):
    shots = Shots("en-retry")
    page = browser_context.new_page()
    page.goto(f"{live_server.url}/attractions/{attraction.slug}/slots/{tomorrow_slot.pk}/")
    page.get_by_label("Adult").fill("1")
    page.locator("#id_buyer_name").fill("Chen Jie")
    page.locator("#id_email").fill("jie@example.com")
    page.locator("main form button[type=submit]").click()
    page.locator("button.alipay").click()
    first_qr = page.locator("[data-qr-url]").get_attribute("data-qr-url")

    wallet = browser_context.new_page()
    wallet.goto(first_qr)
    wallet.locator('button[name="action"][value="decline"]').click()
    expect(wallet.locator('[data-testid="qr-state"]')).to_be_visible()
    wallet.close()

    # The shop page notices by itself that the payment ended, and says what to do.
    problem = page.locator('[data-testid="payment-problem"]')
    expect(problem).to_contain_text("Your payment was not completed.", timeout=20_000)
    expect(page.locator("[data-hold-left]")).to_contain_text(":")
    shots(page, "declined")
    page.get_by_role("button", name="Try again with Alipay").click()

    second_qr = page.locator("[data-qr-url]").get_attribute("data-qr-url")
    assert second_qr != first_qr
    wallet = browser_context.new_page()
    wallet.goto(second_qr)
    wallet.locator('button[name="action"][value="pay"]').click()
    expect(wallet.locator('[data-testid="qr-state"]')).to_be_visible()
    wallet.close()

    order = Order.objects.get()
    page.wait_for_url(f"**/orders/{order.code}/", timeout=30_000)
    expect(page.locator('[data-testid="download-tickets"]')).to_be_visible()
    shots(page, "paid-on-retry")
