"""A buyer's own changes to a paid or held order, over the sandbox's real HTTP: giving back a
hold, cancelling some or all tickets under the refund policy, and two devices at once."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from payments.models import Payment, Refund
from ticketing import inventory
from ticketing.exceptions import (
    InvalidTicketChoice,
    NeverRefundable,
    NotCancellableNow,
    NotChangeableNow,
    OrderStateConflict,
    PriceDifferenceDue,
    SlotUnavailable,
    SoldOut,
    TicketingError,
)
from ticketing.models import Order, OrderEvent, RefundPolicy, Ticket
from ticketing.orders import rebooking, self_service

from .helpers import counters
from .money_world import (
    BUYER_EMAIL,
    book,
    paid_online_order,
    revoked_uuids,
    set_up_world,
    start_qr,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
    world = set_up_world(alipay_gateway, settings)
    RefundPolicy.objects.create(
        attraction=world.attraction, cancel_hours_before=12, fee_percent=Decimal("10")
    )
    return world


@pytest.fixture(autouse=True)
def capacity_stays_consistent(transactional_db):
    yield
    assert inventory.check_capacity() == []


def valid_numbers(order: Order) -> list[int]:
    return list(
        order.tickets.filter(state=Ticket.State.VALID)
        .order_by("number")
        .values_list("number", flat=True)
    )


def refunds_of(payment: Payment) -> list[Decimal]:
    return list(Refund.objects.filter(payment=payment).values_list("amount", flat=True))


def test_giving_back_a_hold_returns_the_places_at_once_and_only_once(world, mailoutbox):
    slot = world.slot(capacity=10)
    order = book(world, slot, adult=3)
    assert counters(slot) == (3, 0)

    given_back = self_service.give_back_hold(order, key="k1")
    assert given_back.state == Order.State.CANCELLED
    assert counters(slot) == (0, 0)
    assert self_service.give_back_hold(order, key="k1").state == Order.State.CANCELLED
    assert OrderEvent.objects.filter(order=order, kind="hold_given_back").count() == 1
    assert [m.subject for m in mailoutbox if BUYER_EMAIL in m.to] == [
        f"Your reservation {order.code} is cancelled"
    ]


def test_giving_back_a_hold_with_a_payment_in_progress_cancels_the_payment(world):
    slot = world.slot(capacity=10)
    order = book(world, slot, adult=2)
    payment = start_qr(order)
    assert payment.state in Payment.IN_FLIGHT_STATES

    self_service.give_back_hold(order)

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == Order.State.CANCELLED
    assert counters(slot) == (0, 0)
    assert payment.state in (Payment.State.CANCELLING, Payment.State.CANCELLED)


def test_a_paid_order_is_not_given_back_as_a_hold(world):
    order, _payment = paid_online_order(world, world.slot(), adult=1)
    with pytest.raises(OrderStateConflict):
        self_service.give_back_hold(order)


def test_cancelling_one_of_three_tickets_refunds_it_after_the_fee_and_keeps_the_others(
    world, mailoutbox
):
    slot = world.slot(capacity=10)
    order, payment = paid_online_order(world, slot, adult=3)  # 3 x CNY 80.00

    quote = self_service.quote_cancel(order, [2])
    assert (quote.amount, quote.fee, quote.refund) == (
        Decimal("80.00"),
        Decimal("8.00"),
        Decimal("72.00"),
    )
    after = self_service.cancel_tickets(order, [2], key="one")

    assert after.state == Order.State.PAID
    assert valid_numbers(after) == [1, 3]
    assert after.admissions == 2
    assert counters(slot) == (0, 2)
    assert refunds_of(payment) == [Decimal("72.00")]
    revoked = Ticket.objects.get(order=order, number=2)
    from django.test import Client

    assert str(revoked.uuid) in revoked_uuids(Client())
    assert OrderEvent.objects.filter(order=order, kind="tickets_cancelled").count() == 1
    mail = [m for m in mailoutbox if m.subject == f"Tickets of order {order.code} cancelled"]
    assert len(mail) == 1 and "CNY 72.00" in mail[0].body

    # The same request again (same key) changes nothing.
    self_service.cancel_tickets(order, [2], key="one")
    assert refunds_of(payment) == [Decimal("72.00")]


def test_a_family_ticket_is_cancelled_as_a_whole_unit(world):
    slot = world.slot(capacity=10)
    order, payment = paid_online_order(world, slot, family=1, adult=1)
    numbers = valid_numbers(order)
    family = [
        n for n in numbers if Ticket.objects.get(order=order, number=n).ticket_type.code == "family"
    ]
    assert len(family) == 4

    # Naming one part of the family ticket cancels all four.
    self_service.cancel_tickets(order, [family[2]])

    order.refresh_from_db()
    assert sorted(set(numbers) - set(valid_numbers(order))) == family
    assert counters(slot) == (0, 1)
    assert order.admissions == 1
    assert refunds_of(payment) == [Decimal("180.00")]  # 200.00 less 10 %


def test_a_never_refundable_ticket_type_cannot_be_cancelled(world):
    world.types["child"].refundable = False
    world.types["child"].save()
    order, payment = paid_online_order(world, world.slot(), adult=1, child=1)
    child = order.tickets.get(ticket_type=world.types["child"]).number
    with pytest.raises(NeverRefundable):
        self_service.cancel_tickets(order, [child])
    assert refunds_of(payment) == []
    assert len(valid_numbers(order)) == 2


def test_a_ticket_not_in_the_order_is_a_clear_error(world):
    order, _payment = paid_online_order(world, world.slot(), adult=1)
    with pytest.raises(InvalidTicketChoice):
        self_service.cancel_tickets(order, [99])


def test_cancelling_one_second_before_the_cut_off_works_and_one_second_after_is_refused(
    world, clock
):
    slot = world.slot(hours_ahead=30)
    order, payment = paid_online_order(world, slot, adult=2)
    cut_off = slot.starts_at - dt.timedelta(hours=12)

    clock.freeze(cut_off + dt.timedelta(seconds=1))
    with pytest.raises(NotCancellableNow):
        self_service.cancel_tickets(order, [1])
    clock.freeze(cut_off - dt.timedelta(seconds=1))
    self_service.cancel_tickets(order, [1])
    assert refunds_of(payment) == [Decimal("72.00")]


def test_cancelling_the_whole_order_without_a_fee_on_the_same_day_reverses_the_payment(world):
    RefundPolicy.objects.filter(attraction=world.attraction).update(fee_percent=0)
    slot = world.slot(capacity=10)
    order, payment = paid_online_order(world, slot, adult=2)

    after = self_service.cancel_tickets(order, [1, 2])

    payment.refresh_from_db()
    assert payment.state in (Payment.State.CANCELLING, Payment.State.CANCELLED)
    assert refunds_of(payment) == []
    assert after.state in (Order.State.REFUND_PENDING, Order.State.CANCELLED)
    assert valid_numbers(after) == []
    assert counters(slot) == (0, 0)


def test_cancelling_the_whole_order_with_a_fee_refunds_the_rest_and_ends_it(world):
    slot = world.slot(capacity=10)
    order, payment = paid_online_order(world, slot, adult=2)

    after = self_service.cancel_tickets(order, [1, 2])

    assert after.state == Order.State.CANCELLED
    assert refunds_of(payment) == [Decimal("144.00")]
    assert valid_numbers(after) == []
    assert counters(slot) == (0, 0)


def test_two_devices_cancelling_at_once_never_refund_twice(world):
    slot = world.slot(capacity=10)
    order, payment = paid_online_order(world, slot, adult=3)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def device(numbers: list[int]) -> None:
        try:
            start.wait()
            self_service.cancel_tickets(Order.objects.get(pk=order.pk), numbers)
            outcomes.append("done")
        except TicketingError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=device, args=([1, 2, 3],)),
        threading.Thread(target=device, args=([2],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    order.refresh_from_db()
    # Whichever came first, the other decided on what it left: one refund, never two.
    revoked = order.tickets.filter(state=Ticket.State.REVOKED).count()
    if refunds_of(payment) == [Decimal("216.00")]:  # the whole order first
        assert sorted(outcomes) == ["done", "order_state_conflict"] and revoked == 3
        assert order.state == Order.State.CANCELLED
    else:  # ticket 2 first; the whole-order cancel named a ticket no longer valid
        assert refunds_of(payment) == [Decimal("72.00")]
        assert sorted(outcomes) == ["done", "invalid_tickets"] and revoked == 1
    assert counters(slot) == (0, 3 - revoked)


@pytest.fixture
def changeable(world):
    RefundPolicy.objects.filter(attraction=world.attraction).update(
        change_allowed=True, change_hours_before=1
    )
    return world


def test_changing_the_slot_moves_the_places_and_reissues_the_tickets(changeable, mailoutbox):
    old, new = changeable.slot(capacity=5), changeable.slot(capacity=5)
    order, payment = paid_online_order(changeable, old, adult=2)
    old_uuids = set(order.tickets.values_list("uuid", flat=True))

    after = rebooking.change_slot(order, new.pk, key="move")
    rebooking.change_slot(order, new.pk, key="move")  # retried: nothing twice

    assert after.slot_id == new.pk
    assert counters(old) == (0, 0) and counters(new) == (0, 2)
    valid = list(after.tickets.filter(state=Ticket.State.VALID))
    assert len(valid) == 2 and {t.slot_id for t in valid} == {new.pk}
    assert not old_uuids & {t.uuid for t in valid}
    assert (
        set(after.tickets.filter(state=Ticket.State.REVOKED).values_list("uuid", flat=True))
        == old_uuids
    )
    assert refunds_of(payment) == []
    assert OrderEvent.objects.filter(order=order, kind="slot_changed").count() == 1
    assert any(m.subject == f"New time for order {order.code}" for m in mailoutbox)
    # The new tickets are e-mailed again: the first e-mail's PDF no longer admits.
    ticket_mails = [m for m in mailoutbox if m.subject.startswith("Your tickets for")]
    assert len(ticket_mails) == 2 and ticket_mails[1].attachments


def test_a_cheaper_price_now_is_refunded_and_a_dearer_one_refused(changeable):
    old, new = changeable.slot(capacity=5), changeable.slot(capacity=5)
    order, payment = paid_online_order(changeable, old, adult=2)
    adult = changeable.types["adult"]
    adult.price = Decimal("90.00")
    adult.save()
    with pytest.raises(PriceDifferenceDue):
        rebooking.change_slot(order, new.pk)
    assert counters(old) == (0, 2)

    adult.price = Decimal("75.00")
    adult.save()
    rebooking.change_slot(order, new.pk)
    assert refunds_of(payment) == [Decimal("10.00")]
    order.refresh_from_db()
    assert order.state == Order.State.PAID


def test_a_full_slot_or_one_past_the_change_cut_off_is_refused(changeable, clock):
    old = changeable.slot(capacity=5)
    full = changeable.slot(capacity=1)
    order, _payment = paid_online_order(changeable, old, adult=2)
    with pytest.raises(SoldOut):
        rebooking.change_slot(order, full.pk)
    soon = changeable.slot(hours_ahead=0.5)
    with pytest.raises(SlotUnavailable):
        rebooking.change_slot(order, soon.pk)
    clock.freeze(old.starts_at - dt.timedelta(hours=1) + dt.timedelta(seconds=1))
    with pytest.raises(NotChangeableNow):
        rebooking.change_slot(order, full.pk)
    assert counters(old) == (0, 2)


def test_two_devices_cancelling_and_changing_at_once_end_in_one_consistent_state(changeable):
    old, new = changeable.slot(capacity=5), changeable.slot(capacity=5)
    order, payment = paid_online_order(changeable, old, adult=3)
    start = threading.Barrier(2)
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
            target=device, args=("cancel", lambda o: self_service.cancel_tickets(o, [1, 2, 3]))
        ),
        threading.Thread(
            target=device, args=("change", lambda o: rebooking.change_slot(o, new.pk))
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    order.refresh_from_db()
    assert outcomes["cancel"] in ("done", "invalid_tickets")
    assert outcomes["change"] in ("done", "order_state_conflict")
    assert sum(refunds_of(payment), Decimal("0")) <= payment.amount
    assert len(refunds_of(payment)) <= 1
    valid = order.tickets.filter(state=Ticket.State.VALID)
    if outcomes["cancel"] == "done":
        assert valid.count() == 0 and refunds_of(payment) == [Decimal("216.00")]
        assert counters(old) == (0, 0) and counters(new) == (0, 0)
    else:  # changed first; the cancel named the old tickets, now revoked
        assert valid.count() == 3 and refunds_of(payment) == []
        assert order.slot_id == new.pk and counters(new) == (0, 3)


def test_a_payment_that_landed_first_makes_the_give_back_a_clear_refusal(world):
    from payments.sandbox.notify import deliver_due_notifications
    from payments.sandbox.trades import buyer_confirms

    from .money_world import trade

    slot = world.slot(capacity=5)
    order = book(world, slot, adult=2)
    payment = start_qr(order)
    # The buyer pays in the wallet (its notification reaches the site) and then taps give back.
    assert buyer_confirms(trade(payment))
    deliver_due_notifications()

    with pytest.raises(OrderStateConflict):
        self_service.give_back_hold(order)

    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.state, payment.state) == (Order.State.PAID, Payment.State.PAID)
    assert counters(slot) == (0, 2)
    assert order.tickets.filter(state=Ticket.State.VALID).count() == 2
