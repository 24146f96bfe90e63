"""Reconciliation fixtures: a Beijing day of real payments through the live sandbox.

The day is 27 Nov 2026 (Beijing); the clock is frozen at 10:00 that day and moved a minute
between movements so that the files list them in a known order.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from payments.models import Payment
from payments.reconciliation import tasks
from payments.reconciliation.models import Difference
from payments.sandbox.trades import buyer_confirms
from tests.payments.helpers import cancel_system_error, sandbox_trade
from tests.ticketing.helpers import Booking, make_attraction
from ticketing import orders
from ticketing.models import Order

from .helpers import DAY_START, NEXT_MORNING, open_differences


@pytest.fixture
def recon(alipay_gateway, clock, mailoutbox, settings):
    """The sandbox over real HTTP as the only source; returns the clock."""
    settings.RECONCILIATION_SOURCES = ["sandbox"]
    settings.SANDBOX_FILE_KNOBS = ""
    settings.ADMINS = [("ops", "ops@entrada.example")]
    clock.freeze(DAY_START)
    return clock


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("auditor", password="x", is_staff=True)


@pytest.fixture
def lost_payment(recon):
    """A box-office payment Entrada gave up on (needs attention) that the buyer did confirm:
    the next day's files show it as missing here."""
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
