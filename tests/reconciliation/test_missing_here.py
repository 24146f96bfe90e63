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
from ticketing.models import Order

from .helpers import open_differences


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
