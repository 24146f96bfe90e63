"""move_order, the one writer of an order's state: compare-and-set, audit record and signal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from ticketing import orders
from ticketing.models import Order, OrderEvent
from ticketing.signals import order_changed

State = Order.State


@pytest.fixture
def heard():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    order_changed.connect(receiver, sender=Order, dispatch_uid="test-order-changed")
    yield calls
    order_changed.disconnect(sender=Order, dispatch_uid="test-order-changed")


def test_a_move_writes_its_event_and_announces_it_once_committed(
    booking, heard, django_capture_on_commit_callbacks
):
    order = booking.order(booking.slot())
    with django_capture_on_commit_callbacks(execute=True):
        moved = orders.move_order(
            order,
            to=State.CANCELLED,
            from_states=State.HELD,
            kind="cancelled",
            actor="tester",
            fields={"outcome_reason": Order.OutcomeReason.CANCELLED},
            detail={"reason": "test"},
        )
        assert moved and heard == []  # not before the commit
    order.refresh_from_db()
    assert order.state == State.CANCELLED
    assert order.outcome_reason == Order.OutcomeReason.CANCELLED
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.kind, event.from_state, event.to_state, event.actor, event.detail) == (
        "cancelled",
        State.HELD,
        State.CANCELLED,
        "tester",
        {"reason": "test"},
    )
    assert heard == [
        {
            "signal": order_changed,
            "order_id": order.pk,
            "from_state": State.HELD,
            "to_state": State.CANCELLED,
            "kind": "cancelled",
            "actor": "tester",
        }
    ]


def test_a_move_from_a_state_the_order_has_left_is_refused_and_changes_nothing(
    booking, heard, django_capture_on_commit_callbacks
):
    order = booking.order(booking.slot())
    events = OrderEvent.objects.filter(order=order).count()
    with django_capture_on_commit_callbacks(execute=True):
        moved = orders.move_order(
            order, to=State.REFUNDED, from_states=[State.PAID, State.REFUND_PENDING],
            kind="refunded", actor="tester",
        )  # fmt: skip
    assert moved is False
    order.refresh_from_db()
    assert order.state == State.HELD
    assert OrderEvent.objects.filter(order=order).count() == events
    assert heard == []


def test_a_move_narrowed_by_where_is_refused_when_the_row_does_not_match(booking, clock):
    order = booking.order(booking.slot())
    # The hold still runs: an expiry compare-and-set on "hold over" must not match.
    assert not orders.move_order(
        order,
        to=State.EXPIRED,
        from_states=State.HELD,
        kind="hold_expired",
        actor="system",
        where={"hold_expires_at__lte": clock.now()},
    )
    order.refresh_from_db()
    assert order.state == State.HELD


def test_a_move_rolled_back_is_never_announced(booking, heard, django_capture_on_commit_callbacks):
    order = booking.order(booking.slot())
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        assert orders.move_order(
            order, to=State.CANCELLED, from_states=State.HELD, kind="cancelled", actor="t"
        )
        raise RuntimeError("the caller's next step failed")
    order.refresh_from_db()
    assert order.state == State.HELD
    assert not OrderEvent.objects.filter(order=order, kind="cancelled").exists()
    assert heard == []


def test_end_hold_if_overdue_ends_only_a_hold_past_its_expiry(booking, clock):
    slot = booking.slot(capacity=2)
    order = booking.order(slot)
    assert orders.end_hold_if_overdue(order) is False
    clock.advance(dt.timedelta(minutes=orders.hold_minutes(), seconds=1).total_seconds())
    assert orders.end_hold_if_overdue(order) is True
    order.refresh_from_db()
    assert order.state == State.EXPIRED
    assert order.outcome_reason == Order.OutcomeReason.HOLD_EXPIRED
    slot.refresh_from_db()
    assert slot.held == 0
