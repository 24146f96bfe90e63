"""Money going back and the order it paid for: partial refunds, the sweeper's resume, and the
partner API seeing only its own store's payments."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core import mail
from rest_framework.test import APIClient

from payments import lifecycle, signals
from payments.api.terminals import get_or_create_terminal, issue_token
from payments.models import Payment, Refund
from ticketing import orders
from ticketing import tasks as ticketing_tasks
from ticketing.models import Order, OrderEvent, OrderPayment, Ticket
from ticketing.receivers import on_money_returning, on_payment_ended

from .money_world import (
    SUCCESS_CODE,
    assert_tickets_stop_admitting,
    book,
    paid_online_order,
    set_up_world,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def money_world(alipay_gateway, settings, clock, mailoutbox):
    return set_up_world(alipay_gateway, settings)


def test_a_partial_refund_keeps_the_tickets_and_is_in_the_orders_history(money_world):
    slot = money_world.slot(capacity=5)
    order, payment = paid_online_order(money_world, slot, adult=2)
    refund = lifecycle.request_refund(payment, amount=Decimal("10.00"), reason="", actor="t")
    assert refund.state == Refund.State.SUCCEEDED
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert set(order.tickets.values_list("state", flat=True)) == {Ticket.State.VALID}
    [event] = OrderEvent.objects.filter(order=order, kind="partial_refund_requested")
    assert event.detail["amount"] == "10.00" and event.detail["refund"]


def test_refunding_the_rest_after_a_partial_refund_unwinds_the_order(money_world):
    slot = money_world.slot(capacity=5)
    order, payment = paid_online_order(money_world, slot, adult=2)
    lifecycle.request_refund(payment, amount=Decimal("10.00"), reason="", actor="t")
    mails_before = len(mail.outbox)
    lifecycle.request_refund(payment, amount=order.total - 10, reason="", actor="t")
    assert_tickets_stop_admitting(order, mails_before)
    order.refresh_from_db()
    assert order.state == Order.State.REFUNDED


def test_the_sweeper_unwinds_a_paid_order_whose_payment_was_reversed_unseen(money_world, clock):
    """An older version recorded the reversal without telling ticketing, and the process died
    before its payment_cancelled signal: the ticketing sweeper finds the paid order with a
    reversed payment and unwinds it."""
    slot = money_world.slot(capacity=5)
    order, payment = paid_online_order(money_world, slot)
    signals.money_returning.disconnect(dispatch_uid="ticketing.money_returning")
    signals.payment_cancelled.disconnect(dispatch_uid="ticketing.cancelled")
    try:
        lifecycle.request_cancel(payment, actor="staff:test")
    finally:
        signals.money_returning.connect(
            on_money_returning, dispatch_uid="ticketing.money_returning"
        )
        signals.payment_cancelled.connect(on_payment_ended, dispatch_uid="ticketing.cancelled")
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED
    order.refresh_from_db()
    assert order.state == Order.State.PAID  # nobody told the order
    mails_before = len(mail.outbox)
    clock.advance(120)
    assert ticketing_tasks.sweep()["payments"] == 1
    assert_tickets_stop_admitting(order, mails_before)
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED
    assert order.outcome_reason == Order.OutcomeReason.PAYMENT_RETURNED


def test_an_order_receiver_error_rolls_the_refund_back(money_world):
    """The receiver of money_returning is not shielded: if unwinding the order fails, the refund
    is not recorded at all (nothing is sent), rather than money back with tickets valid."""
    slot = money_world.slot(capacity=5)
    order, payment = paid_online_order(money_world, slot)

    def broken(sender, **kwargs):
        raise RuntimeError("the order could not be unwound")

    signals.money_returning.connect(broken, dispatch_uid="test.broken")
    try:
        with pytest.raises(RuntimeError):
            lifecycle.request_refund(payment, amount=payment.amount, reason="", actor="t")
    finally:
        signals.money_returning.disconnect(dispatch_uid="test.broken")
    assert not Refund.objects.filter(payment=payment).exists()
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    order.refresh_from_db()
    assert order.state == Order.State.PAID


def test_every_payment_ticketing_starts_is_linked_to_its_order(money_world):
    order = book(money_world, money_world.slot(capacity=5))
    payment = orders.start_counter_payment(
        order, SUCCESS_CODE, store_id="BOX-OFFICE", terminal_id="WEB-1", actor="test"
    )
    assert OrderPayment.objects.get(payment=payment).order_id == order.pk
    assert orders.order_for_payment(payment) == order


def _terminal(store_id: str, terminal_id: str) -> APIClient:
    register, _created = get_or_create_terminal(store_id, terminal_id, store_name=store_id)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(register)}")
    return client


def test_the_partner_api_sees_only_its_own_stores_api_payments(money_world):
    """A register in a store whose id is the box office's cannot read, cancel or refund the
    box office's payment (404, nothing moves); its own payment it can cancel."""
    order = book(money_world, money_world.slot(capacity=5))
    counter = orders.start_counter_payment(
        order, SUCCESS_CODE, store_id="BOX-OFFICE", terminal_id="WEB-1", actor="test"
    )
    register = _terminal("BOX-OFFICE", "R7")
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    assert register.get(f"/api/v1/payments/{counter.uuid}/").status_code == 404
    assert register.post(f"/api/v1/payments/{counter.uuid}/cancel/", **key).status_code == 404
    refund = register.post(
        f"/api/v1/payments/{counter.uuid}/refunds/",
        {"amount": "1.00", "reason": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert refund.status_code == 404
    counter.refresh_from_db()
    assert counter.state == Payment.State.PAID and not counter.refunds.exists()
    own = register.post(
        "/api/v1/payments/",
        {"amount": "5.00", "currency": "CNY", "description": "Guide", "buyer_code": SUCCESS_CODE},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    ).json()
    other_store = _terminal("SHOP-2", "R1")
    assert other_store.get(f"/api/v1/payments/{own['id']}/").status_code == 404
    answer = register.post(
        f"/api/v1/payments/{own['id']}/cancel/", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"
    order.refresh_from_db()
    assert order.state == Order.State.PAID
