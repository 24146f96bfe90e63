"""Range reports and the chart's series read DaySummary rows: exact sums per period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from payments.reconciliation.models import DaySummary
from payments.reconciliation.report import daily_series, range_rows


@pytest.fixture
def summaries(db):
    for day, net in ((date(2026, 11, 2), "10.10"), (date(2026, 11, 8), "20.20"),
                     (date(2026, 11, 9), "30.30"), (date(2026, 12, 1), "0.01")):  # fmt: skip
        DaySummary.objects.create(
            day=day, currency="USD", payments_count=1, net=Decimal(net), fees=Decimal("0.18"),
            lines=2, matched_lines=1,
        )  # fmt: skip


def test_range_rows_sum_per_week_and_per_month(summaries):
    weeks = range_rows(date(2026, 11, 1), date(2026, 12, 31), "week")
    assert [(r["period"], r["net"], r["payments_count"]) for r in weeks] == [
        (date(2026, 11, 2), Decimal("30.30"), 2),  # Monday 2 and Sunday 8 November
        (date(2026, 11, 9), Decimal("30.30"), 1),
        (date(2026, 11, 30), Decimal("0.01"), 1),
    ]
    months = range_rows(date(2026, 11, 1), date(2026, 12, 31), "month")
    assert [(r["period"], r["net"], r["lines"]) for r in months] == [
        (date(2026, 11, 1), Decimal("60.60"), 6),
        (date(2026, 12, 1), Decimal("0.01"), 2),
    ]
    with pytest.raises(ValueError, match="period"):
        range_rows(date(2026, 11, 1), date(2026, 11, 30), "year")


def test_daily_series_has_every_day_of_the_window(summaries):
    series = daily_series(date(2026, 11, 9), days=8)["USD"]
    assert len(series) == 8 and series[0] == (date(2026, 11, 2), Decimal("10.10"), Decimal("0.18"))
    assert series[1] == (date(2026, 11, 3), 0, 0)
    assert series[-1][1] == Decimal("30.30")
