"""The day report, read from DaySummary rows and open differences (a few queries per day)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count
from django.utils.translation import gettext_noop

from .models import DaySummary, Difference, ReconciliationFile, ReconciliationRun


@dataclass
class DayReport:
    day: date
    summaries: list[DaySummary]
    open_by_severity: dict[str, int] = field(default_factory=dict)
    open_by_kind: dict[str, int] = field(default_factory=dict)
    files: list[ReconciliationFile] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return sum(s.lines for s in self.summaries)

    @property
    def matched_share(self) -> float:
        lines = self.lines
        return sum(s.matched_lines for s in self.summaries) / lines if lines else 1.0

    @property
    def open_critical(self) -> int:
        return self.open_by_severity.get(Difference.Severity.CRITICAL, 0)


def day_report(day: date) -> DayReport:
    open_rows = Difference.objects.filter(day=day, is_open=True)
    return DayReport(
        day=day,
        summaries=list(DaySummary.objects.filter(day=day).order_by("currency")),
        open_by_severity=dict(
            open_rows.values("severity").annotate(n=Count("pk")).values_list("severity", "n")
        ),
        open_by_kind=dict(
            open_rows.values("kind").annotate(n=Count("pk")).values_list("kind", "n")
        ),
        files=list(ReconciliationFile.objects.filter(day=day, superseded_by__isnull=True)),
    )


def last_run() -> ReconciliationRun | None:
    return ReconciliationRun.objects.exclude(finished_at=None).order_by("-started_at").first()


def open_critical_count() -> int:
    return Difference.objects.filter(is_open=True, severity=Difference.Severity.CRITICAL).count()


# Labels are translated where shown (the admin's templates); the text report stays English.
COLUMNS = [
    ("currency", gettext_noop("Currency")),
    ("payments_count", gettext_noop("Payments")),
    ("payments_gross", gettext_noop("Gross")),
    ("refunds_count", gettext_noop("Refunds")),
    ("refunds_gross", gettext_noop("Refunded")),
    ("reversals_count", gettext_noop("Reversals")),
    ("reversals_gross", gettext_noop("Reversed")),
    ("fees", gettext_noop("Fees")),
    ("net", gettext_noop("Net")),
    ("settled", gettext_noop("Settled")),
    ("gross_cny", gettext_noop("Gross CNY")),
    ("fees_cny", gettext_noop("Fees CNY")),
    ("settled_cny", gettext_noop("Settled CNY")),
]


def render_text(report: DayReport) -> str:
    """The day report as plain text for the command and mails."""
    rows = [[label for _name, label in COLUMNS]]
    rows += [[str(getattr(s, name)) for name, _label in COLUMNS] for s in report.summaries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    out = [f"Reconciliation {report.day:%Y-%m-%d} (Beijing)"]
    out += ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    out.append(f"Lines: {report.lines}, matched: {report.matched_share:.2%}")
    if report.open_by_kind:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.open_by_kind.items()))
        out.append(f"Open differences: {kinds}")
    else:
        out.append("Open differences: none")
    return "\n".join(out)


SUMMED = [name for name, _label in COLUMNS if name != "currency"] + ["lines", "matched_lines"]


def _period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def range_rows(start: date, end: date, period: str = "day") -> list[dict]:
    """DaySummary totals per period (day, week starting Monday, or month) and currency, oldest
    first: one query, summed in Python with Decimal (exact on every database)."""
    if period not in ("day", "week", "month"):
        raise ValueError(f"period must be day, week or month, not {period!r}")
    totals: dict[tuple[date, str], dict] = {}
    for s in DaySummary.objects.filter(day__gte=start, day__lte=end).order_by("day", "currency"):
        key = (_period_start(s.day, period), s.currency)
        row = totals.setdefault(
            key, {"period": key[0], "currency": s.currency, **dict.fromkeys(SUMMED, 0)}
        )
        for name in SUMMED:
            row[name] += getattr(s, name)
    return [totals[key] for key in sorted(totals)]


def daily_series(end: date, days: int = 30) -> dict[str, list[tuple[date, object, object]]]:
    """(day, net, fees) per currency for the `days` days up to `end`, for the chart; days
    without a summary count as zero so the line has no gaps."""
    first = end - timedelta(days=days - 1)
    rows = {(s.day, s.currency): s for s in DaySummary.objects.filter(day__gte=first, day__lte=end)}
    currencies = sorted({currency for _day, currency in rows})
    out: dict[str, list] = {}
    for currency in currencies:
        series = []
        for n in range(days):
            day = first + timedelta(days=n)
            s = rows.get((day, currency))
            series.append((day, s.net if s else 0, s.fees if s else 0))
        out[currency] = series
    return out
