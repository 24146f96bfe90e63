"""An order whose payment needs attention is under review: its places are held for a bounded time
(TICKETING_REVIEW_HOLD_HOURS), the buyer sees "payment under review", staff are told, and the
order follows whatever staff decide with Alipay (check now, refund instead, mark failed) or gives
its places back when the hold runs out. Real HTTP to the sandbox throughout; time moves by the
movable clock.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import Client

from payments import clock, lifecycle, signals
from payments.models import Payment
from payments.sandbox.trades import buyer_confirms
from tests.helpers import no_worker
from tests.payments.helpers import cancel_system_error, sandbox_trade
from tests.staff import messages_of, role_member, signed_in
from ticketing import inventory, orders, tasks
from ticketing.models import Order, OrderEvent, Ticket
from ticketing.receivers import on_payment_needs_attention

from .helpers import Booking, counters, make_attraction

pytestmark = pytest.mark.django_db(transaction=True)

State = Order.State
Reason = Order.OutcomeReason
PAYMENTS = "/admin/payments/payment/"
REVIEW_HOURS = 2


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    settings.PAYMENTS = {**settings.PAYMENTS, "CANCEL_MAX_ATTEMPTS": 2}
    settings.ADMINS = [("ops", "ops@entrada.example")]
    settings.TICKETING_REVIEW_HOLD_HOURS = REVIEW_HOURS
    return Booking(make_attraction())


@pytest.fixture
def finance(db):
    user = role_member("Finance")
    return user, signed_in(user)


def stuck_order(world: Booking, slot=None, **counts) -> tuple[Order, Payment]:
    """A counter sale whose buyer was still confirming with a PIN when every cancel failed."""
    order = world.order(slot or world.slot(capacity=5), **(counts or {"adult": 2}))
    payment = orders.start_counter_payment(
        order, cancel_system_error(99), store_id="BOX", terminal_id="T1", actor="cashier"
    )
    payment.refresh_from_db()
    assert payment.state == Payment.State.NEEDS_ATTENTION
    order.refresh_from_db()
    return order, payment


def act(client, action: str, payment: Payment, note: str = "Decided with the buyer"):
    chosen = {"action": action, "_selected_action": [payment.pk]}
    assert client.post(PAYMENTS, chosen).status_code == 200
    return client.post(PAYMENTS, {**chosen, "confirmed": "yes", "note": note}, follow=True)


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def events(order: Order, kind: str) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order, kind=kind))


def test_an_order_whose_payment_needs_attention_is_under_review_with_its_places_held(world):
    order, payment = stuck_order(world)
    assert order.state == State.AWAITING_PAYMENT and order.payment_id == payment.pk
    assert order.review_ends_at == clock.now() + dt.timedelta(hours=REVIEW_HOURS)
    assert counters(order.slot) == (2, 0)
    [event] = events(order, "payment_under_review")
    assert event.detail["payment"] == str(payment.uuid)
    [notice] = [m for m in mail.outbox if order.code in m.subject]
    assert notice.subject.endswith(f"Order {order.code}: payment under review")
    assert "held until" in notice.body and notice.to == ["ops@entrada.example"]

    status = orders.order_status(order)
    assert status.under_review and status.review_ends_at == order.review_ends_at
    assert "under review" in status.message and status.seconds_left > 0

    api = Client().get(f"/api/v1/orders/{order.code}/", {"token": order.token})
    body = api.json()
    assert api.status_code == 200 and body["under_review"] is True
    assert body["state"] == "awaiting_payment" and body["review_ends_at"]
    assert body["message"].startswith("Your payment is under review")
    zh = Client().get(
        f"/api/v1/orders/{order.code}/", {"token": order.token}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert zh.json()["message"].startswith("您的付款正在核查中")

    page = Client().get(f"/orders/{order.code}/", {"token": order.token}).content.decode()
    assert "Your payment is under review" in page and "kept for you until" in page
    assert inventory.check_capacity() == []


def test_check_with_alipay_now_pays_the_order_and_issues_its_tickets(world, finance):
    user, client = finance
    order, payment = stuck_order(world)
    assert buyer_confirms(sandbox_trade(payment))
    act(client, "check_with_alipay", payment)
    order.refresh_from_db()
    assert order.state == State.PAID and order.payment_id == payment.pk
    assert order.tickets.filter(state=Ticket.State.VALID).count() == 2
    assert counters(order.slot) == (0, 2)
    [paid] = events(order, "paid")
    assert paid.actor == f"admin:{user.username}"
    assert not orders.order_status(order).under_review
    assert inventory.check_capacity() == []


def test_mark_failed_ends_the_attempt_and_gives_the_places_back(world, finance):
    user, client = finance
    order, payment = stuck_order(world)
    clock.advance(20 * 60)  # Alipay closed the unpaid trade; the 15-minute hold is over too
    done = act(client, "mark_failed", payment, note="Trade closed")
    assert any("TRADE_CLOSED" in m for m in messages_of(done))
    order.refresh_from_db()
    assert order.state == State.EXPIRED and order.outcome_reason == Reason.PAYMENT_NOT_COMPLETED
    assert counters(order.slot) == (0, 0)
    [ended] = events(order, "payment_ended")
    assert ended.actor == f"admin:{user.username}"
    [told] = mails_to(order.email)
    assert "did not go through" in told.subject and "Nothing was charged" in told.body
    assert inventory.check_capacity() == []


def test_mark_failed_while_the_hold_lasts_lets_the_buyer_pay_again(world, finance):
    _user, client = finance
    order, payment = stuck_order(world)
    clock.advance(4 * 60)  # the trade closed 3 minutes after the pay; the hold lasts 15
    act(client, "mark_failed", payment)
    order.refresh_from_db()
    assert order.state == State.HELD and counters(order.slot) == (2, 0)
    assert orders.order_status(order).can_retry_payment


def test_refund_instead_cancels_the_order_and_gives_the_money_back(world, finance):
    user, client = finance
    order, payment = stuck_order(world)
    assert buyer_confirms(sandbox_trade(payment))
    act(client, "refund_instead", payment, note="Buyer left, wants the money")
    order.refresh_from_db()
    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED
    assert order.state == State.REFUNDED and order.outcome_reason == Reason.REVIEW_REFUNDED
    assert not order.tickets.exists() and counters(order.slot) == (0, 0)
    [unwound] = events(order, "review_refunded")
    assert unwound.actor == f"admin:{user.username}"
    [told] = mails_to(order.email)
    assert "refunded" in told.subject and "could not confirm your payment in time" in told.body
    assert inventory.check_capacity() == []


def test_the_review_hold_runs_out_and_gives_the_places_back(world):
    order, payment = stuck_order(world)
    clock.advance(REVIEW_HOURS * 3600 - 60)
    assert tasks.sweep()["reviews_ended"] == 0  # not yet
    clock.advance(120)
    assert tasks.sweep()["reviews_ended"] == 1
    order.refresh_from_db()
    assert order.state == State.EXPIRED and order.outcome_reason == Reason.REVIEW_EXPIRED
    assert counters(order.slot) == (0, 0)
    [ended] = events(order, "review_hold_ended")
    assert ended.detail["payment"] == str(payment.uuid)
    staff = [m for m in mail.outbox if "review hold ended" in m.subject]
    assert len(staff) == 1 and order.code in staff[0].subject
    [told] = mails_to(order.email)
    assert "has ended" in told.subject and "You will not be charged twice" in told.body
    status = orders.order_status(order)
    assert status.under_review and status.review_ends_at is None  # still being decided
    page = Client().get(f"/orders/{order.code}/", {"token": order.token}).content.decode()
    assert "Your payment is under review" in page and "so they were given back" in page
    assert tasks.sweep()["reviews_ended"] == 0  # once
    assert inventory.check_capacity() == []


def test_a_payment_found_paid_after_the_hold_ran_out_is_honoured_while_places_are_free(
    world, finance
):
    _user, client = finance
    order, payment = stuck_order(world)
    assert buyer_confirms(sandbox_trade(payment))  # the buyer confirmed; nobody knows yet
    clock.advance(REVIEW_HOURS * 3600 + 60)
    tasks.sweep()
    order.refresh_from_db()
    assert order.state == State.EXPIRED
    act(client, "check_with_alipay", payment)
    order.refresh_from_db()
    assert order.state == State.PAID and order.outcome_reason == Reason.LATE_PAYMENT_HONOURED
    assert order.tickets.count() == 2 and counters(order.slot) == (0, 2)
    assert inventory.check_capacity() == []


def test_a_payment_found_paid_after_the_hold_ran_out_is_refunded_when_the_slot_is_full(
    world, finance
):
    _user, client = finance
    slot = world.slot(capacity=2)
    order, payment = stuck_order(world, slot)
    assert buyer_confirms(sandbox_trade(payment))
    clock.advance(REVIEW_HOURS * 3600 + 60)
    tasks.sweep()
    world.order(slot, adult=2)  # the released places are taken by someone else
    act(client, "check_with_alipay", payment)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.outcome_reason == Reason.LATE_PAYMENT_SOLD_OUT
    assert order.state == State.REFUNDED and payment.state == Payment.State.REFUNDED
    assert not order.tickets.exists() and counters(slot) == (2, 0)
    assert inventory.check_capacity() == []


def test_a_payment_found_paid_after_its_slot_ended_is_refunded(world, finance):
    _user, client = finance
    slot = world.slot(capacity=5, hours_ahead=1)  # 1 hour from now, for an hour
    order, payment = stuck_order(world, slot)
    assert buyer_confirms(sandbox_trade(payment))
    clock.advance(REVIEW_HOURS * 3600 + 60)  # the visit is over by now
    tasks.sweep()
    act(client, "check_with_alipay", payment)
    order.refresh_from_db()
    assert order.state == State.REFUNDED
    assert order.outcome_reason == Reason.LATE_PAYMENT_SLOT_OVER
    assert not order.tickets.exists() and counters(slot) == (0, 0)
    [told] = [m for m in mails_to(order.email) if "refunded" in m.subject]
    assert "only after your time slot had ended" in told.body
    assert inventory.check_capacity() == []


def test_the_sweeper_starts_a_review_whose_signal_was_missed(world):
    signals.payment_needs_attention.disconnect(dispatch_uid="ticketing.needs_attention")
    try:
        order, _payment = stuck_order(world)
    finally:
        signals.payment_needs_attention.connect(
            on_payment_needs_attention, dispatch_uid="ticketing.needs_attention"
        )
    assert order.review_ends_at is None and order.state == State.AWAITING_PAYMENT
    tasks.sweep()
    order.refresh_from_db()
    assert order.review_ends_at == clock.now() + dt.timedelta(hours=REVIEW_HOURS)
    assert len(events(order, "payment_under_review")) == 1
    tasks.sweep()
    assert len(events(order, "payment_under_review")) == 1  # started once


def test_a_staff_retry_does_not_extend_the_hold(world, finance):
    _user, client = finance
    order, payment = stuck_order(world)
    first_end = order.review_ends_at
    clock.advance(600)
    # The cancel is tried again and fails again (the sandbox refuses 99 times).
    client.post(PAYMENTS, {"action": "retry_attention", "_selected_action": [payment.pk]})
    payment.refresh_from_db()
    assert payment.state == Payment.State.NEEDS_ATTENTION
    order.refresh_from_db()
    assert order.review_ends_at == first_end


def test_a_reversal_that_kept_failing_is_refunded_instead_and_the_order_ends_refunded(
    world, finance
):
    """A paid order the cashier cancelled: the order was unwound when the reversal was
    recorded, but every cancel failed. Alipay still has the money: checking says so and changes
    nothing, marking failed is refused, refunding instead gives it back and ends the order."""
    _user, client = finance
    order = world.order(world.slot(capacity=5), adult=2)
    with no_worker():  # the buyer confirms before anyone polls
        payment = orders.start_counter_payment(
            order, cancel_system_error(99), store_id="BOX", terminal_id="T1", actor="cashier"
        )
    assert buyer_confirms(sandbox_trade(payment))
    lifecycle.refresh_from_gateway(payment, generation=None, actor="system:notify")
    order.refresh_from_db()
    assert order.state == State.PAID
    lifecycle.request_cancel(payment, actor="admin:cashier")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.NEEDS_ATTENTION and payment.paid_at is not None
    assert order.state == State.REFUND_PENDING and counters(order.slot) == (0, 0)
    assert orders.order_status(order).under_review

    checked = act(client, "check_with_alipay", payment)
    assert any("the reversal did not happen" in m for m in messages_of(checked))
    refused = act(client, "mark_failed", payment)
    assert any("it is not marked failed" in m for m in messages_of(refused))
    payment.refresh_from_db()
    assert payment.state == Payment.State.NEEDS_ATTENTION

    act(client, "refund_instead", payment, note="Reversal kept failing")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED
    assert order.state == State.REFUNDED and order.outcome_reason == Reason.PAYMENT_RETURNED
    assert inventory.check_capacity() == []
