"""Finding an order again, and the limits that keep order codes from being guessed."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from ticketing.models import Order
from ticketing.views import throttle

pytestmark = pytest.mark.django_db

LOOKUP = "/orders/find/"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def order(client, attraction, ticket_types, tomorrow_slot):
    client.post(
        reverse("shop:tickets", args=[attraction.slug, tomorrow_slot.pk]),
        {f"qty_{ticket_types['adult'].pk}": 2, "buyer_name": "Li Na", "email": "li@example.com"},
    )
    return Order.objects.get()


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def test_code_and_email_open_the_order_in_another_browser(order):
    buyer = from_address("203.0.113.5")
    response = buyer.post(LOOKUP, {"code": f" {order.code.lower()} ", "email": "LI@example.com"})
    assert response.status_code == 302
    # A held (not yet paid) order opens on its order page, which leads on to review and pay.
    followed = buyer.get(response.url, follow=True)
    assert followed.status_code == 200
    assert order.code in followed.content.decode()
    assert buyer.get(reverse("shop:review", args=[order.code])).status_code == 200


def test_a_wrong_email_finds_nothing_and_says_so(order):
    response = from_address("203.0.113.5").post(
        LOOKUP, {"code": order.code, "email": "someone@example.com"}
    )
    assert response.status_code == 404
    assert "We found no order with this code and e-mail address" in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"code": "", "email": ""},
        {"code": "AB<script>", "email": "x@example.com"},
        {"code": "A" * 500, "email": "x@example.com"},
        {"code": "ABCDEFGH", "email": "nope"},
    ],
)
def test_malformed_lookups_are_400_with_messages_next_to_fields(data):
    response = from_address("203.0.113.5").post(LOOKUP, data)
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()


def test_one_address_guessing_codes_is_stopped_with_a_429(order):
    guesser = from_address("198.51.100.7")
    for n in range(throttle.MAX_FAILURES_PER_ADDRESS):
        response = guesser.post(LOOKUP, {"code": f"GUESS{n:03d}", "email": "li@example.com"})
        assert response.status_code == 404
    blocked = guesser.post(LOOKUP, {"code": order.code, "email": "li@example.com"})
    assert blocked.status_code == 429
    assert "Too many unsuccessful look-ups" in blocked.content.decode()
    assert 0 < int(blocked["Retry-After"]) <= throttle.WINDOW_SECONDS
    # Even the right answer is refused while blocked: a guesser learns nothing more.
    assert "/orders/" + order.code not in blocked.get("Location", "")
    # Another address is not affected.
    assert (
        from_address("203.0.113.9")
        .post(LOOKUP, {"code": order.code, "email": "li@example.com"})
        .status_code
        == 302
    )


def test_one_code_attacked_from_many_addresses_is_stopped(order):
    for n in range(throttle.MAX_FAILURES_PER_CODE):
        response = from_address(f"192.0.2.{n + 1}").post(
            LOOKUP, {"code": order.code, "email": f"guess{n}@example.com"}
        )
        assert response.status_code == 404
    blocked = from_address("192.0.2.200").post(
        LOOKUP, {"code": order.code, "email": "li@example.com"}
    )
    assert blocked.status_code == 429


def test_the_limit_ends_with_its_window(order, clock):
    guesser = from_address("198.51.100.7")
    for n in range(throttle.MAX_FAILURES_PER_ADDRESS):
        guesser.post(LOOKUP, {"code": f"GUESS{n:03d}", "email": "li@example.com"})
    assert guesser.post(LOOKUP, {"code": order.code, "email": "li@example.com"}).status_code == 429
    clock.advance(throttle.WINDOW_SECONDS)
    assert guesser.post(LOOKUP, {"code": order.code, "email": "li@example.com"}).status_code == 302


def test_successful_lookups_do_not_count_against_the_buyer(order):
    buyer = from_address("203.0.113.5")
    for _ in range(throttle.MAX_FAILURES_PER_ADDRESS + 3):
        response = buyer.post(LOOKUP, {"code": order.code, "email": "li@example.com"})
        assert response.status_code == 302
