"""What a terminal may read: its store's payments, and the totals of a store's day.

A store's payments are the ones its terminals created through the partner API. The store_id on
a payment alone is not enough: the box office and the shop write a store_id of their own (a
setting), which could equal a partner store's id, so API payments are also told apart by their
partner_trans_id, which the API derives with its own prefix (views.derive_partner_trans_id) and
the other channels never produce (paying.new_partner_trans_id puts a digit second).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from payments.api.models import Terminal
from payments.models import Payment, Refund

API_TRANS_ID_PREFIX = "EK"


def store_payments(terminal: Terminal) -> QuerySet[Payment]:
    """Every payment the terminal's store took through the partner API (any of its terminals)."""
    return Payment.objects.filter(
        store_id=terminal.store.store_id, partner_trans_id__startswith=API_TRANS_ID_PREFIX
    )


def store_timezone(terminal: Terminal) -> zoneinfo.ZoneInfo:
    """The zone a store's day is counted in. Stores carry no zone of their own, so the site's
    TIME_ZONE; an answer that depends on it names it, so a register can tell."""
    return timezone.get_default_timezone()


@dataclass(frozen=True)
class PaymentTotal:
    state: str
    currency: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class RefundTotal:
    currency: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class DaySummary:
    store_id: str
    date: date
    timezone: str
    start: datetime
    end: datetime
    payments: list[PaymentTotal]
    refunds: list[RefundTotal]


def day_summary(terminal: Terminal, day: date) -> DaySummary:
    """A store's day for an end-of-day: payments created that day counted and summed per (state,
    currency), and refunds that succeeded that day per currency, whenever their payment was made
    (the money left the store that day). Both sums are computed by the database."""
    zone = store_timezone(terminal)
    start = datetime.combine(day, time.min, tzinfo=zone)
    # The next local midnight, not start + 24 h: a day with a DST change is 23 or 25 hours long.
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    payments = store_payments(terminal)
    payment_rows = (
        payments.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .values("state", "currency")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("currency", "state")
    )
    refund_rows = (
        Refund.objects.filter(
            payment__in=payments,
            state=Refund.State.SUCCEEDED,
            succeeded_at__gte=start,
            succeeded_at__lt=end,
        )
        .order_by()
        .values("payment__currency")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("payment__currency")
    )
    return DaySummary(
        store_id=terminal.store.store_id,
        date=day,
        timezone=str(zone),
        start=start,
        end=end,
        payments=[PaymentTotal(**row) for row in payment_rows],
        refunds=[
            RefundTotal(currency=row["payment__currency"], count=row["count"], amount=row["amount"])
            for row in refund_rows
        ],
    )
