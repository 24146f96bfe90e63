"""A change of time to tickets that cost more now: the new places held while the buyer pays the
difference with an Alipay QR (the sandbox over real HTTP), the tickets moved once it is paid; a
difference not paid gives the places back and leaves the order as it was; one paid too late is
refunded; an order paid in two payments is refunded across both. Also the two rough edges of
the buyer's cancel: free tickets follow the last paid ones, and a reversal sends one e-mail."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from payments import lifecycle, poller
from payments.models import Payment, Refund
from tests.helpers import no_worker
from tests.payments.helpers import SUCCESS
from ticketing import inventory, orders, tasks
from ticketing.exceptions import ChangePending, PriceDifferenceDue, TicketingError
from ticketing.models import Order, OrderEvent, RefundPolicy, SlotChange, Ticket
from ticketing.orders import rebooking, self_service, slot_cancelling, slot_changes
from ticketing.views.standing import standing

from .helpers import counters
from .money_world import (
    BUYER_EMAIL,
    ask,
    dearer,
    paid_online_order,
    set_up_world,
    trade,
    wallet_pays,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
    world = set_up_world(alipay_gateway, settings)
    RefundPolicy.objects.create(
        attraction=world.attraction,
        cancel_hours_before=12,
        fee_percent=Decimal("10"),
        change_allowed=True,
        change_hours_before=1,
    )
    return world


@pytest.fixture(autouse=True)
def capacity_stays_consistent(transactional_db):
    yield
    assert inventory.check_capacity() == []


def valid(order: Order) -> list[Ticket]:
    return list(order.tickets.filter(state=Ticket.State.VALID).order_by("number"))


def refunds_of(payment: Payment) -> list[Decimal]:
    return list(
        Refund.objects.filter(payment=payment).order_by("pk").values_list("amount", flat=True)
    )


def declined(payment: Payment) -> None:
    """The buyer declines in the wallet; the poller learns it from the sandbox by query."""
    from payments.sandbox.notify import deliver_due_notifications
    from payments.sandbox.trades import buyer_declines

    assert buyer_declines(trade(payment))
    deliver_due_notifications()
    poller.run()


def test_the_difference_is_shown_first_and_nothing_is_held_until_the_buyer_confirms(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, _payment = paid_online_order(world, old, adult=2)
    dearer(world)

    with pytest.raises(PriceDifferenceDue) as due:
        rebooking.change_slot(order, new.pk)
    assert due.value.amount == Decimal("20.00")
    assert due.value.fields == {"pay_difference": "20.00"}
    assert "CNY 20.00" in str(due.value.message)
    # A different amount than the one due (the price moved since it was shown) is asked again.
    with pytest.raises(PriceDifferenceDue):
        rebooking.change_slot(order, new.pk, pay_difference=Decimal("10.00"))
    assert not SlotChange.objects.exists()
    assert counters(new) == (0, 0) and counters(old) == (0, 2)


def test_the_difference_paid_through_the_sandbox_moves_the_tickets_in_one_step(world, mailoutbox):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=2)
    old_uuids = {t.uuid for t in valid(order)}
    dearer(world)

    change = ask(order, new, key="pay-more")
    # The new places are held, the old ones still sold, the old tickets still admit.
    assert change.state == SlotChange.State.AWAITING_PAYMENT
    assert counters(new) == (2, 0) and counters(old) == (0, 2)
    assert {t.uuid for t in valid(order)} == old_uuids
    difference = change.payment
    assert difference.qr_code and difference.amount == Decimal("20.00")
    assert difference.state == Payment.State.PENDING
    # Asked again with the same key: the same change, the same payment.
    again = ask(order, new, key="pay-more")
    assert again.pk == change.pk and again.payment_id == difference.pk
    assert Payment.objects.count() == 2
    # Another change while this one waits is refused, and so is a cancel.
    with pytest.raises(ChangePending):
        rebooking.change_slot(order, world.slot().pk, key="other")
    with pytest.raises(ChangePending):
        self_service.cancel_tickets(order, [1], key="cancel")

    mails_before = len(mailoutbox)
    wallet_pays(difference)

    change.refresh_from_db()
    order.refresh_from_db()
    assert change.state == SlotChange.State.CHANGED
    assert order.slot_id == new.pk and order.state == Order.State.PAID
    assert counters(new) == (0, 2) and counters(old) == (0, 0)
    moved = valid(order)
    assert len(moved) == 2 and {t.slot_id for t in moved} == {new.pk}
    assert {t.price for t in moved} == {Decimal("90.00")}
    assert not {t.uuid for t in moved} & old_uuids
    assert refunds_of(first) == [] and refunds_of(difference) == []
    kinds = list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))
    assert kinds.count("slot_change_requested") == 1 and kinds.count("slot_changed") == 1
    sent = [m for m in mailoutbox[mails_before:] if BUYER_EMAIL in m.to]
    confirm = [m for m in sent if m.subject == f"New time for order {order.code}"]
    assert len(confirm) == 1 and "Price difference paid with Alipay: CNY 20.00" in confirm[0].body
    assert any(m.subject.startswith("Your tickets for") and m.attachments for m in sent)
    # A repeated paid signal changes nothing.
    assert slot_changes.difference_paid(difference) == "already_applied"


def test_a_declined_difference_gives_the_new_places_back_and_leaves_the_order_as_it_was(
    world, admin_client
):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=2)
    before = [(t.uuid, t.state) for t in order.tickets.all()]
    dearer(world)
    change = ask(order, new)

    declined(change.payment)

    change.refresh_from_db()
    order.refresh_from_db()
    assert change.state == SlotChange.State.RELEASED
    assert change.outcome == SlotChange.Outcome.PAYMENT_NOT_COMPLETED
    assert order.slot_id == old.pk and order.state == Order.State.PAID
    assert [(t.uuid, t.state) for t in order.tickets.all()] == before
    assert counters(new) == (0, 0) and counters(old) == (0, 2)
    assert refunds_of(first) == [] and not Refund.objects.exists()
    # The order takes changes again.
    assert self_service.available_actions(order, "en")["change"]
    # Staff see the change and its end on the order, beside its history.
    page = admin_client.get(f"/admin/ticketing/order/{order.pk}/change/").content.decode()
    assert "Not paid: places given back" in page and "slot_change_not_paid" in page


def test_a_difference_never_paid_ends_with_its_qr_and_gives_the_places_back(world, clock):
    old, new = world.slot(capacity=5), world.slot(capacity=2)
    order, _first = paid_online_order(world, old, adult=2)
    dearer(world)
    change = ask(order, new)
    assert counters(new) == (2, 0)

    # Past the hold: kept while the QR may still be paid (its deadline adds a grace).
    clock.advance(16 * 60)
    assert tasks.sweep()["changes"] == 0
    assert counters(new) == (2, 0)
    # Past the QR's deadline: the poller's last query, then its cancel, end the payment.
    clock.advance(5 * 60)
    with no_worker():
        while poller.run_round(None):
            pass
    change.refresh_from_db()
    assert change.payment.state in (Payment.State.CANCELLED, Payment.State.FAILED)
    assert change.state == SlotChange.State.RELEASED
    assert counters(new) == (0, 0) and counters(old) == (0, 2)
    order.refresh_from_db()
    assert order.slot_id == old.pk and len(valid(order)) == 2


def test_a_difference_paid_after_the_places_went_back_is_refunded_automatically(
    world, clock, mailoutbox, settings
):
    old, new = world.slot(capacity=5), world.slot(capacity=2)
    order, first = paid_online_order(world, old, adult=2)
    dearer(world)
    # The payment cannot start (the gateway is misconfigured): the places stay held for a retry.
    gateway = settings.ALIPAY
    settings.ALIPAY = {**gateway, "PARTNER_ID": "not-a-partner"}
    with pytest.raises(TicketingError) as unavailable:
        ask(order, new)
    assert unavailable.value.code == "payment_unavailable"
    settings.ALIPAY = gateway
    change = SlotChange.objects.get(order=order)
    assert change.payment is None and counters(new) == (2, 0)
    # Nobody retried: the hold ends, and someone else takes the last places.
    clock.advance(16 * 60)
    assert tasks.sweep()["changes"] == 1
    change.refresh_from_db()
    assert change.state == SlotChange.State.RELEASED and counters(new) == (0, 0)
    world.order(new, adult=2)
    # Then the difference is paid after all (found by reconciliation, say): given back.
    late = lifecycle.create_barcode_payment(
        amount=change.amount,
        currency=change.currency,
        description="late difference",
        buyer_code=SUCCESS,
        reference=f"{order.payment_reference}:change",
        store_id="WEB",
        terminal_id="WEB",
        on_record=slot_changes.link_to(change),
    )

    late.refresh_from_db()
    change.refresh_from_db()
    order.refresh_from_db()
    assert change.state == SlotChange.State.REFUNDED
    assert change.outcome == SlotChange.Outcome.PAID_TOO_LATE
    assert late.state == Payment.State.REFUNDED and refunds_of(late) == [Decimal("20.00")]
    assert order.slot_id == old.pk and len(valid(order)) == 2 and refunds_of(first) == []
    assert counters(old) == (0, 2) and counters(new) == (2, 0)
    told = [m for m in mailoutbox if m.subject == f"Time change for order {order.code} not made"]
    assert len(told) == 1 and "CNY 20.00" in told[0].body


def test_a_difference_paid_after_the_order_was_cancelled_is_refunded_and_the_hold_freed(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=2)
    dearer(world)
    change = ask(order, new)
    # Staff cancel the order meanwhile (the buyer's own cancel waits for the change), with no
    # worker chasing the difference's QR to its deadline inline.
    with no_worker():
        orders.cancel_order(order, actor="admin:test", reason="visitor ill")

    wallet_pays(change.payment)

    change.refresh_from_db()
    assert change.state == SlotChange.State.REFUNDED
    assert change.outcome == SlotChange.Outcome.ORDER_CHANGED
    assert refunds_of(change.payment) == [Decimal("20.00")]
    assert refunds_of(first) == [Decimal("160.00")]
    assert counters(new) == (0, 0) and counters(old) == (0, 0)


def test_a_difference_paid_for_a_time_staff_closed_meanwhile_is_refunded(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, _first = paid_online_order(world, old, adult=2)
    dearer(world)
    change = ask(order, new)
    # The new time is called off for weather while the buyer scans the QR.
    with no_worker():
        slot_cancelling.start(new, actor="admin:test", reason="storm")

    wallet_pays(change.payment)

    change.refresh_from_db()
    order.refresh_from_db()
    assert change.state == SlotChange.State.REFUNDED
    assert change.outcome == SlotChange.Outcome.ORDER_CHANGED
    assert refunds_of(change.payment) == [Decimal("20.00")]
    assert order.slot_id == old.pk and order.state == Order.State.PAID
    assert counters(new) == (0, 0) and counters(old) == (0, 2)


def test_giving_up_cancels_the_payment_and_frees_the_places(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, _first = paid_online_order(world, old, adult=2)
    dearer(world)
    change = ask(order, new)

    after = slot_changes.give_up(order, key="keep")
    slot_changes.give_up(order, key="keep")

    change.refresh_from_db()
    assert change.state == SlotChange.State.RELEASED
    assert change.outcome == SlotChange.Outcome.GIVEN_UP
    assert change.payment.state in (Payment.State.CANCELLING, Payment.State.CANCELLED)
    assert after.slot_id == old.pk and counters(new) == (0, 0) and counters(old) == (0, 2)
    assert OrderEvent.objects.filter(order=order, kind="slot_change_given_up").count() == 1


def test_an_order_paid_in_two_payments_is_refunded_across_both(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=2)  # 2 x 80.00
    dearer(world)
    change = ask(order, new)
    wallet_pays(change.payment)  # 20.00 more: two tickets at 90.00
    second = change.payment

    # One ticket (90.00, 10 % fee): 81.00 from the order's own payment.
    self_service.cancel_tickets(order, [valid(order)[0].number], key="one")
    assert refunds_of(first) == [Decimal("81.00")] and refunds_of(second) == []
    # The last one: 81.00 more, 79.00 left of the first payment, 2.00 from the difference.
    after = self_service.cancel_tickets(order, [valid(order)[0].number], key="two")
    assert refunds_of(first) == [Decimal("81.00"), Decimal("79.00")]
    assert refunds_of(second) == [Decimal("2.00")]
    assert after.state == Order.State.CANCELLED and valid(after) == []
    assert counters(new) == (0, 0)


def test_a_full_refund_of_an_order_paid_in_two_payments_ends_refunded(world):
    RefundPolicy.objects.filter(attraction=world.attraction).update(fee_percent=0)
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=2)
    dearer(world)
    change = ask(order, new)
    wallet_pays(change.payment)

    # No fee and the same day, but two payments: refunded (both), never half reversed.
    after = self_service.cancel_tickets(order, [t.number for t in valid(order)])

    first.refresh_from_db()
    change.payment.refresh_from_db()
    after.refresh_from_db()
    assert (first.state, change.payment.state) == (Payment.State.REFUNDED,) * 2
    assert after.state == Order.State.REFUNDED and valid(after) == []
    # The order page speaks of all the buyer paid: 160.00 and the 20.00 difference.
    said = standing(after, orders.order_status(after)).lines
    assert "The full amount of CNY 180.00 has been refunded to your Alipay account." in said


def test_money_given_back_by_staff_unwinds_the_order_and_returns_the_difference_too(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=2)
    dearer(world)
    change = ask(order, new)
    wallet_pays(change.payment)

    lifecycle.request_refund(first, amount=first.amount, reason="staff", actor="admin:test")

    order.refresh_from_db()
    change.payment.refresh_from_db()
    assert valid(order) == [] and counters(new) == (0, 0)
    assert change.payment.state == Payment.State.REFUNDED
    assert order.state == Order.State.REFUNDED


def test_a_ticket_cancel_emptying_the_first_payment_keeps_the_tickets_the_difference_paid(world):
    RefundPolicy.objects.filter(attraction=world.attraction).update(fee_percent=0)
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=1, child=1)  # 80 + 40 = 120
    dearer(world, "120.00")
    change = ask(order, new, amount="40.00")
    wallet_pays(change.payment)
    adult = next(t for t in valid(order) if t.ticket_type.code == "adult")

    # 120.00 back: all of the first payment, which ends refunded; the child's ticket stays.
    after = self_service.cancel_tickets(order, [adult.number])

    first.refresh_from_db()
    assert first.state == Payment.State.REFUNDED
    after.refresh_from_db()
    assert after.state == Order.State.PAID
    assert [t.ticket_type.code for t in valid(after)] == ["child"]
    assert counters(new) == (0, 1)
    tasks.sweep()
    after.refresh_from_db()
    assert after.state == Order.State.PAID and len(valid(after)) == 1


def test_two_devices_asking_a_dearer_change_and_a_cancel_at_once_end_consistently(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=3)
    dearer(world)
    start = threading.Barrier(3)
    outcomes: dict[str, str] = {}

    def device(name: str, act) -> None:
        try:
            start.wait()
            act(Order.objects.get(pk=order.pk))
            outcomes[name] = "done"
        except TicketingError as exc:
            outcomes[name] = exc.code
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=device,
            args=(
                "change",
                lambda o: rebooking.change_slot(o, new.pk, pay_difference=Decimal("30.00")),
            ),
        ),
        threading.Thread(
            target=device,
            args=(
                "change again",
                lambda o: rebooking.change_slot(o, new.pk, pay_difference=Decimal("30.00")),
            ),
        ),
        threading.Thread(
            target=device, args=("cancel", lambda o: self_service.cancel_tickets(o, [1, 2, 3]))
        ),
    ]
    # No worker chases the difference's QR to its deadline inline (set once: the flag is global).
    with no_worker():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    order.refresh_from_db()
    changes = list(SlotChange.objects.filter(order=order))
    # Never two changes, never two difference payments, never a refund and a change at once.
    assert len(changes) <= 1
    assert Payment.objects.exclude(pk=first.pk).count() == len(changes)
    if outcomes["cancel"] == "done":
        assert changes == [] and valid(order) == []
        assert (
            sorted([outcomes["change"], outcomes["change again"]]) == ["order_state_conflict"] * 2
        )
        assert refunds_of(first) == [Decimal("216.00")]
        assert counters(new) == (0, 0)
    else:
        assert outcomes["cancel"] == "change_pending" and refunds_of(first) == []
        assert sorted([outcomes["change"], outcomes["change again"]]) == [
            "change_pending",
            "done",
        ]
        assert counters(new) == (3, 0)
        # The winner's difference is paid: one change, one charge.
        wallet_pays(changes[0].payment)
        order.refresh_from_db()
        assert order.slot_id == new.pk and len(valid(order)) == 3
        assert counters(new) == (0, 3) and counters(old) == (0, 0)


def test_a_difference_landing_while_the_buyer_gives_up_is_kept_or_given_back_once(world):
    from payments.sandbox.notify import deliver_due_notifications
    from payments.sandbox.trades import buyer_confirms

    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=2)
    dearer(world)
    change = ask(order, new)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(act) -> None:
        try:
            start.wait()
            act()
        except BaseException as exc:  # reported in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    def wallet() -> None:
        if buyer_confirms(trade(change.payment)):  # too late if the give-up closed it first
            deliver_due_notifications()

    threads = [
        threading.Thread(target=run, args=(wallet,)),
        threading.Thread(target=run, args=(lambda: slot_changes.give_up(order),)),
    ]
    with no_worker():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    poller.run()  # the cancel, the refund or the last query, whichever is due
    tasks.sweep()

    change.refresh_from_db()
    difference = Payment.objects.get(pk=change.payment_id)
    order.refresh_from_db()
    back = sum(
        Refund.objects.filter(payment=difference, state=Refund.State.SUCCEEDED).values_list(
            "amount", flat=True
        ),
        Decimal("0"),
    )
    if change.state == SlotChange.State.CHANGED:
        assert difference.state == Payment.State.PAID and back == 0
        assert order.slot_id == new.pk and counters(new) == (0, 2)
    else:
        # Kept the current time: the difference was never taken, or went back exactly once.
        assert order.slot_id == old.pk and counters(new) == (0, 0) and counters(old) == (0, 2)
        if difference.state == Payment.State.REFUNDED:
            assert back == Decimal("20.00")
        else:
            assert difference.state in (Payment.State.CANCELLED, Payment.State.FAILED)
            assert back == 0
    assert refunds_of(first) == []


def test_a_cheaper_time_is_refunded_the_difference_once(world):
    old, new = world.slot(capacity=5), world.slot(capacity=5)
    order, first = paid_online_order(world, old, adult=2)
    dearer(world, "75.00")
    rebooking.change_slot(order, new.pk, key="cheaper")
    rebooking.change_slot(order, new.pk, key="cheaper")
    assert refunds_of(first) == [Decimal("10.00")]
    first.refresh_from_db()
    assert first.state == Payment.State.PARTIALLY_REFUNDED
    order.refresh_from_db()
    assert order.state == Order.State.PAID and {t.price for t in valid(order)} == {Decimal("75.00")}


# --- The buyer's cancel: free tickets, one e-mail -----------------------------------------------


def test_a_partial_cancel_keeps_the_free_tickets_and_the_last_paid_one_takes_them_along(world):
    RefundPolicy.objects.filter(attraction=world.attraction).update(fee_percent=0)
    slot = world.slot(capacity=5)
    order, payment = paid_online_order(world, slot, adult=2, infant=1)
    adults = [t.number for t in valid(order) if t.price > 0]
    infant = next(t.number for t in valid(order) if t.price == 0)

    self_service.cancel_tickets(order, [adults[0]], key="first")
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert sorted(t.number for t in valid(order)) == sorted([adults[1], infant])

    quote = self_service.quote_cancel(order, [adults[1]])
    assert quote.whole_order and quote.free_added == (infant,)
    assert sorted(quote.numbers) == sorted([adults[1], infant])
    after = self_service.cancel_tickets(order, [adults[1]], key="last")

    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED
    assert refunds_of(payment) == [Decimal("80.00"), Decimal("80.00")]
    after.refresh_from_db()
    assert valid(after) == [] and after.state == Order.State.REFUNDED
    assert counters(slot) == (0, 0)


def test_cancelling_every_paid_ticket_of_the_day_reverses_once_and_sends_one_email(
    world, mailoutbox
):
    RefundPolicy.objects.filter(attraction=world.attraction).update(fee_percent=0)
    order, payment = paid_online_order(world, world.slot(capacity=5), adult=1, infant=1)
    adult = next(t.number for t in valid(order) if t.price > 0)
    before = len(mailoutbox)

    after = self_service.cancel_tickets(order, [adult])

    payment.refresh_from_db()
    assert payment.state in (Payment.State.CANCELLING, Payment.State.CANCELLED)
    assert refunds_of(payment) == []
    assert valid(after) == []
    after.refresh_from_db()
    assert after.outcome_reason == Order.OutcomeReason.CANCELLED_REFUND
    sent = [m.subject for m in mailoutbox[before:] if BUYER_EMAIL in m.to]
    assert sent == [f"Tickets of order {order.code} cancelled"]
    assert OrderEvent.objects.filter(order=order, kind="cancelled_by_buyer").count() == 1
