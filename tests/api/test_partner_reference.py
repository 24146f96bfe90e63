"""The partner API's free-text `reference` must never reach an order (regression tests of a review).

Finding 2: a terminal sending reference "order:<code>" marks that online order paid today, since
ticketing links payments to orders by that prefix alone. Finding 1 (partner path): cancelling a
partner payment reverses it; that must never touch an order, and an order's own payment must not
be reversed by a terminal behind the order's back.
"""

from __future__ import annotations

import uuid

import pytest
from django.core import mail
from rest_framework.test import APIClient

from payments.api.terminals import get_or_create_terminal, issue_token
from payments.models import Payment, Refund
from ticketing import orders
from ticketing.models import Order, OrderEvent, Ticket, TimeSlot

from ..ticketing.money_world import (
    SUCCESS_CODE,
    assert_tickets_stop_admitting,
    book,
    paid_online_order,
    set_up_world,
    start_qr,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def money_world(alipay_gateway, settings, clock, mailoutbox):
    return set_up_world(alipay_gateway, settings)


def terminal(store_id: str, terminal_id: str) -> APIClient:
    register, _created = get_or_create_terminal(store_id, terminal_id, store_name=store_id)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(register)}")
    return client


def terminal_pays(client: APIClient, order: Order, *, amount=None) -> dict:
    """The register takes a barcode payment whose free-text reference names a shop order."""
    answer = client.post(
        "/api/v1/payments/",
        {
            "amount": str(order.total if amount is None else amount),
            "currency": order.currency,
            "description": "Souvenirs",
            "buyer_code": SUCCESS_CODE,
            "reference": f"order:{order.code}",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert answer.status_code == 201, answer.content[:500]
    return answer.json()


def terminal_cancels(client: APIClient, payment_uuid: str):
    return client.post(
        f"/api/v1/payments/{payment_uuid}/cancel/",
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


def counters(order: Order) -> tuple[int, int]:
    slot = TimeSlot.objects.get(pk=order.slot_id)
    return slot.held, slot.sold


def test_a_terminal_payment_with_an_order_reference_does_not_pay_a_held_order(money_world):
    """Finding 2: a held online order stays held (no tickets, places still only held) when a
    terminal's payment of the very amount carries reference "order:<its code>"."""
    order = book(money_world, money_world.slot(capacity=5))
    assert terminal_pays(terminal("S1", "R1"), order)["state"] == "paid"
    order.refresh_from_db()
    assert order.state == Order.State.HELD, f"a terminal's payment made the order {order.state}"
    assert order.payment_id is None and not order.tickets.exists()
    assert counters(order) == (2, 0)


def test_a_terminal_payment_does_not_settle_an_order_awaiting_its_qr(money_world):
    """Finding 2: an order awaiting its own QR payment is not settled by a terminal's payment
    with its reference; the QR payment stays the order's payment."""
    order = book(money_world, money_world.slot(capacity=5))
    qr = start_qr(order)
    assert terminal_pays(terminal("S1", "R1"), order)["state"] == "paid"
    order.refresh_from_db()
    assert order.state == Order.State.AWAITING_PAYMENT, f"order became {order.state}"
    assert order.payment_id == qr.pk and not order.tickets.exists()
    assert counters(order) == (2, 0)


def test_a_terminal_payment_naming_a_paid_order_refunds_nothing(money_world):
    """Finding 2: a terminal's payment naming an order already paid is the terminal's own sale:
    ticketing must not treat it as the order's duplicate and refund it, nor touch the order's
    own payment."""
    order, own = paid_online_order(money_world, money_world.slot(capacity=5))
    body = terminal_pays(terminal("S1", "R1"), order)
    partner = Payment.objects.get(uuid=body["id"])
    assert body["state"] == "paid" and partner.state == Payment.State.PAID, (
        "the terminal's sale was refunded by ticketing"
    )
    assert not Refund.objects.exists()
    assert not OrderEvent.objects.filter(order=order, kind="duplicate_payment").exists()
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.payment_id == own.pk


def test_cancelling_a_partner_payment_never_touches_an_order(money_world):
    """Finding 1 (partner API path): a terminal pays with reference "order:<code>" then cancels
    (a same-day reversal); the order named in the reference is neither paid nor cancelled."""
    order = book(money_world, money_world.slot(capacity=5))
    register = terminal("S1", "R1")
    body = terminal_pays(register, order)
    assert body["state"] == "paid"
    answer = terminal_cancels(register, body["id"])
    assert answer.status_code == 200, answer.content[:500]
    assert answer.json()["state"] == "cancelled"
    order.refresh_from_db()
    assert order.state == Order.State.HELD, f"the order became {order.state}"
    assert not order.tickets.exists() and counters(order) == (2, 0)
    assert set(OrderEvent.objects.filter(order=order).values_list("kind", flat=True)) == {"created"}


def test_a_terminal_cannot_reverse_an_orders_payment_behind_its_back(money_world):
    """Finding 1 (partner API path): a register in the box office's store asks to cancel the
    payment of an online order paid at the counter. Either the API refuses (4xx, nothing moves)
    or, if the reversal happens, the order follows it (unwound, buyer told)."""
    order = book(money_world, money_world.slot(capacity=5))
    payment = orders.start_counter_payment(
        order, SUCCESS_CODE, store_id="BOX-OFFICE", terminal_id="WEB-1", actor="test"
    )
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    mails_before = len(mail.outbox)
    answer = terminal_cancels(terminal("BOX-OFFICE", "R7"), str(payment.uuid))
    payment.refresh_from_db()
    if 400 <= answer.status_code < 500:
        assert payment.state == Payment.State.PAID
        order.refresh_from_db()
        assert order.state == Order.State.PAID
        assert set(order.tickets.values_list("state", flat=True)) == {Ticket.State.VALID}
    else:
        assert answer.status_code == 200, answer.content[:500]
        assert payment.state == Payment.State.CANCELLED
        assert_tickets_stop_admitting(order, mails_before)
