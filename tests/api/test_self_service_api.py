"""The public API's self-service over HTTP: options and the refund quote, giving back a hold,
cancelling tickets, changing the slot; token required, Idempotency-Key replayed, bad input 4xx."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from payments.models import Refund
from tests.ticketing.helpers import counters
from tests.ticketing.money_world import book, paid_online_order, set_up_world
from ticketing import inventory
from ticketing.models import Order, RefundPolicy, Ticket

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
    yield
    assert inventory.check_capacity() == []


def post(path: str, body: dict, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key or str(uuid.uuid4())}
    return APIClient().post(path, body, format="json", **headers)


def test_options_list_the_tickets_and_quote_the_refund(world):
    order, _payment = paid_online_order(world, world.slot(), adult=3)
    other = world.slot(capacity=5)
    answer = APIClient().get(
        f"/api/v1/orders/{order.code}/options/", {"token": order.token, "tickets": [2]}
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["can_cancel"] and body["can_change"] and not body["can_give_back"]
    assert [t["number"] for t in body["tickets"]] == [1, 2, 3]
    assert body["quote"] == {
        "tickets": [2],
        "currency": "CNY",
        "amount": "80.00",
        "fee": "8.00",
        "refund": "72.00",
        "whole_order": False,
    }
    assert other.pk in [s["id"] for s in body["slots"]]


def test_changes_need_the_token_not_just_the_code(world):
    order = book(world, world.slot(), adult=1)
    for body in ({}, {"token": "wrong"}, {"email": order.email}):
        assert post(f"/api/v1/orders/{order.code}/give-back/", body).status_code == 404
    order.refresh_from_db()
    assert order.state == Order.State.HELD


def test_a_hold_is_given_back_and_a_retry_is_replayed(world):
    slot = world.slot(capacity=5)
    order = book(world, slot, adult=2)
    key = str(uuid.uuid4())
    first = post(f"/api/v1/orders/{order.code}/give-back/", {"token": order.token}, key)
    again = post(f"/api/v1/orders/{order.code}/give-back/", {"token": order.token}, key)
    assert first.status_code == 200 and first.json()["order"]["state"] == "cancelled"
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert counters(slot) == (0, 0)


def test_cancelling_a_ticket_answers_the_refund_and_a_retry_refunds_nothing_more(world):
    slot = world.slot(capacity=5)
    order, payment = paid_online_order(world, slot, adult=3)
    key = str(uuid.uuid4())
    path = f"/api/v1/orders/{order.code}/cancel/"
    first = post(path, {"token": order.token, "tickets": [3]}, key)
    again = post(path, {"token": order.token, "tickets": [3]}, key)
    assert first.status_code == 200, first.content
    assert first.json()["cancelled"]["refund"] == "72.00"
    assert again.json() == first.json()
    assert list(Refund.objects.filter(payment=payment).values_list("amount", flat=True)) == [
        Decimal("72.00")
    ]
    assert counters(slot) == (0, 2)


def test_refusals_are_clear_4xx(world):
    order, _payment = paid_online_order(world, world.slot(), adult=1)
    path = f"/api/v1/orders/{order.code}/cancel/"
    bad = post(path, {"token": order.token, "tickets": ["x"]})
    assert bad.status_code == 400 and "tickets.0" in bad.json()["fields"]
    unknown = post(path, {"token": order.token, "tickets": [7]})
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_tickets"
    held = book(world, world.slot(), adult=1)
    conflict = post(f"/api/v1/orders/{held.code}/cancel/", {"token": held.token, "tickets": [1]})
    assert conflict.status_code == 409 and conflict.json()["code"] == "order_state_conflict"
    no_key = APIClient().post(path, {"token": order.token, "tickets": [1]}, format="json")
    assert no_key.status_code == 400
    other = post(f"/api/v1/orders/{order.code}/change/", {"token": order.token, "slot": 999999})
    assert other.status_code == 409 and other.json()["code"] == "slot_unavailable"


def test_the_slot_is_changed_through_the_api(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, _payment = paid_online_order(world, old, adult=2)
    answer = post(f"/api/v1/orders/{order.code}/change/", {"token": order.token, "slot": new.pk})
    assert answer.status_code == 200, answer.content
    assert counters(old) == (0, 0) and counters(new) == (0, 2)
    assert set(
        Ticket.objects.filter(order=order, state=Ticket.State.VALID).values_list(
            "slot_id", flat=True
        )
    ) == {new.pk}


def test_the_schema_documents_the_self_service_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("options", "give-back", "cancel", "change"):
        assert f"/api/v1/orders/{{code}}/{path}/" in schema["paths"]
    assert "Idempotency-Key" in str(schema["paths"]["/api/v1/orders/{code}/cancel/"])
