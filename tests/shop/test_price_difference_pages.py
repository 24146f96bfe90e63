"""Changing the time on the order page when the tickets cost more now, through Django's test
client and the sandbox over real HTTP: the difference shown, confirmed, paid with the QR in the
sandbox wallet (its notification reaches the live server), followed by the page's status JSON;
kept instead; and the pages in Chinese."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.ticketing.helpers import counters
from tests.ticketing.money_world import paid_online_order, set_up_world
from ticketing import inventory
from ticketing.models import Order, RefundPolicy, SlotChange, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, poller_elsewhere, settings, clock, mailoutbox):
    # The poller runs "elsewhere": the difference's QR is not chased to its deadline inline.
    world = set_up_world(alipay_gateway, settings)
    RefundPolicy.objects.create(
        attraction=world.attraction,
        cancel_hours_before=2,
        fee_percent=Decimal("10"),
        change_allowed=True,
        change_hours_before=1,
    )
    return world


@pytest.fixture(autouse=True)
def capacity_stays_consistent(transactional_db):
    cache.clear()  # the throttle's counters: each test starts with none
    yield
    assert inventory.check_capacity() == []


def dearer_order(world, client):
    """A paid order of two adults at 80.00, adults now 90.00, opened in this browser."""
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, _payment = paid_online_order(world, old, adult=2)
    adult = world.types["adult"]
    adult.price = Decimal("90.00")
    adult.save()
    answer = client.get(reverse("shop:confirmation", args=[order.code]), {"token": order.token})
    assert answer.status_code == 200
    return order, old, new


def key_in(body: str) -> str:
    return re.search(r'name="key" value="([0-9a-f]+)"', body).group(1)


def confirm_difference(client, order: Order, new) -> str:
    """Choose the new time, read the difference, confirm it: the difference's pay page."""
    url = reverse("shop:change", args=[order.code])
    page = client.get(url).content.decode()
    assert "The tickets cost CNY 20.00 more now than you paid" in page
    shown = client.post(url, {"slot": str(new.pk), "key": key_in(page)}).content.decode()
    assert 'data-testid="difference-due"' in shown and "CNY 20.00" in shown
    assert not SlotChange.objects.exists() and counters(new) == (0, 0)  # nothing yet
    confirmed = client.post(
        url,
        {"step": "confirm", "slot": str(new.pk), "pay_difference": "20.00", "key": key_in(shown)},
    )
    assert confirmed.status_code == 302
    assert confirmed.url == reverse("shop:change_pay", args=[order.code])
    return client.get(confirmed.url).content.decode()


def test_the_difference_is_confirmed_paid_in_the_wallet_and_the_tickets_move(client, world):
    order, old, new = dearer_order(world, client)
    old_uuids = set(order.tickets.values_list("uuid", flat=True))

    pay_page = confirm_difference(client, order, new)

    assert "Scan this code with the Alipay app to pay the difference of" in pay_page
    assert "data-hold-seconds" in pay_page and 'data-testid="give-up-change"' in pay_page
    qr_url = re.search(r'data-qr-url="([^"]+)"', pay_page).group(1)
    assert "/sandbox/qr/" in qr_url
    assert counters(new) == (2, 0) and counters(old) == (0, 2)
    # The order page says what waits, and offers nothing else meanwhile.
    order_page = client.get(reverse("shop:confirmation", args=[order.code])).content.decode()
    assert 'data-testid="pending-change"' in order_page
    assert 'data-testid="change-slot"' not in order_page
    assert 'data-testid="cancel-tickets"' not in order_page
    status_url = reverse("shop:change_status", args=[order.code])
    waiting = client.get(status_url).json()
    assert (waiting["paid"], waiting["payment_state"]) == (False, "pending")

    answer = client.post(urlsplit(qr_url).path, {"action": "pay"})  # the sandbox wallet
    assert answer.status_code == 302

    done = client.get(status_url).json()
    assert done["paid"] and done["next"] == reverse("shop:confirmation", args=[order.code])
    order.refresh_from_db()
    assert order.slot_id == new.pk
    assert counters(new) == (0, 2) and counters(old) == (0, 0)
    valid = order.tickets.filter(state=Ticket.State.VALID)
    assert valid.count() == 2 and not old_uuids & set(valid.values_list("uuid", flat=True))
    # The pay page, opened again, sends the buyer to the order.
    again = client.get(reverse("shop:change_pay", args=[order.code]))
    assert again.status_code == 302


def test_the_buyer_keeps_the_current_time_from_the_pay_page(client, world):
    order, old, new = dearer_order(world, client)
    pay_page = confirm_difference(client, order, new)

    kept = client.post(reverse("shop:give_up_change", args=[order.code]), {"key": key_in(pay_page)})

    assert kept.status_code == 302
    change = SlotChange.objects.get(order=order)
    assert change.state == SlotChange.State.RELEASED
    assert counters(new) == (0, 0) and counters(old) == (0, 2)
    page = client.get(reverse("shop:change_pay", args=[order.code])).content.decode()
    assert "You kept your current time. Nothing was charged." in page
    order_page = client.get(reverse("shop:confirmation", args=[order.code])).content.decode()
    assert 'data-testid="pending-change"' not in order_page
    assert 'data-testid="change-slot"' in order_page


def test_a_wrong_or_stale_amount_shows_the_difference_again_not_a_500(client, world):
    order, _old, new = dearer_order(world, client)
    url = reverse("shop:change", args=[order.code])
    for amount in ("abc", "10.00", "NaN", ""):
        response = client.post(
            url, {"step": "confirm", "slot": str(new.pk), "pay_difference": amount, "key": "k"}
        )
        body = response.content.decode()
        assert response.status_code == 200, amount
        assert "The tickets cost CNY 20.00 more now than you paid" in body
        assert 'data-testid="difference-due"' in body
    assert not SlotChange.objects.exists()


def test_the_difference_pages_speak_chinese(client, world):
    order, _old, new = dearer_order(world, client)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    url = reverse("shop:change", args=[order.code])
    page = client.get(url).content.decode()
    shown = client.post(url, {"slot": str(new.pk), "key": key_in(page)}).content.decode()
    assert "差价" in shown and "CNY 20.00" in shown
    confirmed = client.post(
        url,
        {"step": "confirm", "slot": str(new.pk), "pay_difference": "20.00", "key": key_in(shown)},
    )
    pay_page = client.get(confirmed.url).content.decode()
    assert "保留当前场次" in pay_page and "CNY 20.00" in pay_page
