"""Where money goes back, the tickets it paid for stop admitting (regression tests of a review).

Finding 1: a reversal (same-day cancel of a paid payment) or a full refund must cancel the order
it paid for: tickets revoked, places released, the revocation list updated, the buyer told.
Finding 3: the refund of a duplicate payment must not depend on a task enqueued after commit.
Each path is driven through a public entry point: the payments admin's changelist actions, the
box office pages, payments.lifecycle, and the sweepers.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client
from django_q.models import OrmQ

from payments import lifecycle
from payments import tasks as payment_tasks
from payments.models import Payment
from tests.helpers import no_worker
from tests.payments.helpers import cancel_system_error
from tests.staff import confirmation_fields
from ticketing import orders
from ticketing import tasks as ticketing_tasks
from ticketing.counter import shifts
from ticketing.models import Order, OrderEvent, Till
from ticketing.views.box_office import BOX_OFFICE_GROUP, SUPERVISORS_GROUP

from .money_world import (
    BUYER_EMAIL,
    SUCCESS_CODE,
    assert_tickets_stop_admitting,
    book,
    gate_client,
    paid_online_order,
    set_up_world,
    tokens_of,
    trade,
    wallet_pays,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def money_world(alipay_gateway, settings, clock, mailoutbox):
    return set_up_world(alipay_gateway, settings)


ADMIN_PAYMENTS = "/admin/payments/payment/"


# --- Finding 1: a reversal or a full refund unwinds the order --------------------------------


def test_admin_cancel_of_a_paid_online_payment_cancels_the_order(money_world, admin_client):
    """Finding 1: the admin's "Cancel" action reverses a paid QR payment on its day; the order
    it paid for must be cancelled with it (tickets revoked, places back, listed, buyer told)."""
    slot = money_world.slot(capacity=5)
    order, payment = paid_online_order(money_world, slot)
    mails_before = len(mail.outbox)
    page = admin_client.post(
        ADMIN_PAYMENTS, {"action": "cancel_payments", "_selected_action": [payment.pk]}
    )
    answer = admin_client.post(ADMIN_PAYMENTS, confirmation_fields(page))
    assert answer.status_code == 302
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED and payment.cancel_action == "refund"
    assert_tickets_stop_admitting(order, mails_before)


def test_a_reversal_through_the_lifecycle_cancels_the_order(money_world):
    """Finding 1: lifecycle.request_cancel of an order's paid payment (a reversal: the money
    goes back) leaves no paid order with valid tickets behind."""
    slot = money_world.slot(capacity=5)
    order, payment = paid_online_order(money_world, slot, adult=1, child=1)
    mails_before = len(mail.outbox)
    payment = lifecycle.request_cancel(payment, actor="staff:test")
    assert payment.state == Payment.State.CANCELLED
    assert trade(payment).state == "TRADE_CLOSED"
    assert_tickets_stop_admitting(order, mails_before)


def test_admin_full_refund_of_an_orders_payment_cancels_the_order(money_world, admin_client):
    """Finding 1: "Refund what is left in full" on an order's payment gives all the money back:
    the order is unwound and the buyer is told by e-mail (today no e-mail is sent)."""
    slot = money_world.slot(capacity=5)
    order, payment = paid_online_order(money_world, slot)
    mails_before = len(mail.outbox)
    page = admin_client.post(
        ADMIN_PAYMENTS, {"action": "refund_in_full", "_selected_action": [payment.pk]}
    )
    answer = admin_client.post(ADMIN_PAYMENTS, confirmation_fields(page))
    assert answer.status_code == 302
    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED
    assert_tickets_stop_admitting(order, mails_before)


def _member(*groups: str, password: str) -> User:
    user = User.objects.create_user(
        f"money-{len(groups)}-{User.objects.count()}", password=password
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def test_box_office_refund_and_cancel_with_a_supervisor_unwinds_the_order(money_world):
    """Finding 1: the box office's "Refund and cancel" (a supervisor's password) of a paid
    counter sale: order cancelled, tickets revoked, places back, listed, buyer told."""
    cashier = _member(BOX_OFFICE_GROUP, password="pw-box-money-1")
    supervisor = _member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP, password="pw-sup-money-1")
    counter = Client(REMOTE_ADDR="10.77.1.9")
    counter.force_login(cashier)
    slot = money_world.slot(capacity=5)
    # No sale happens outside a shift.
    shifts.open_shift(
        till=Till.objects.create(name="Money till"),
        cashier=cashier,
        currency=money_world.attraction.currency,
        opening_float="0",
        actor="test",
    )
    sold = counter.post(
        "/box-office/",
        {
            "attraction": money_world.attraction.pk,
            "slot": slot.pk,
            f"q_{money_world.types['adult'].pk}": "2",
            "buyer_name": "",
            "email": BUYER_EMAIL,
            "language": "en",
        },
    )
    assert sold.status_code == 302, sold.content.decode()[:1000]
    order = Order.objects.get()
    paid = counter.post(f"/box-office/sales/{order.code}/pay/", {"buyer_code": SUCCESS_CODE})
    assert paid.status_code == 302
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    mails_before = len(mail.outbox)
    done = counter.post(
        f"/box-office/orders/{order.code}/",
        {"supervisor": supervisor.username, "password": "pw-sup-money-1", "reason": "wrong day"},
    )
    assert done.status_code == 302, done.content.decode()[:1000]  # post/redirect/get
    Payment.objects.get(pk=order.payment_id)  # still there, refunded or being refunded
    assert_tickets_stop_admitting(order, mails_before)


def test_a_reversal_the_sweeper_completes_after_a_failed_cancel_cancels_the_order(
    money_world, clock
):
    """Finding 1 (sweeper path): the cancel of a paid payment first answers SYSTEM_ERROR; the
    poller resumed by the sweeper completes the reversal later, and the order must end unwound."""
    slot = money_world.slot(capacity=5)
    order = book(money_world, slot)
    with no_worker():  # the buyer confirms with a PIN; nobody polls meanwhile
        payment = orders.start_counter_payment(
            order, cancel_system_error(1), store_id="BOX-OFFICE", terminal_id="WEB-1", actor="t"
        )
    assert payment.state == Payment.State.PENDING
    wallet_pays(payment)
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    mails_before = len(mail.outbox)
    with no_worker():  # the retry is left to the sweeper (no worker runs the kicked poller)
        payment = lifecycle.request_cancel(payment, actor="staff:test")
    assert payment.state == Payment.State.CANCELLING
    clock.advance(60)
    payment_tasks.sweep()
    ticketing_tasks.sweep()
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED
    assert_tickets_stop_admitting(order, mails_before)


def test_the_gate_refuses_a_ticket_whose_payment_was_reversed(money_world, clock):
    """Finding 1: after the order's payment is reversed, scanning its ticket at the gate's
    check-in page says "revoked" and admits nobody."""
    slot = money_world.slot(capacity=5)
    order, payment = paid_online_order(money_world, slot, adult=1)
    [token] = tokens_of(order)
    lifecycle.request_cancel(payment, actor="staff:test")
    clock.freeze(slot.starts_at + dt.timedelta(minutes=5))  # inside the entry window
    page = gate_client().post("/gate/", {"token": token}).content.decode()
    verdict = re.search(r'data-code="([a-z_]+)"', page)
    assert verdict and verdict.group(1) == "revoked", f"gate said {verdict and verdict.group(1)}"
    assert not OrderEvent.objects.filter(order=order, kind="ticket_used").exists()


# --- Finding 3: the refund of a duplicate payment survives a lost enqueue ---------------------


def test_a_duplicate_payments_refund_survives_a_crash_after_commit(money_world, clock):
    """Finding 3: a second payment for an order already paid is to be refunded; the process
    dies after payment_paid committed and before its refund task reached the broker (the
    queued task is lost). The sweepers must still refund it: the buyer is never charged twice."""
    slot = money_world.slot(capacity=5)
    order, first = paid_online_order(money_world, slot, adult=1)
    with no_worker():
        # A second payment for the same order (two QR codes both paid; see
        # tests/ticketing/test_order_payments.py for the same production of a duplicate).
        second = lifecycle.create_barcode_payment(
            amount=order.total,
            currency=order.currency,
            description="second payment",
            buyer_code=SUCCESS_CODE,
            reference=order.payment_reference,
            store_id="WEB",
            terminal_id="WEB",
            on_record=orders.link_to(order),  # started by ticketing for this order
        )
    assert OrderEvent.objects.filter(order=order, kind="duplicate_payment").exists()
    OrmQ.objects.all().delete()  # the enqueued refund task is lost with the process
    second.refresh_from_db()
    assert second.state == Payment.State.PAID
    clock.advance(5 * 60)
    payment_tasks.sweep()
    ticketing_tasks.sweep()
    second.refresh_from_db()
    assert second.state == Payment.State.REFUNDED, "the duplicate payment was never refunded"
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.payment_id == first.pk
    first.refresh_from_db()
    assert first.state == Payment.State.PAID
