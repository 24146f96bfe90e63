"""Reconciliation fixtures: a Beijing day of real payments through the live sandbox.

The day is 27 Nov 2026 (Beijing); the clock is frozen at 10:00 that day and moved a minute
between movements so that the files list them in a known order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from payments import lifecycle
from payments.models import Payment
from payments.reconciliation.models import Difference
from tests.payments.helpers import INSUFFICIENT, SUCCESS, pay

DAY = date(2026, 11, 27)
DAY_START = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 Beijing
NEXT_MORNING = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 11:00 Beijing, after the drop


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


def simple_day(clock) -> dict[str, Payment]:
    """Two paid payments (movements 0 and 1), then a partial refund of the first (movement 2)."""
    first = pay(SUCCESS, "100.00")
    clock.advance(60)
    second = pay(SUCCESS, "30.00")
    clock.advance(60)
    lifecycle.request_refund(first, amount=Decimal("40.00"), reason="one ticket", actor="test")
    clock.advance(60)
    return {"first": first, "second": second}


def open_differences() -> list[Difference]:
    return list(Difference.objects.filter(is_open=True).order_by("kind"))


__all__ = ["INSUFFICIENT", "SUCCESS", "pay"]
