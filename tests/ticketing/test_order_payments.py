"""Orders and their payments, through the real payment lifecycle and the sandbox over HTTP.

The buyer's wallet is the sandbox's (buyer_confirms / buyer_declines), its notifications are
delivered over HTTP to the live server, and payments announces outcomes with its signals: the
same path production takes. start_payment runs with no worker (`no_worker`) so that the
poller does not chase the QR to its deadline inline; everything else runs django-q2 in sync mode.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pytest
from django.core import mail

from payments import lifecycle
from payments.models import Payment
from payments.sandbox.models import SandboxTrade
from payments.sandbox.notify import deliver_due_notifications
from payments.sandbox.trades import buyer_confirms, buyer_declines
from ticketing import inventory, orders, tasks
from ticketing.exceptions import HoldExpired, PaymentInProgress
from ticketing.models import Order, Ticket

from ..helpers import no_worker
from ..payments.helpers import SUCCESS
from .helpers import counters, state

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, settings, clock, booking):
    # None of these tests wants a "no reply in time": on a busy machine the shared fixture's 1 s
    # read timeout turns a slow sandbox reply into an unknown outcome nobody polls for.
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    return booking


def start(order: Order) -> Payment:
    with no_worker():
        return orders.start_payment(order)


def trade(payment: Payment) -> SandboxTrade:
    return SandboxTrade.objects.get(partner_trans_id=payment.partner_trans_id)


def wallet_pays(payment: Payment) -> None:
    assert buyer_confirms(trade(payment))
    deliver_due_notifications()  # in sync mode it went out already; harmless again


def wallet_declines(payment: Payment) -> None:
    assert buyer_declines(trade(payment))
    deliver_due_notifications()
    # The decline may come only by query: the poller asks Alipay and applies what it hears.
    from payments import poller

    poller.run()


def test_paying_the_qr_issues_one_ticket_per_admission_and_mails_them(world):
    slot = world.slot(capacity=10)
    order = world.order(slot, family=1, adult=1, infant=1)
    payment = start(order)
    assert payment.qr_code and payment.state == Payment.State.PENDING
    assert payment.reference == f"order:{order.code}" and payment.amount == order.total
    assert state(order) == Order.State.AWAITING_PAYMENT
    assert orders.start_payment(order).pk == payment.pk  # asking again returns the same one
    wallet_pays(payment)
    assert state(order) == Order.State.PAID
    assert counters(slot) == (0, 5)
    tickets = list(order.tickets.order_by("number"))
    # family 4 + adult 1 + infant 1: one ticket per admission, the infant gets its own.
    assert len(tickets) == 6
    assert [(t.ticket_type.code, t.part, t.parts) for t in tickets][:4] == [
        ("adult", 1, 1),
        ("family", 1, 4),
        ("family", 2, 4),
        ("family", 3, 4),
    ]
    assert {t.state for t in tickets} == {Ticket.State.VALID}
    assert order.payment_id == payment.pk
    assert any(order.code in m.subject or order.code in m.body for m in mail.outbox)
    assert inventory.check_capacity([slot.pk]) == []


def test_the_hold_is_kept_past_expiry_while_the_payment_is_in_flight(world, clock):
    slot = world.slot(capacity=2)
    order = world.order(slot, adult=2)
    payment = start(order)
    clock.advance(16 * 60)  # past the hold, within the QR's grace: the buyer is still paying
    assert orders.release_expired_holds() == 0
    assert state(order) == Order.State.AWAITING_PAYMENT
    wallet_pays(payment)
    assert state(order) == Order.State.PAID
    assert counters(slot) == (0, 2)


def test_a_declined_payment_returns_to_held_and_may_be_retried(world):
    slot = world.slot(capacity=3)
    order = world.order(slot, adult=1)
    first = start(order)
    wallet_declines(first)
    assert state(order) == Order.State.HELD
    assert orders.order_status(order).can_retry_payment
    second = start(order)
    assert second.pk != first.pk
    wallet_pays(second)
    assert state(order) == Order.State.PAID
    assert counters(slot) == (0, 1)


def test_a_payment_ending_after_the_hold_expired_gives_the_places_back(world, clock):
    slot = world.slot(capacity=3)
    order = world.order(slot, adult=3)
    payment = start(order)
    clock.advance(16 * 60)
    wallet_declines(payment)
    assert state(order) == Order.State.EXPIRED
    assert counters(slot) == (0, 0)
    with pytest.raises(HoldExpired):
        orders.start_payment(order)


def test_a_late_payment_is_honoured_when_places_are_still_free(world, clock):
    slot = world.slot(capacity=5)
    order = world.order(slot, adult=2)
    clock.advance(16 * 60)
    orders.release_expired_holds()
    assert state(order) == Order.State.EXPIRED
    pay_late(order)
    assert state(order) == Order.State.PAID
    assert order.outcome_reason == "late_payment_honoured"
    assert counters(slot) == (0, 2)
    assert order.tickets.count() == 2


def test_a_late_payment_for_a_full_slot_is_refunded_and_the_buyer_told(world, clock):
    slot = world.slot(capacity=2)
    order = world.order(slot, adult=2, email="late@example.com")
    clock.advance(16 * 60)
    world.order(slot, adult=2)  # someone else takes the places the expired hold gave back
    assert state(order) == Order.State.EXPIRED
    payment = pay_late(order)
    order.refresh_from_db()
    assert order.outcome_reason == "late_payment_sold_out"
    # The refund went through the sandbox and came back as payment_refunded.
    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED
    assert order.state == Order.State.REFUNDED
    assert counters(slot) == (2, 0)
    assert not order.tickets.exists()
    told = [m for m in mail.outbox if m.to == ["late@example.com"]]
    assert told and "refund" in told[0].subject.lower()
    assert "full" in orders.order_status(order).message


def pay_late(order: Order) -> Payment:
    """A payment that reaches its order after the hold ended (e.g. found by reconciliation)."""
    return lifecycle.create_barcode_payment(
        amount=order.total,
        currency=order.currency,
        description="late",
        buyer_code=SUCCESS,
        reference=order.payment_reference,
        store_id="WEB",
        terminal_id="WEB",
    )


def test_a_second_payment_for_a_paid_order_is_refunded(world):
    slot = world.slot(capacity=5)
    order = world.order(slot, adult=1)
    first = start(order)
    wallet_pays(first)
    second = pay_late(order)
    second.refresh_from_db()
    assert second.state == Payment.State.REFUNDED
    assert state(order) == Order.State.PAID
    assert order.payment_id == first.pk
    assert counters(slot) == (0, 1)


def test_cancelling_a_paid_order_revokes_tickets_and_refunds(world):
    slot = world.slot(capacity=5)
    order = world.order(slot, adult=2)
    payment = start(order)
    wallet_pays(payment)
    orders.cancel_order(order, actor="admin:test", reason="visitor ill")
    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED
    assert state(order) == Order.State.REFUNDED
    assert counters(slot) == (0, 0)
    assert set(order.tickets.values_list("state", flat=True)) == {Ticket.State.REVOKED}
    told = [m for m in mail.outbox if "refunded" in m.subject and order.code in m.subject]
    assert told and "no longer valid" in told[0].body


def test_an_order_with_a_payment_in_flight_cannot_be_cancelled(world):
    order = world.order(world.slot(), adult=1)
    start(order)
    with pytest.raises(PaymentInProgress):
        orders.cancel_order(order, actor="buyer")


def test_the_sweeper_resumes_a_refund_that_was_never_requested(world, clock):
    slot = world.slot(capacity=1)
    order = world.order(slot, adult=1)
    clock.advance(16 * 60)
    world.order(slot, adult=1)
    with no_worker():  # the refund task is queued but no worker runs it (a crash)
        payment = pay_late(order)
    assert state(order) == Order.State.REFUND_PENDING
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    clock.advance(120)
    assert tasks.sweep()["refunds"] == 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED
    assert state(order) == Order.State.REFUNDED


def test_order_status_expires_an_overdue_hold_lazily(world, clock):
    slot = world.slot(capacity=1)
    order = world.order(slot, adult=1)
    clock.advance(dt.timedelta(minutes=15, seconds=1).total_seconds())
    status = orders.order_status(order)
    assert status.state == Order.State.EXPIRED and not status.can_retry_payment
    assert counters(slot) == (0, 0)


def test_the_api_books_pays_and_serves_the_pdf(world):
    from rest_framework.test import APIClient

    api = APIClient()
    slot = world.slot(capacity=4)
    created = api.post(
        "/api/v1/orders/",
        {
            "attraction": world.attraction.slug,
            "slot": slot.pk,
            "quantities": [{"ticket_type": world.types["adult"].id, "quantity": 2}],
            "buyer_name": "Ada Buyer",
            "email": "ada@example.com",
            "language": "en",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="api-e2e",
    ).json()
    code, token = created["code"], created["token"]
    with no_worker():
        started = api.post(f"/api/v1/orders/{code}/payment/", {"token": token}, format="json")
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["payment"]["qr_code"] and body["order"]["state"] == "awaiting_payment"
    wallet_pays(Payment.objects.get(uuid=body["payment"]["uuid"]))
    status = api.get(f"/api/v1/orders/{code}/?token={token}").json()
    assert status["paid"] and status["tickets_ready"]
    pdf = api.get(f"/api/v1/orders/{code}/tickets.pdf?token={token}")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    again = api.post(f"/api/v1/orders/{code}/payment/", {"token": token}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "order_state_conflict"


@contextmanager
def receivers_down():
    """The process dies between payments' commit and its signal: ticketing hears nothing."""
    from payments import signals
    from ticketing import receivers

    pairs = [
        (signals.payment_paid, receivers.on_payment_paid, "ticketing.paid"),
        (signals.payment_failed, receivers.on_payment_ended, "ticketing.failed"),
        (signals.payment_cancelled, receivers.on_payment_ended, "ticketing.cancelled"),
    ]
    for signal, _receiver, uid in pairs:
        signal.disconnect(dispatch_uid=uid)
    try:
        yield
    finally:
        for signal, receiver, uid in pairs:
            signal.connect(receiver, dispatch_uid=uid)


def test_the_sweeper_applies_a_paid_outcome_the_order_never_heard_of(world, clock):
    slot = world.slot(capacity=2)
    order = world.order(slot, adult=2)
    payment = start(order)
    with receivers_down():
        wallet_pays(payment)
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and state(order) == Order.State.AWAITING_PAYMENT
    clock.advance(120)
    assert tasks.sweep()["payments"] == 1
    assert state(order) == Order.State.PAID
    assert counters(slot) == (0, 2) and order.tickets.count() == 2


def test_the_sweeper_ends_an_attempt_whose_payment_failed_unheard(world, clock):
    slot = world.slot(capacity=2)
    order = world.order(slot, adult=1)
    payment = start(order)
    with receivers_down():
        wallet_declines(payment)
    clock.advance(120)
    assert tasks.sweep()["payments"] == 1
    assert state(order) == Order.State.HELD


def test_the_sweeper_ends_an_attempt_that_never_got_its_payment(world, clock):
    slot = world.slot(capacity=2)
    order = world.order(slot, adult=1)
    # What a crash between the order's compare-and-set and the gateway call leaves behind.
    Order.objects.filter(pk=order.pk).update(
        state=Order.State.AWAITING_PAYMENT, payment_started_at=clock.now()
    )
    clock.advance(16 * 60)
    assert tasks.sweep()["payments"] == 1
    assert state(order) == Order.State.EXPIRED
    assert counters(slot) == (0, 0)
