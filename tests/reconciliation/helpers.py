"""Helpers of the reconciliation tests: the Beijing day they reconcile and a day of real payments.

The day is 27 Nov 2026 (Beijing); the `recon` fixture freezes the clock at 10:00 that day and the
helpers move it a minute between movements so that the files list them in a known order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from payments import lifecycle
from payments.models import Payment
from payments.reconciliation.models import Difference
from tests.payments.helpers import SUCCESS, pay

DAY = date(2026, 11, 27)
DAY_START = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 Beijing
NEXT_MORNING = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 11:00 Beijing, after the drop


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
