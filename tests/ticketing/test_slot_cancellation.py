"""Cancelling a whole time slot from the admin (the attraction closes for weather), over the
sandbox's real HTTP: a dry run first, then every order ended by the background task (django-q2's
worker, inline in the tests' sync mode), paid ones refunded, holds stopped, the box office's
sales too, each buyer told once; a progress page; failures shown; twice refunds nothing twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django_q.brokers import get_broker

from payments import poller
from payments.models import Payment, Refund
from tests.helpers import no_worker
from tests.staff import (
    confirmation_fields,
    offered_actions,
    role_member,
    run_action,
    run_confirmed,
    signed_in,
    staff_with,
)
from ticketing import inventory, tasks
from ticketing.counter import sales
from ticketing.models import Order, SlotCancellation, SlotCancellationOrder, Ticket, TimeSlot
from ticketing.orders import slot_cancelling
from ticketing.views.box_office import SUPERVISORS_GROUP

from ..box_office.helpers import member
from .helpers import counters
from .money_world import book, set_up_world, start_qr
from .staff_world import (
    SLOTS,
    counter_alipay_sale,
    counter_cash_sale,
    counter_sale,
    counter_shift,
    mails_about,
    paid_order,
)

pytestmark = pytest.mark.django_db(transaction=True)

Outcome = SlotCancellationOrder.Outcome


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
    return set_up_world(alipay_gateway, settings)


@pytest.fixture(autouse=True)
def capacity_stays_consistent(transactional_db):
    yield
    assert inventory.check_capacity() == []


def progress_url(run: SlotCancellation) -> str:
    return f"/admin/ticketing/slotcancellation/{run.pk}/progress.json"


def crowded_slot(world):
    """A slot with every kind of order: paid online (2), held, awaiting its QR payment, and at
    the box office paid with Alipay, paid in cash and held (no e-mail address)."""
    slot = world.slot(capacity=30)
    shift = counter_shift()
    orders = {
        "paid": paid_order(world, slot, adult=2)[0],  # CNY 160.00
        "paid_family": paid_order(world, slot, family=1)[0],  # CNY 200.00
        "held": book(world, slot, adult=1),
        "awaiting": book(world, slot, child=1),
        "counter_alipay": counter_alipay_sale(
            world, shift, slot, email="walkin@example.com", adult=1
        ),  # CNY 80.00
        "counter_cash": counter_cash_sale(
            world, shift, slot, email="cash@example.com", adult=2
        ),  # CNY 160.00
        "counter_held": counter_sale(world, shift, slot, adult=1),
    }
    start_qr(orders["awaiting"])
    for order in orders.values():
        order.refresh_from_db()
    assert orders["awaiting"].state == Order.State.AWAITING_PAYMENT
    assert counters(slot) == (3, 9)
    return slot, shift, orders


def snapshot(slot: TimeSlot) -> tuple:
    slot.refresh_from_db()
    return (
        slot.is_open,
        (slot.held, slot.sold),
        sorted(Order.objects.filter(slot=slot).values_list("pk", "state")),
        Refund.objects.count(),
        SlotCancellation.objects.count(),
    )


def test_a_dry_run_shows_the_orders_and_the_money_and_changes_nothing(world, admin_client):
    slot, _shift, _orders = crowded_slot(world)
    before = snapshot(slot)
    page = run_action(admin_client, SLOTS, "cancel_slot_orders", slot)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Open orders to cancel: 7, in time slots: 1." in text
    assert "3 paid orders refunded to Alipay" in text
    assert "1 cash sale owed back at the box office" in text
    assert "2 reservations cancelled" in text
    assert "1 reservation cancelled with its payment in progress stopped" in text
    # 160 + 200 + 80 to Alipay, 160 in cash: four orders give money back.
    assert [(r["currency"], r["count"], r["sum"]) for r in page.context["totals"]] == [
        ("CNY", 4, "CNY 600.00")
    ]
    assert snapshot(slot) == before
    # The slot's own page offers the same, as a button.
    assert "cancel-orders/" in admin_client.get(f"{SLOTS}{slot.pk}/change/").content.decode()
    assert admin_client.get(f"{SLOTS}{slot.pk}/cancel-orders/").context["count"] == 1
    assert snapshot(slot) == before


def test_cancelling_a_slot_ends_every_order_refunds_the_paid_and_tells_each_buyer_once(
    world, admin_client
):
    slot, shift, orders = crowded_slot(world)
    answer = run_confirmed(
        admin_client, SLOTS, "cancel_slot_orders", slot, reason="Typhoon warning"
    )
    run = SlotCancellation.objects.get()
    assert answer.redirect_chain[-1][0] == f"/admin/ticketing/slotcancellation/{run.pk}/change/"
    assert (run.state, run.total, run.done, run.failed) == ("done", 7, 7, 0)
    assert answer.context["progress"]["percent"] == 100
    assert 'data-testid="progress-bar"' in answer.content.decode()
    assert admin_client.get(progress_url(run)).json()["finished"] == 7

    slot.refresh_from_db()
    assert not slot.is_open and counters(slot) == (0, 0)
    states = {name: Order.objects.get(pk=o.pk).state for name, o in orders.items()}
    # Stopping the awaiting order's payment runs the poller inline, whose naps move the frozen
    # clock: on a slower database its hold may run out first, and it ends expired, not
    # cancelled. Either way its places are back (counters above) and nothing was charged.
    awaiting_state = states.pop("awaiting")
    assert awaiting_state in (Order.State.CANCELLED, Order.State.EXPIRED)
    assert states == {
        "paid": Order.State.REFUNDED,
        "paid_family": Order.State.REFUNDED,
        "held": Order.State.CANCELLED,
        "counter_alipay": Order.State.REFUNDED,
        "counter_cash": Order.State.REFUND_PENDING,  # its cash is owed at the counter
        "counter_held": Order.State.CANCELLED,
    }
    assert not Ticket.objects.filter(slot=slot, state=Ticket.State.VALID).exists()
    awaiting = Order.objects.get(pk=orders["awaiting"].pk)
    assert awaiting.payment.state in (
        Payment.State.CANCELLING,
        Payment.State.CANCELLED,
        Payment.State.FAILED,  # its deadline passed on the moved clock first: never charged
    )
    refunded = {
        o.code: list(Refund.objects.filter(payment_id=o.payment_id).values_list("amount", "state"))
        for o in (orders["paid"], orders["paid_family"], orders["counter_alipay"])
    }
    assert refunded == {
        orders["paid"].code: [(Decimal("160.00"), Refund.State.SUCCEEDED)],
        orders["paid_family"].code: [(Decimal("200.00"), Refund.State.SUCCEEDED)],
        orders["counter_alipay"].code: [(Decimal("80.00"), Refund.State.SUCCEEDED)],
    }
    outcomes = dict(run.orders.values_list("order__code", "outcome"))
    assert outcomes[orders["counter_cash"].code] == Outcome.CASH_DUE
    assert outcomes[orders["held"].code] == Outcome.CANCELLED
    for name, order in orders.items():
        mails = mails_about(order)
        # A hold that ran out before the cancel reached it has nothing to be told about.
        ended_first = name == "awaiting" and awaiting_state == Order.State.EXPIRED
        assert len(mails) == (0 if not order.email or ended_first else 1), name
        if mails:
            assert "Typhoon warning" in mails[0].body
    assert "paid back to you at the box office" in mails_about(orders["counter_cash"])[0].body

    # The box office pays the cash out of a drawer, approved by a supervisor.
    sales.refund(
        orders["counter_cash"], shift, actor="cashier", supervisor=member(SUPERVISORS_GROUP),
        reason="typhoon",
    )  # fmt: skip
    assert Order.objects.get(pk=orders["counter_cash"].pk).state == Order.State.REFUNDED

    # Asked again: nothing is left to end, nothing is refunded or told twice.
    refunds, mails = Refund.objects.count(), len(mails_about(orders["paid"]))
    run_confirmed(admin_client, SLOTS, "cancel_slot_orders", slot, reason="Typhoon warning")
    again = SlotCancellation.objects.order_by("-pk").first()
    assert (again.pk != run.pk, again.state, again.total) == (True, "done", 0)
    assert Refund.objects.count() == refunds and len(mails_about(orders["paid"])) == mails


def test_a_failed_order_is_shown_and_a_second_run_finishes_it_without_refunding_twice(
    world, admin_client
):
    slot = world.slot(capacity=10)
    good, _ = paid_order(world, slot, adult=1)
    stuck, stuck_payment = paid_order(world, slot, adult=2)
    # A reversal an older version started without unwinding the order: the refund is refused.
    Payment.objects.filter(pk=stuck_payment.pk).update(state=Payment.State.CANCELLING)

    answer = run_confirmed(admin_client, SLOTS, "cancel_slot_orders", slot, reason="Storm")
    run = SlotCancellation.objects.get()
    assert (run.state, run.done, run.failed) == ("done", 1, 1)
    failures = answer.context["failures"]
    assert [f.order.code for f in failures] == [stuck.code]
    assert "cannot be refunded" in answer.content.decode()
    assert Order.objects.get(pk=stuck.pk).state == Order.State.PAID  # its tickets still admit
    assert Order.objects.get(pk=good.pk).state == Order.State.REFUNDED

    Payment.objects.filter(pk=stuck_payment.pk).update(state=Payment.State.PAID)
    run_confirmed(admin_client, SLOTS, "cancel_slot_orders", slot, reason="Storm")
    second = SlotCancellation.objects.order_by("-pk").first()
    assert (second.total, second.done, second.failed) == (1, 1, 0)
    assert Order.objects.get(pk=stuck.pk).state == Order.State.REFUNDED
    assert Refund.objects.filter(payment_id=good.payment_id).count() == 1
    assert len(mails_about(good)) == 1 and len(mails_about(stuck)) == 1


def test_the_task_waits_in_the_broker_then_a_worker_runs_it_in_bounded_steps(world, admin_client):
    slot = world.slot(capacity=10)
    first, _ = paid_order(world, slot, adult=1)
    second = book(world, slot, adult=1)
    broker = get_broker()
    with no_worker():
        queued = broker.queue_size()
        run_confirmed(admin_client, SLOTS, "cancel_slot_orders", slot, reason="Flood")
        run = SlotCancellation.objects.get()
        # Queued, not run (other work, a poller's kick, may be queued beside it).
        assert broker.queue_size() > queued
        queued = broker.queue_size()
        status = admin_client.get(progress_url(run)).json()
        assert (status["state"], status["finished"], status["percent"]) == ("queued", 0, 0)
        page = admin_client.get(f"/admin/ticketing/slotcancellation/{run.pk}/change/")
        assert "ticketing_admin/progress.js" in page.content.decode()
        slot.refresh_from_db()
        assert not slot.is_open  # closed for sale at once
        # A worker with no time left does one order and queues the rest.
        slot_cancelling.run(run.pk, seconds=0)
        status = admin_client.get(progress_url(run)).json()
        assert (status["state"], status["finished"], status["total"]) == ("running", 1, 2)
        assert broker.queue_size() > queued
    tasks.cancel_slot(run.pk)  # what the worker runs
    # The refund recorded while no worker ran waits for the poller its record kicked, as a
    # worker would run it (which order went first depends on the database).
    poller.run()
    assert admin_client.get(progress_url(run)).json()["state"] == "done"
    assert {Order.objects.get(pk=o.pk).state for o in (first, second)} == {
        Order.State.REFUNDED,
        Order.State.CANCELLED,
    }


def test_the_sweeper_resumes_a_cancellation_whose_task_was_lost(world, admin_client, clock):
    slot = world.slot(capacity=10)
    order = book(world, slot, adult=1)
    with no_worker():
        run_confirmed(admin_client, SLOTS, "cancel_slot_orders", slot, reason="Fog")
    get_broker().purge_queue()  # the broker lost it
    run = SlotCancellation.objects.get()
    assert tasks.sweep()["slot_cancellations"] == 0  # not stale yet
    clock.advance(3 * 60)
    assert tasks.sweep()["slot_cancellations"] == 1
    run.refresh_from_db()
    assert run.state == "done" and Order.objects.get(pk=order.pk).state == Order.State.CANCELLED


# --- Who may do what -------------------------------------------------------------------------


def test_view_only_staff_cannot_cancel_a_slot_nor_watch_one(world, admin_client):
    slot = world.slot(capacity=10)
    book(world, slot, adult=1)
    viewer = signed_in(staff_with("ticketing.view_timeslot"))
    assert offered_actions(viewer, SLOTS) == set()
    assert viewer.get(f"{SLOTS}{slot.pk}/cancel-orders/").status_code == 403
    assert viewer.post(f"{SLOTS}{slot.pk}/cancel-orders/", {"reason": "x"}).status_code == 403
    run_action(viewer, SLOTS, "cancel_slot_orders", slot)
    slot.refresh_from_db()
    assert slot.is_open and not SlotCancellation.objects.exists()
    run_confirmed(admin_client, SLOTS, "cancel_slot_orders", slot, reason="Fog")
    run = SlotCancellation.objects.get()
    assert viewer.get(progress_url(run)).status_code == 403


def test_support_is_refused_a_slot_over_the_limit_and_finance_is_not(world, settings):
    settings.SUPPORT_REFUND_LIMIT = {"*": Decimal("300")}
    slot = world.slot(capacity=10)
    paid_order(world, slot, adult=2)
    paid_order(world, slot, adult=2)  # CNY 320.00 in all
    support = signed_in(role_member("Support"))
    assert "cancel_slot_orders" in offered_actions(support, SLOTS)
    page = run_action(support, SLOTS, "cancel_slot_orders", slot)
    assert "above your refund limit of CNY 300.00" in page.content.decode()
    assert not page.context["can_confirm"]
    fields = {name: [value] for name, value in page.context["carry"]}
    forged = support.post(
        SLOTS, {**fields, "confirmed": "yes", "plan_digest": page.context["digest"], "reason": "x"}
    )
    assert forged.status_code == 403
    slot.refresh_from_db()
    assert slot.is_open and not SlotCancellation.objects.exists()

    finance = signed_in(role_member("Finance"))
    page = run_action(finance, SLOTS, "cancel_slot_orders", slot)
    assert page.context["can_confirm"]
    finance.post(SLOTS, {**confirmation_fields(page), "reason": "Storm"})
    assert SlotCancellation.objects.get().state == "done"
    assert Refund.objects.filter(state=Refund.State.SUCCEEDED).count() == 2


def test_cancelling_a_slot_with_paid_orders_needs_the_refund_permission(world):
    slot = world.slot(capacity=10)
    paid_order(world, slot, adult=1)
    planner = staff_with("ticketing.view_timeslot", "ticketing.cancel_slot")
    page = run_action(signed_in(planner), SLOTS, "cancel_slot_orders", slot)
    assert "needs the refund permission" in page.content.decode()
    assert not page.context["can_confirm"]
    planner.user_permissions.add(Permission.objects.get(codename="refund_payment"))
    page = run_action(signed_in(planner), SLOTS, "cancel_slot_orders", slot)
    assert page.context["can_confirm"]
