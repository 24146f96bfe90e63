"""Helpers of the reconciliation tests: the Beijing day they reconcile and a day of real payments.

The day is 27 Nov 2026 (Beijing); the `recon` fixture freezes the clock at 10:00 that day and the
helpers move it a minute between movements so that the files list them in a known order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython

from payments import lifecycle
from payments.models import Payment
from payments.reconciliation.models import Difference
from tests.payments.helpers import SUCCESS, pay
from tests.staff import role_member

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


PARTNER = "2088000000000001"
COLUMNS = (
    "Partner_transaction_id,Transaction_id,Transaction_amount,Charge_amount,Currency,"
    "Payment_time,Transaction_type,Remark,Secondary_merchant_industry"
)
ROWS = [
    "E1,2026112711001,100.00,1.80,USD,2026-11-27 10:00:00,PAYMENT,门票,7991",
    "E2,2026112711002,30.00,0.54,USD,2026-11-27 10:01:00,PAYMENT,Museum,7991",
    "E1R1,2026112711001,40.00,0.72,USD,2026-11-27 10:02:00,REFUND,one ticket,7991",
]


def transaction_file(rows=ROWS, *, partner=PARTNER, count=None, columns=COLUMNS) -> str:
    total = len(rows) if count is None else count
    return "\n".join(
        ["Partner,Payment_time,Total_count", f"{partner},20261127,{total}", columns, *rows, ""]
    )


def finance_member():
    """A Finance member as the migrations build the group: payments' step, then ours."""
    user = role_member("Finance")
    loader = MigrationLoader(connection)
    migration = loader.get_migration("reconciliation", "0003_finance_permissions")
    apps = loader.project_state(("reconciliation", "0003_finance_permissions")).apps
    for step in migration.operations:
        if isinstance(step, RunPython):
            step.code(apps, SimpleNamespace(connection=connection))
    return user
