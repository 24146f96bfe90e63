"""The order page says where an order stands now, for every state and outcome reason.

An order opened again later (the e-mail's link, "Find my tickets") is described as it is, never
thanked for a payment made days ago. Orders are moved through ticketing's own services
(create_order, cancel_order, move_order); payments are rows in the state the lifecycle leaves them.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from payments.models import Payment, Refund
from ticketing import orders
from ticketing.models import Order
from ticketing.views.standing import _why_refunded

from ..ticketing.helpers import paid_order

pytestmark = pytest.mark.usefixtures("no_worker")

State = Order.State
Reason = Order.OutcomeReason


def page(client, order, language="en"):
    response = client.get(
        reverse("shop:confirmation", args=[order.code]),
        {"token": order.token},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 200
    return response


def standing_of(response) -> str:
    return response.context["standing"].key


def payment_for(order, state=Payment.State.PENDING) -> Payment:
    return Payment.objects.create(
        reference=order.payment_reference,
        amount=order.total,
        currency=order.currency,
        description="tickets",
        channel=Payment.Channel.QR,
        partner_trans_id=f"T{uuid.uuid4().hex[:20]}",
        state=state,
    )


def move(order, to, reason="", **fields):
    assert orders.move_order(
        order,
        to=to,
        from_states=Order.objects.get(pk=order.pk).state,
        kind="test",
        actor="test",
        fields={**fields, **({"outcome_reason": reason} if reason else {})},
    )
    order.refresh_from_db()
    return order


def test_a_paid_order_just_paid_thanks_the_buyer(client, clock, booking):
    order = paid_order(booking, adult=1)
    body = page(client, order).content.decode()
    assert "Thank you! Your payment is complete." in body
    assert "Paid on " in body
    assert 'data-testid="download-tickets"' in body


def test_a_paid_order_found_again_later_says_when_and_where_the_tickets_went(
    client, clock, booking
):
    order = paid_order(booking, adult=1)
    Order.objects.filter(pk=order.pk).update(tickets_sent_at=order.paid_at)
    clock.advance(3 * 24 * 3600)
    response = page(client, order)
    body = response.content.decode()
    assert standing_of(response) == "paid"
    assert "Thank you" not in body
    assert "on their way" not in body
    # The date and time in the attraction's zone (Shanghai) with its abbreviation.
    assert "The e-tickets were sent to ada@example.com on " in body
    assert " CST." in body
    assert 'data-testid="download-tickets"' in body


def test_a_paid_order_in_chinese(client, clock, booking):
    order = paid_order(booking, adult=1)
    Order.objects.filter(pk=order.pk).update(tickets_sent_at=order.paid_at)
    clock.advance(3600)
    body = page(client, order, "zh-hans").content.decode()
    assert "您的门票已准备好" in body
    assert "电子门票已于" in body and "发送至 ada@example.com" in body
    assert "星期" in body and "CST" in body


def test_a_late_payment_honoured_says_so(client, clock, booking):
    order = move(paid_order(booking, adult=1), State.PAID, Reason.LATE_PAYMENT_HONOURED)
    body = page(client, order).content.decode()
    assert "arrived after the reservation ended, but places were still free" in body


def test_a_cancelled_and_refunding_order_says_the_refund_is_on_its_way(client, booking):
    order = orders.cancel_order(paid_order(booking, adult=1), actor="test")
    assert (order.state, order.outcome_reason) == (State.REFUND_PENDING, Reason.CANCELLED_REFUND)
    response = page(client, order)
    body = response.content.decode()
    assert standing_of(response) == "refund_pending"
    assert "Refund in progress" in body
    assert "The order was cancelled after payment." in body
    assert "CNY 80.00 is on its way back" in body
    assert "no longer valid" in body
    assert "download-tickets" not in body


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (Reason.LATE_PAYMENT_SOLD_OUT, "the time slot was full by then"),
        (Reason.PAID_AFTER_CANCEL, "cancelled before your payment arrived"),
    ],
)
def test_a_refund_pending_order_gives_its_reason(client, booking, reason, why):
    order = move(paid_order(booking, adult=1), State.REFUND_PENDING, reason)
    body = page(client, order).content.decode()
    assert why in body and "Refund in progress" in body


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (Reason.REFUNDED, "The payment was refunded."),
        (Reason.CANCELLED_REFUND, "The order was cancelled after payment."),
        (Reason.LATE_PAYMENT_SOLD_OUT, "the time slot was full by then"),
        (Reason.PAID_AFTER_CANCEL, "cancelled before your payment arrived"),
    ],
)
def test_a_refunded_order_says_it_was_refunded_and_why(client, booking, reason, why):
    order = move(paid_order(booking, adult=1), State.REFUNDED, reason)
    response = page(client, order)
    body = response.content.decode()
    assert standing_of(response) == "refunded"
    assert "CNY 80.00 has been refunded" in body and why in body


def test_a_cancelled_hold_says_nothing_was_charged(client, booking):
    order = orders.cancel_order(booking.order(booking.slot()), actor="test")
    response = page(client, order)
    body = response.content.decode()
    assert standing_of(response) == "cancelled"
    assert "cancelled before it was paid. Nothing was charged." in body
    assert 'data-testid="book-again"' in body


def test_an_expired_hold_says_the_reservation_ended(client, clock, booking):
    order = booking.order(booking.slot())
    clock.advance(16 * 60)
    response = page(client, order)  # reading it ends the overdue hold
    body = response.content.decode()
    assert standing_of(response) == "expired"
    assert "The reservation ended before it was paid." in body
    assert 'data-testid="book-again"' in body


def test_an_expired_order_whose_payment_was_not_completed_says_so(client, booking):
    order = booking.order(booking.slot())
    order = move(order, State.EXPIRED, Reason.PAYMENT_NOT_COMPLETED)
    body = page(client, order).content.decode()
    assert "The payment was not completed before the reservation ended." in body


def test_a_held_order_shows_until_when_and_the_way_on(client, booking):
    order = booking.order(booking.slot())
    response = page(client, order)
    body = response.content.decode()
    assert standing_of(response) == "held"
    assert "Your places are reserved until " in body
    assert f'href="{reverse("shop:review", args=[order.code])}"' in body


def test_a_held_order_after_a_failed_payment_says_it_can_be_retried(client, booking):
    order = booking.order(booking.slot())
    move(order, State.AWAITING_PAYMENT, payment=payment_for(order))
    Payment.objects.filter(pk=order.payment_id).update(state=Payment.State.FAILED)
    move(order, State.HELD)
    body = page(client, order).content.decode()
    assert "Your last payment was not completed. You can try again." in body


def test_an_order_awaiting_payment_follows_it_and_links_to_the_pay_page(client, booking):
    order = booking.order(booking.slot())
    move(order, State.AWAITING_PAYMENT, payment=payment_for(order))
    response = page(client, order)
    body = response.content.decode()
    assert standing_of(response) == "awaiting_payment"
    assert "We are waiting for Alipay to confirm your payment." in body
    assert f'href="{reverse("shop:pay", args=[order.code])}"' in body
    assert f'data-status-url="{reverse("shop:status", args=[order.code])}"' in body


def test_a_payment_needing_attention_is_under_review(client, booking):
    order = booking.order(booking.slot())
    move(order, State.AWAITING_PAYMENT, payment=payment_for(order, Payment.State.NEEDS_ATTENTION))
    response = page(client, order)
    body = response.content.decode()
    assert standing_of(response) == "payment_review"
    assert "Your payment is under review" in body
    assert "You will not be charged twice" in body


def test_a_refund_needing_attention_is_under_review_with_its_reason(client, booking):
    order = paid_order(booking, adult=1)
    payment = payment_for(order, Payment.State.PAID)
    order = move(order, State.REFUND_PENDING, Reason.CANCELLED_REFUND, payment=payment)
    Refund.objects.create(
        payment=payment,
        partner_refund_id=f"R{uuid.uuid4().hex[:20]}",
        amount=payment.amount,
        state=Refund.State.NEEDS_ATTENTION,
    )
    response = page(client, order, "zh-hans")
    body = response.content.decode()
    assert standing_of(response) == "payment_review"
    assert "您的付款正在核查中" in body and "订单在付款后被取消。" in body


def test_every_state_and_outcome_reason_has_its_words(booking):
    """Each state maps to a standing, and each outcome reason a refund can have to a sentence."""

    refund_reasons = {
        Reason.REFUNDED,
        Reason.CANCELLED_REFUND,
        Reason.LATE_PAYMENT_SOLD_OUT,
        Reason.PAID_AFTER_CANCEL,
        Reason.PAYMENT_RETURNED,
        Reason.REVIEW_REFUNDED,
        Reason.LATE_PAYMENT_SLOT_OVER,
    }
    for reason in refund_reasons:
        assert _why_refunded(Order(outcome_reason=reason))
    ended_unpaid = {
        Reason.HOLD_EXPIRED,
        Reason.PAYMENT_NOT_COMPLETED,
        Reason.CANCELLED,
        Reason.REVIEW_EXPIRED,
    }
    assert refund_reasons | ended_unpaid | {Reason.LATE_PAYMENT_HONOURED} == set(Reason)


def test_the_thanks_stop_once_the_moment_has_passed(client, clock, booking):
    order = paid_order(booking, adult=1)
    clock.advance(dt.timedelta(minutes=16).total_seconds())
    body = page(client, order).content.decode()
    assert "Thank you" not in body and "Paid on " in body
