"""Counter sales: box-office orders paid with the buyer's Alipay payment code (barcode flow).

Against the live sandbox over HTTP with the clock frozen; django-q2 in sync mode runs the poller
inline (moving the clock) unless `no_worker` keeps the tasks in the broker.
"""

from __future__ import annotations

import pytest
from django.core import mail

from payments import poller
from payments.exceptions import InvalidBuyerCode
from payments.models import Payment
from ticketing import inventory, orders
from ticketing.exceptions import InvalidBuyer
from ticketing.models import Order, OrderEvent, TimeSlot

from ..helpers import no_worker
from ..payments.helpers import INSUFFICIENT, PIN_NEVER, SUCCESS, pin_confirm
from ..ticketing.helpers import counters, state

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, settings, clock, booking, mailoutbox):
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    return booking


def counter_order(world, slot: TimeSlot, *, email: str = "", name: str = "", **counts) -> Order:
    return orders.create_order(
        attraction=world.attraction,
        slot=slot,
        quantities=world.quantities(**(counts or {"adult": 1})),
        buyer_name=name,
        email=email,
        language="en",
        channel=Order.Channel.BOX_OFFICE,
        actor="box-office:cashier",
    )


def pay(order: Order, code: str) -> Payment:
    return orders.start_counter_payment(
        order, code, store_id="BOX-OFFICE", terminal_id="WEB-7", actor="box-office:cashier"
    )


def test_an_instant_payment_pays_the_order_and_issues_its_tickets(world):
    slot = world.slot(capacity=5)
    order = counter_order(world, slot, adult=2, child=1)
    assert order.channel == Order.Channel.BOX_OFFICE
    payment = pay(order, SUCCESS)
    assert payment.state == Payment.State.PAID
    assert payment.channel == Payment.Channel.BARCODE
    assert payment.reference == f"order:{order.code}" and payment.amount == order.total
    assert (payment.store_id, payment.terminal_id) == ("BOX-OFFICE", "WEB-7")
    assert state(order) == Order.State.PAID and order.payment_id == payment.pk
    assert order.tickets.count() == 3
    assert counters(slot) == (0, 3)
    started = OrderEvent.objects.get(order=order, kind="payment_started")
    assert started.actor == "box-office:cashier"
    assert inventory.check_capacity([slot.pk]) == []


def test_insufficient_balance_returns_the_order_to_held_and_another_code_pays(world):
    slot = world.slot(capacity=5)
    order = counter_order(world, slot, adult=1)
    failed = pay(order, INSUFFICIENT)
    assert failed.state == Payment.State.FAILED and failed.failure_message
    assert state(order) == Order.State.HELD
    assert orders.order_status(order).can_retry_payment
    assert counters(slot) == (1, 0)
    paid = pay(order, SUCCESS)
    assert paid.pk != failed.pk and paid.state == Payment.State.PAID
    assert state(order) == Order.State.PAID
    assert counters(slot) == (0, 1)


def test_a_pin_confirmed_later_is_pending_then_paid_by_the_poller(world):
    slot = world.slot(capacity=5)
    order = counter_order(world, slot, adult=1)
    with no_worker():
        payment = pay(order, pin_confirm(6))
    assert payment.state == Payment.State.PENDING
    assert state(order) == Order.State.AWAITING_PAYMENT
    # Scanning again while the buyer confirms returns the same payment: nothing is paid twice.
    assert pay(order, SUCCESS).pk == payment.pk
    assert poller.run() >= 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    assert state(order) == Order.State.PAID
    assert order.tickets.count() == 1


def test_the_poller_inline_settles_a_pin_payment_before_the_call_returns(world):
    slot = world.slot(capacity=5)
    order = counter_order(world, slot, adult=1)
    payment = pay(order, pin_confirm(5))
    assert payment.state == Payment.State.PAID
    assert state(order) == Order.State.PAID


def test_a_pin_never_confirmed_is_cancelled_at_the_deadline_and_the_order_held_again(world):
    slot = world.slot(capacity=5)
    order = counter_order(world, slot, adult=2)
    payment = pay(order, PIN_NEVER)  # the poller runs inline to the deadline and cancels
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED
    assert state(order) in (Order.State.HELD, Order.State.EXPIRED)
    assert order.state == Order.State.HELD  # a 60 s deadline ends well inside the hold
    assert counters(slot) == (2, 0)
    assert pay(order, SUCCESS).state == Payment.State.PAID
    assert state(order) == Order.State.PAID


@pytest.mark.parametrize("code", ["", "   ", "12345", "1" * 18, "28000000000000000x", None, 42])
def test_a_code_that_is_not_a_payment_code_changes_nothing(world, code):
    slot = world.slot(capacity=5)
    order = counter_order(world, slot, adult=1)
    with pytest.raises(InvalidBuyerCode):
        pay(order, code)
    assert state(order) == Order.State.HELD
    assert not Payment.objects.exists()
    assert list(order.events.values_list("kind", flat=True)) == ["created"]


def test_a_counter_order_without_e_mail_sends_no_mail(world):
    slot = world.slot(capacity=5)
    order = counter_order(world, slot, adult=1)
    assert order.email == "" and order.buyer_name == "Box office"
    pay(order, SUCCESS)
    assert state(order) == Order.State.PAID
    assert mail.outbox == []
    from ticketing import tasks

    tasks.sweep()  # nor does the sweeper look for an address to send to
    assert mail.outbox == []
    order.refresh_from_db()
    assert order.tickets_sent_at is None


def test_a_counter_order_with_e_mail_sends_the_tickets(world):
    slot = world.slot(capacity=5)
    order = counter_order(world, slot, email="visitor@example.com", name="Li Wei", adult=1)
    pay(order, SUCCESS)
    assert state(order) == Order.State.PAID
    [message] = mail.outbox
    assert message.to == ["visitor@example.com"] and order.code in message.subject
    assert message.attachments[0][2] == "application/pdf"


def test_a_counter_e_mail_if_given_must_be_valid(world):
    slot = world.slot(capacity=5)
    with pytest.raises(InvalidBuyer) as caught:
        counter_order(world, slot, email="not-an-address", adult=1)
    assert "email" in caught.value.fields
    assert counters(slot) == (0, 0)


def test_online_orders_still_need_a_name_and_an_e_mail(world):
    slot = world.slot(capacity=5)
    with pytest.raises(InvalidBuyer) as caught:
        orders.create_order(
            attraction=world.attraction,
            slot=slot,
            quantities=world.quantities(adult=1),
            buyer_name="",
            email="",
            language="en",
        )
    assert set(caught.value.fields) >= {"buyer_name", "email"}
    order = world.order(slot, adult=1)
    assert order.channel == Order.Channel.ONLINE


def test_cancelling_only_a_hold_never_refunds_an_order_paid_meanwhile(world):
    from ticketing.exceptions import OrderStateConflict

    slot = world.slot(capacity=5)
    order = counter_order(world, slot, adult=1)
    held_view = Order.objects.get(pk=order.pk)  # what a cashier's page read before the scan
    assert pay(order, SUCCESS).state == Payment.State.PAID
    with pytest.raises(OrderStateConflict):
        orders.cancel_order(held_view, actor="box-office:cashier", refund_if_paid=False)
    assert state(order) == Order.State.PAID
    assert counters(slot) == (0, 1)
    assert not OrderEvent.objects.filter(order=order, kind="cancelled").exists()
    assert not order.payment.refunds.exists()
