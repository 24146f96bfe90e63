"""Paying an order with an Alipay QR against the sandbox over real HTTP (a live server).

The buyer's wallet is the sandbox's QR page; the payment's outcome reaches Entrada through the
sandbox's async notification, exactly as Alipay's would.
"""

from __future__ import annotations

import io
import re
from urllib.parse import quote, urlsplit

import pytest
from django.urls import reverse
from pypdf import PdfReader

from ticketing.models import Order, TimeSlot

pytestmark = pytest.mark.usefixtures("shop_gateway")


def book_and_start_paying(client, attraction, slot, ticket_types) -> tuple[Order, str, str]:
    response = client.post(
        reverse("shop:tickets", args=[attraction.slug, slot.pk]),
        {
            f"qty_{ticket_types['adult'].pk}": 1,
            f"qty_{ticket_types['family'].pk}": 1,
            "buyer_name": "Wang Fang",
            "email": "fang@example.com",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    paying = client.post(reverse("shop:pay", args=[order.code]))
    assert paying.status_code == 302
    assert paying.url == reverse("shop:pay", args=[order.code])
    page = client.get(paying.url)
    assert page.status_code == 200
    body = page.content.decode()
    qr_url = re.search(r'data-qr-url="([^"]+)"', body).group(1)
    return order, body, qr_url


def wallet(client, qr_url: str, action: str) -> None:
    """The buyer scans the QR and taps Pay (or Decline) in the sandbox wallet."""
    response = client.post(urlsplit(qr_url).path, {"action": action})
    assert response.status_code == 302


def test_the_pay_page_shows_the_qr_and_a_button_for_phones(
    client, attraction, ticket_types, tomorrow_slot
):
    order, body, qr_url = book_and_start_paying(client, attraction, tomorrow_slot, ticket_types)
    assert "/sandbox/qr/" in qr_url
    assert "<svg" in body and 'class="qr-svg"' in body
    # "Open Alipay to pay" on a phone: a new tab, told the way back to this order.
    back = quote(f"http://testserver/orders/{order.code}/", safe="")
    assert f'href="{qr_url}?return_url={back}" target="_blank" rel="noopener"' in body
    assert f'href="/orders/{order.code}/" data-testid="back-to-order"' in body
    assert 'data-status-url="/orders/' in body
    assert "JPY 7,500" in body
    status = client.get(reverse("shop:status", args=[order.code])).json()
    assert status["waiting"] is True
    assert status["paid"] is False
    assert status["payment_state"] == "pending"
    # Places stay held while the payment is in flight.
    tomorrow_slot.refresh_from_db()
    assert tomorrow_slot.held == 5


def test_paying_in_the_wallet_moves_the_order_on_and_the_pdf_has_its_code(
    client, mailoutbox, attraction, ticket_types, tomorrow_slot
):
    order, _body, qr_url = book_and_start_paying(client, attraction, tomorrow_slot, ticket_types)
    wallet(client, qr_url, "pay")

    status = client.get(reverse("shop:status", args=[order.code])).json()
    assert status["paid"] is True
    assert status["next"] == reverse("shop:confirmation", args=[order.code])
    # Any order page now leads to the confirmation.
    assert client.get(reverse("shop:pay", args=[order.code])).url == status["next"]
    confirmation = client.get(status["next"])
    body = confirmation.content.decode()
    assert confirmation.status_code == 200
    assert order.code in body
    assert "Download e-tickets (PDF)" in body

    pdf = client.get(reverse("shop:tickets_pdf", args=[order.code]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert f"entrada-{order.code}.pdf" in pdf["Content-Disposition"]
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 5  # one adult + a family of four
    assert order.code in reader.pages[0].extract_text()
    tomorrow_slot.refresh_from_db()
    assert (tomorrow_slot.held, tomorrow_slot.sold) == (0, 5)
    # The e-mail with the tickets went out too (console backend in development).
    assert [m.to for m in mailoutbox] == [["fang@example.com"]]
    assert mailoutbox[0].attachments[0][2] == "application/pdf"


def test_a_declined_payment_explains_itself_and_can_be_tried_again(
    client, attraction, ticket_types, tomorrow_slot
):
    order, _body, qr_url = book_and_start_paying(client, attraction, tomorrow_slot, ticket_types)
    wallet(client, qr_url, "decline")

    status = client.get(reverse("shop:status", args=[order.code])).json()
    assert status["waiting"] is False
    assert status["can_retry_payment"] is True
    page = client.get(reverse("shop:pay", args=[order.code]))
    body = page.content.decode()
    assert "Your payment was not completed. It was declined in Alipay, or its time ran out." in body
    assert "Try again with Alipay" in body
    assert "data-hold-seconds" in body
    assert "data-status-url" not in body
    assert TimeSlot.objects.get(pk=tomorrow_slot.pk).held == 5  # still held for the retry

    # Trying again shows a new QR for a new payment; paying it completes the order.
    again = client.post(reverse("shop:pay", args=[order.code]))
    assert again.status_code == 302
    body = client.get(again.url).content.decode()
    new_qr = re.search(r'data-qr-url="([^"]+)"', body).group(1)
    assert new_qr != qr_url
    wallet(client, new_qr, "pay")
    assert client.get(reverse("shop:status", args=[order.code])).json()["paid"] is True
