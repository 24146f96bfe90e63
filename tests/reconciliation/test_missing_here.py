"""Money Alipay took for a payment Entrada gave up on: issue the order's tickets, or refund.

The payment is real: the buyer was still confirming with a PIN when Entrada's deadline came,
every cancel failed (needs attention), and then the buyer confirmed in the wallet.
"""

from __future__ import annotations

import pytest

from payments.models import Payment
from payments.reconciliation import actions, tasks
from payments.reconciliation.exceptions import ActionNotPossible
from payments.reconciliation.models import Difference
from payments.sandbox.trades import buyer_confirms
from tests.payments.helpers import cancel_system_error, sandbox_trade
from tests.ticketing.helpers import Booking, make_attraction
from ticketing import orders
from ticketing.models import Order

from .helpers import NEXT_MORNING, open_differences


@pytest.fixture
def lost_payment(recon):
    booking = Booking(make_attraction())
    order = orders.create_order(
        attraction=booking.attraction,
        slot=booking.slot(capacity=5),
        quantities=booking.quantities(adult=2),
        buyer_name="Ada Buyer",
        email="ada@example.com",
        language="en",
        channel=Order.Channel.BOX_OFFICE,
        actor="box-office:cashier",
    )
    payment = orders.start_counter_payment(
        order, cancel_system_error(99), store_id="BOX", terminal_id="T1", actor="cashier"
    )
    payment.refresh_from_db()
    assert payment.state == Payment.State.NEEDS_ATTENTION
    assert buyer_confirms(sandbox_trade(payment))
    recon.freeze(NEXT_MORNING)
    tasks.daily()
    [diff] = open_differences()
    assert (diff.kind, diff.payment_id) == (Difference.Kind.MISSING_HERE, payment.pk)
    return order, payment, diff


def test_issuing_the_orders_tickets_pays_the_order_through_the_lifecycle(lost_payment, staff):
    order, payment, diff = lost_payment
    actions.issue_tickets(diff, staff)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.PAID
    assert payment.events.last().actor == "staff:auditor"
    assert order.state == Order.State.PAID and order.payment_id == payment.pk
    assert order.tickets.count() == 2
    diff.refresh_from_db()
    assert not diff.is_open and diff.resolution == Difference.Resolution.TICKETS
    # The next run finds Alipay and Entrada agreeing.
    tasks.daily()
    assert open_differences() == []


def test_refunding_the_buyer_gives_the_money_back_and_issues_nothing(lost_payment, staff):
    order, payment, diff = lost_payment
    refund = actions.refund_buyer(diff, staff, reason="buyer left")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert refund.amount == payment.amount and payment.state == Payment.State.REFUNDED
    assert order.state != Order.State.PAID and order.tickets.count() == 0
    diff.refresh_from_db()
    assert diff.resolution == Difference.Resolution.REFUNDED
    with pytest.raises(ActionNotPossible):
        actions.issue_tickets(diff, staff)
