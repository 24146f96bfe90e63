"""One client cannot hold a slot empty: bookings are rate-limited per client address (shop page
and API alike), and unpaid holds are capped per browser session and per client address, however
the client dresses up its X-Forwarded-For."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from ticketing.models import Order, TimeSlot

pytestmark = pytest.mark.django_db

ROOMY = {"public_order": "1000/min", "public_read": "1000/min", "public_lookup": "30/min"}


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def tickets_url(booking, slot: TimeSlot) -> str:
    return reverse("shop:tickets", args=[booking.attraction.slug, slot.pk])


def book_page(client: Client, booking, slot: TimeSlot, adults: int = 1, **headers):
    data = {
        f"qty_{booking.types['adult'].pk}": adults,
        "buyer_name": "Ada Buyer",
        "email": "ada@example.com",
    }
    return client.post(tickets_url(booking, slot), data, **headers)


def book_api(api: APIClient, booking, slot: TimeSlot, adults: int = 1, **headers):
    body = {
        "attraction": booking.attraction.slug,
        "slot": slot.pk,
        "quantities": [{"ticket_type": booking.types["adult"].id, "quantity": adults}],
        "buyer_name": "Ada Buyer",
        "email": "ada@example.com",
        "language": "en",
    }
    return api.post(
        "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), **headers
    )


def places_left(slot: TimeSlot) -> int:
    slot.refresh_from_db()
    return slot.capacity - slot.held - slot.sold


def test_one_browser_holds_a_few_orders_then_is_asked_to_pay_first(booking, settings, clock):
    settings.TICKETING_API_RATES = ROOMY
    slot = booking.slot(capacity=100)
    browser = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(settings.TICKETING_HOLDS_PER_SESSION):
        assert book_page(browser, booking, slot).status_code == 302
    refused = book_page(browser, booking, slot)
    assert refused.status_code == 429
    assert "Please pay for them or let them expire" in refused.content.decode()
    assert Order.objects.count() == settings.TICKETING_HOLDS_PER_SESSION
    # Once the holds are over, the browser may book again.
    clock.advance(settings.TICKETING_HOLD_MINUTES * 60 + 1)
    assert book_page(browser, booking, slot).status_code == 302


def test_a_page_flood_rotating_x_forwarded_for_cannot_empty_a_slot(booking, settings):
    settings.TICKETING_API_RATES = ROOMY
    slot = booking.slot(capacity=250)
    largest = settings.TICKETING_MAX_ADMISSIONS_PER_ORDER
    statuses = []
    for n in range(30):
        # A fresh browser (no session cookie) each time, and a made-up forwarded address.
        flood = Client(REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR=f"10.0.{n}.1")
        statuses.append(book_page(flood, booking, slot, adults=largest).status_code)
    assert statuses.count(302) == settings.TICKETING_HOLDS_PER_ADDRESS
    assert set(statuses[settings.TICKETING_HOLDS_PER_ADDRESS :]) == {429}
    assert places_left(slot) == 250 - settings.TICKETING_HOLDS_PER_ADDRESS * largest
    # Someone else can still book.
    assert book_page(Client(REMOTE_ADDR="203.0.113.5"), booking, slot).status_code == 302


def test_an_api_flood_rotating_x_forwarded_for_cannot_empty_a_slot(booking, settings):
    settings.TICKETING_API_RATES = ROOMY
    slot = booking.slot(capacity=250)
    largest = settings.TICKETING_MAX_ADMISSIONS_PER_ORDER
    api = APIClient(REMOTE_ADDR="198.51.100.66")
    answers = [
        book_api(api, booking, slot, adults=largest, HTTP_X_FORWARDED_FOR=f"10.0.{n}.1")
        for n in range(30)
    ]
    created = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(created) == settings.TICKETING_HOLDS_PER_ADDRESS
    assert {a.status_code for a in refused} == {429}
    assert {a.json()["code"] for a in refused} == {"too_many_holds"}
    assert places_left(slot) == 250 - settings.TICKETING_HOLDS_PER_ADDRESS * largest
    assert book_api(APIClient(REMOTE_ADDR="203.0.113.5"), booking, slot).status_code == 201


def test_holds_count_per_address_across_the_shop_and_the_api(booking, settings):
    settings.TICKETING_API_RATES = ROOMY
    settings.TICKETING_HOLDS_PER_ADDRESS = 2
    slot = booking.slot(capacity=50)
    assert book_page(Client(REMOTE_ADDR="198.51.100.66"), booking, slot).status_code == 302
    assert book_api(APIClient(REMOTE_ADDR="198.51.100.66"), booking, slot).status_code == 201
    assert book_page(Client(REMOTE_ADDR="198.51.100.66"), booking, slot).status_code == 429
    # The address is kept hashed, never as it was.
    assert not Order.objects.filter(client_key__contains="198.51").exists()
    assert Order.objects.exclude(client_key="").count() == 2


def test_behind_a_trusted_proxy_clients_are_told_apart_by_the_address_it_saw(booking, settings):
    settings.TICKETING_API_RATES = ROOMY
    settings.TRUSTED_PROXIES = 1
    settings.TICKETING_HOLDS_PER_ADDRESS = 2
    slot = booking.slot(capacity=50)
    api = APIClient(REMOTE_ADDR="10.0.0.1")  # every request arrives from the proxy

    def from_client(real: str, forged: str = "1.2.3.4"):
        return book_api(api, booking, slot, HTTP_X_FORWARDED_FOR=f"{forged}, {real}")

    assert from_client("198.51.100.66", "1.1.1.1").status_code == 201
    assert from_client("198.51.100.66", "2.2.2.2").status_code == 201
    assert from_client("198.51.100.66", "3.3.3.3").status_code == 429
    assert from_client("203.0.113.5").status_code == 201


def test_the_shop_booking_form_is_rate_limited_per_address(booking, settings):
    settings.TICKETING_API_RATES = {**ROOMY, "public_order": "3/min"}
    slot = booking.slot(capacity=50)
    answers = [
        book_page(
            Client(REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR=f"10.0.{n}.1"),
            booking,
            slot,
            adults=0,  # invalid: the attempts count, booked or not
        ).status_code
        for n in range(3)
    ]
    assert answers == [400, 400, 400]
    limited = book_page(Client(REMOTE_ADDR="198.51.100.66"), booking, slot)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "Too many bookings from your connection" in limited.content.decode()
    assert not Order.objects.exists()
