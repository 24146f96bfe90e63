"""A dearer change of time through the public API over HTTP: 409 says the difference, the
client confirms it and gets the Alipay QR (202), the sandbox wallet pays it over real HTTP, and
GET .../change/ follows it to the end; a retry is replayed; giving up frees the places."""

from __future__ import annotations

import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from payments.models import Payment
from tests.ticketing.helpers import counters
from tests.ticketing.money_world import paid_online_order, set_up_world
from ticketing import inventory
from ticketing.models import RefundPolicy, SlotChange, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, poller_elsewhere, settings, clock, mailoutbox):
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
    yield
    assert inventory.check_capacity() == []


def post(path: str, body: dict, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key or str(uuid.uuid4())}
    return APIClient().post(path, body, format="json", **headers)


def dearer_order(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, _payment = paid_online_order(world, old, adult=2)
    adult = world.types["adult"]
    adult.price = Decimal("90.00")
    adult.save()
    return order, old, new


def test_the_difference_is_quoted_confirmed_paid_and_followed(world):
    order, old, new = dearer_order(world)
    path = f"/api/v1/orders/{order.code}/change/"
    options = APIClient().get(f"/api/v1/orders/{order.code}/options/", {"token": order.token})
    assert options.json()["difference"] == "20.00"
    assert options.json()["pending_change"] is None

    due = post(path, {"token": order.token, "slot": new.pk})
    assert due.status_code == 409, due.content
    assert due.json()["code"] == "price_difference_due"
    assert due.json()["fields"] == {"pay_difference": ["20.00"]}
    assert counters(new) == (0, 0)

    key = str(uuid.uuid4())
    body = {"token": order.token, "slot": new.pk, "pay_difference": "20.00"}
    accepted = post(path, body, key)
    replayed = post(path, body, key)
    assert accepted.status_code == 202, accepted.content
    change = accepted.json()["change"]
    assert change["state"] == "awaiting_payment" and change["amount"] == "20.00"
    assert change["to_slot"] == new.pk and "/sandbox/qr/" in change["qr_code"]
    assert replayed.json() == accepted.json() and replayed["Idempotent-Replayed"] == "true"
    assert Payment.objects.filter(slot_change__isnull=False).count() == 1
    assert counters(new) == (2, 0)
    pending = APIClient().get(f"/api/v1/orders/{order.code}/options/", {"token": order.token})
    assert not pending.json()["can_change"] and not pending.json()["can_cancel"]
    assert pending.json()["pending_change"]["id"] == change["id"]
    other = post(path, {"token": order.token, "slot": world.slot().pk, "pay_difference": "20.00"})
    assert other.status_code == 409 and other.json()["code"] == "change_pending"

    # The buyer pays in the sandbox wallet; its notification reaches the site over HTTP.
    assert APIClient().post(urlsplit(change["qr_code"]).path, {"action": "pay"}).status_code == 302

    followed = APIClient().get(path, {"token": order.token})
    assert followed.status_code == 200
    assert followed.json()["state"] == "changed" and followed.json()["qr_code"] == ""
    assert counters(new) == (0, 2) and counters(old) == (0, 0)
    assert set(
        Ticket.objects.filter(order=order, state=Ticket.State.VALID).values_list(
            "slot_id", flat=True
        )
    ) == {new.pk}


def test_giving_up_through_the_api_frees_the_places(world):
    order, old, new = dearer_order(world)
    path = f"/api/v1/orders/{order.code}/change/"
    post(path, {"token": order.token, "slot": new.pk, "pay_difference": "20.00"})

    kept = post(f"/api/v1/orders/{order.code}/change/give-up/", {"token": order.token})

    assert kept.status_code == 200, kept.content
    followed = APIClient().get(path, {"token": order.token}).json()
    assert (followed["state"], followed["outcome"]) == ("released", "given_up")
    assert counters(new) == (0, 0) and counters(old) == (0, 2)
    assert SlotChange.objects.get().payment.state in ("cancelling", "cancelled")


def test_bad_difference_requests_are_clear_4xx(world):
    order, _old, new = dearer_order(world)
    path = f"/api/v1/orders/{order.code}/change/"
    for amount in ("abc", "-1", "1.234"):
        bad = post(path, {"token": order.token, "slot": new.pk, "pay_difference": amount})
        assert bad.status_code == 400 and "pay_difference" in bad.json()["fields"], amount
    stale = post(path, {"token": order.token, "slot": new.pk, "pay_difference": "5.00"})
    assert stale.status_code == 409 and stale.json()["fields"]["pay_difference"] == ["20.00"]
    assert APIClient().get(path, {"token": "wrong"}).status_code == 404
    assert APIClient().get(path, {"token": order.token}).status_code == 404  # no change yet
    assert not SlotChange.objects.exists()


def test_the_schema_documents_the_difference(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    change = schema["paths"]["/api/v1/orders/{code}/change/"]
    assert "202" in change["post"]["responses"] and "get" in change
    assert "/api/v1/orders/{code}/change/give-up/" in schema["paths"]
    assert "pay_difference" in schema["components"]["schemas"]["ChangeRequestRequest"]["properties"]
