"""The order page's own changes through Django's test client: giving back a hold, cancelling
tickets with the refund shown before confirming, changing the time; access and throttling."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from payments.models import Refund
from tests.ticketing.helpers import counters
from tests.ticketing.money_world import book, paid_online_order, set_up_world
from ticketing import inventory
from ticketing.models import Order, RefundPolicy, Ticket
from ticketing.views import self_service as pages

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
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


def open_order(client, order: Order) -> str:
    """The order page, opened with the secret token as the e-mail's link does."""
    response = client.get(reverse("shop:confirmation", args=[order.code]), {"token": order.token})
    assert response.status_code == 200
    return response.content.decode()


def test_a_held_order_is_given_back_from_its_page(client, world):
    slot = world.slot(capacity=5)
    order = book(world, slot, adult=2)
    body = open_order(client, order)
    assert 'data-testid="give-back"' in body
    key = re.search(r'name="key" value="([0-9a-f]+)"', body).group(1)

    response = client.post(reverse("shop:give_back", args=[order.code]), {"key": key})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED
    assert counters(slot) == (0, 0)


def test_a_stranger_cannot_change_an_order(client, world):
    order = book(world, world.slot(), adult=1)
    response = client.post(reverse("shop:give_back", args=[order.code]))
    assert response.status_code == 403
    assert client.get(reverse("shop:cancel", args=[order.code])).status_code == 403
    order.refresh_from_db()
    assert order.state == Order.State.HELD


def test_the_refund_after_the_fee_is_shown_before_the_buyer_confirms(client, world):
    slot = world.slot(capacity=5)
    order, payment = paid_online_order(world, slot, adult=3)
    assert 'data-testid="cancel-tickets"' in open_order(client, order)
    url = reverse("shop:cancel", args=[order.code])
    assert 'data-testid="cancel-ticket"' in client.get(url).content.decode()

    quote = client.post(url, {"step": "review", "ticket": ["2"]}).content.decode()
    assert 'data-testid="refund-amount"><strong>CNY 72.00' in quote
    assert not Refund.objects.filter(payment=payment).exists()  # nothing happened yet
    key = re.search(r'name="key" value="([0-9a-f]+)"', quote).group(1)

    done = client.post(url, {"step": "confirm", "ticket": ["2"], "key": key})
    again = client.post(url, {"step": "confirm", "ticket": ["2"], "key": key})

    assert done.status_code == 302 and again.status_code == 302
    assert list(Refund.objects.filter(payment=payment).values_list("amount", flat=True)) == [
        Decimal("72.00")
    ]
    assert Ticket.objects.get(order=order, number=2).state == Ticket.State.REVOKED
    assert counters(slot) == (0, 2)


def test_the_cancel_page_speaks_chinese(client, world):
    order, _payment = paid_online_order(world, world.slot(), adult=1)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    open_order(client, order)
    url = reverse("shop:cancel", args=[order.code])
    quote = client.post(url, {"step": "review", "ticket": ["1"]}).content.decode()
    assert "退还到您的支付宝账户" in quote
    assert "CNY 72.00" in quote


def test_a_bad_ticket_choice_is_shown_on_the_page_not_a_500(client, world):
    order, _payment = paid_online_order(world, world.slot(), adult=1)
    open_order(client, order)
    url = reverse("shop:cancel", args=[order.code])
    for data in ({"step": "review", "ticket": ["x"]}, {"step": "review", "ticket": ["9"]}):
        response = client.post(url, data)
        assert response.status_code == 200
        assert "Choose one or more valid tickets of this order." in response.content.decode()


def test_the_time_is_changed_from_the_order_page(client, world):
    old = world.slot(capacity=5)
    new = world.slot(capacity=5)
    order, _payment = paid_online_order(world, old, adult=2)
    old_tickets = set(order.tickets.values_list("uuid", flat=True))
    open_order(client, order)
    page = client.get(reverse("shop:change", args=[order.code])).content.decode()
    assert f'<option value="{new.pk}">' in page

    response = client.post(reverse("shop:change", args=[order.code]), {"slot": str(new.pk)})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.slot_id == new.pk
    assert counters(old) == (0, 0) and counters(new) == (0, 2)
    valid = order.tickets.filter(state=Ticket.State.VALID)
    assert valid.count() == 2 and not old_tickets & set(valid.values_list("uuid", flat=True))
    assert {t.slot_id for t in valid} == {new.pk}


def test_changes_are_throttled_per_order(client, world):
    order, _payment = paid_online_order(world, world.slot(), adult=1)
    open_order(client, order)
    url = reverse("shop:cancel", args=[order.code])
    statuses = [
        client.post(url, {"step": "review", "ticket": ["9"]}).status_code
        for _ in range(pages.MAX_ACTIONS_PER_ORDER + 1)
    ]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}
