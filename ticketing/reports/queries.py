"""The sales figures, aggregated by the database and folded into report tables.

What counts where:
- gross: an order's total on the day it was paid (`Order.paid_at`), whatever happened later;
  the price difference a buyer paid to change the time (a made `SlotChange`) on the day that
  was paid; a partner-API payment (a payment the partner API took with no order behind it) on
  the day it was paid;
- refunds: each refund that succeeded, on the day it succeeded (`Refund.succeeded_at`), of an
  order's payment or of a difference it paid; and each paid payment reversed (cancelled on its
  Beijing day: all its money back, no refund row), its whole amount on the day the reversal went
  through (`Payment.reversed_at`). Net is gross minus refunds of the same bucket, so money given
  back lowers the day it was given back, and gross stays the money taken on its day;
- tickets sold: units bought (a family ticket is one), from the order lines of paid orders;
- admitted: e-tickets scanned in at a gate (`Ticket.used_at`), on the day of the scan.

Days, weeks (from Monday) and months are each attraction's own local ones. Sales with no
attraction (the partner API's) are counted in the site's zone (settings.TIME_ZONE). Amounts are
kept per currency and never added across currencies.

Two ways to the same figures:
- the summary (`Source.SUMMARY`, what the pages read): the daily rows ticketing.reports.ledger
  keeps in step with every sale, refund and scan, summed by the database into days, weeks or
  months, two queries whatever the number of orders;
- the raw rows (`Source.RAW`): orders, lines, refunds, tickets and payments aggregated directly,
  the database truncating each time in its attraction's zone, one set of queries per zone in use.
  It is what the summary is rebuilt from (`manage.py rebuild_sales_summary`) and what the tests
  and bench/reports.py hold the summary against.

A refund counts for an order once the order was paid (its gross counted): money given back for an
attempt that never paid the order (an amount mismatch, a duplicate) is not the order's sale.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connections
from django.db.models import Count, DateField, DecimalField, Exists, F, Func, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek
from django.utils.translation import gettext as _

from payments.api.queries import API_TRANS_ID_PREFIX
from payments.models import Payment, Refund
from ticketing.models import (
    NO_ATTRACTION,
    Attraction,
    DailySales,
    DailyTicketTypeSales,
    Order,
    OrderLine,
    SlotChange,
    Ticket,
    TicketType,
    TimeSlot,
)
from ticketing.models.catalogue import currency_exponent

from .filters import Channel, Period, ReportQuery, site_zone

TRUNCATE = {Period.DAY: TruncDay, Period.WEEK: TruncWeek, Period.MONTH: TruncMonth}
TREND_DAYS = 30
ZERO = Decimal("0")


@dataclass
class Figures:
    gross: Decimal = ZERO
    refunds: Decimal = ZERO
    orders: int = 0
    tickets: int = 0
    admitted: int = 0

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds

    def add(self, other: Figures) -> None:
        self.gross += other.gross
        self.refunds += other.refunds
        self.orders += other.orders
        self.tickets += other.tickets
        self.admitted += other.admitted


class Source:
    SUMMARY = "summary"
    RAW = "raw"


# (bucket date, attraction id or None, channel, currency)
FactKey = tuple[dt.date, int | None, str, str]


@dataclass
class Facts:
    """Grouped rows as the database returned them, before they become tables."""

    figures: dict[FactKey, Figures] = field(default_factory=lambda: defaultdict(Figures))
    # (FactKey or None when the source does not say, ticket type id) -> [units, amount]
    ticket_types: dict[tuple[FactKey | None, int], list] = field(
        default_factory=lambda: defaultdict(lambda: [0, ZERO])
    )


@dataclass(frozen=True)
class Table:
    """One report table, the same for the page, the CSV and the XLSX."""

    name: str
    title: str
    columns: list[str]
    rows: list[list]
    # Which columns hold money (shown with the currency's minor units).
    money_columns: frozenset[int] = frozenset()


@dataclass(frozen=True)
class DayUtilisation:
    day: dt.date
    capacity: int
    sold: int

    @property
    def ratio(self) -> float | None:
        return self.sold / self.capacity if self.capacity else None


@dataclass(frozen=True)
class SalesReportData:
    query: ReportQuery
    tables: dict[str, Table]
    # currency -> one Figures per day of the trend window, oldest first
    trend: dict[str, list[tuple[dt.date, Figures]]]
    trend_start: dt.date
    utilisation: list[DayUtilisation]
    zones: list[str]


def _bounds(
    start: dt.date, end: dt.date, zone: zoneinfo.ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight at the start, local midnight after the end: a half-open UTC range."""
    return (
        dt.datetime.combine(start, dt.time(), zone),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone),
    )


# SQLite date() modifiers that take a local date to the start of its bucket (weeks from Monday).
SQLITE_PERIOD = {
    Period.DAY: "",
    Period.WEEK: ", '-6 days', 'weekday 1'",
    Period.MONTH: ", 'start of month'",
}


@functools.lru_cache(maxsize=64)
def _offsets(zone: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime) -> tuple[tuple, ...]:
    """The zone's UTC offset over [start, end) as (until, seconds) pieces, the last until None.

    Found in steps of six hours (no zone changes its offset twice within six hours), then to the
    second where it changes: a DST change inside a report's range gives two pieces, a zone
    without DST one. Cached: each of a report's queries asks for the same range.
    """

    def offset(at: dt.datetime) -> int:
        return int(at.astimezone(zone).utcoffset().total_seconds())

    pieces: list[tuple] = []
    at, current = start, offset(start)
    step = dt.timedelta(hours=6)
    while at < end:
        following = min(at + step, end)
        if offset(following) != current:
            low, high = at, following
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == current else (low, middle)
            pieces.append((high, current))
            current = offset(high)
        at = following
    pieces.append((None, current))
    return tuple(pieces)


def _bucket(field: str, period: str, zone: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime):
    """The local day, week or month `field` falls in, truncated by the database.

    Django's Trunc does this everywhere, but on SQLite it calls back into Python for every row
    (several seconds over a million orders). There the offsets of the range are known in
    advance, so the truncation is plain SQL: date(column, '+N seconds', modifiers), with a CASE
    when the range crosses a DST change.
    """
    if connections[Order.objects.db].vendor != "sqlite":
        return TRUNCATE[period](field, tzinfo=zone)
    pieces = _offsets(zone, start, end)
    if len(pieces) == 1:
        shift = f"'{pieces[0][1]:+d} seconds'"
    else:
        # Only our own computed instants and integers are written into the SQL.
        cases = " ".join(
            f"WHEN %(expressions)s < '{until.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}' "
            f"THEN '{seconds:+d} seconds'"
            for until, seconds in pieces[:-1]
        )
        shift = f"CASE {cases} ELSE '{pieces[-1][1]:+d} seconds' END"
    template = f"date(%(expressions)s, {shift}{SQLITE_PERIOD[period]})"
    return Func(F(field), template=template, output_field=DateField())


def _bucket_date(value, zone: zoneinfo.ZoneInfo) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).date() if value.tzinfo else value.date()
    return value


def _order_filter(query: ReportQuery, ids: list[int], prefix: str = "") -> Q:
    q = Q(**{f"{prefix}attraction_id__in": ids})
    if query.channel:
        q &= Q(**{f"{prefix}channel": query.channel})
    if query.currency:
        q &= Q(**{f"{prefix}currency": query.currency})
    return q


def _collect_orders(
    facts: Facts,
    query: ReportQuery,
    zone: zoneinfo.ZoneInfo,
    ids: list[int],
    *,
    full: bool,
) -> None:
    start, end = _bounds(query.start, query.end, zone)

    def trunc(field: str, tzinfo):
        return _bucket(field, query.period, tzinfo, start, end)

    paid = Q(paid_at__gte=start, paid_at__lt=end) & _order_filter(query, ids)
    sales = (
        Order.objects.filter(paid)
        .annotate(bucket=trunc("paid_at", tzinfo=zone))
        .values("bucket", "attraction_id", "channel", "currency")
        .annotate(gross=Sum("total"), orders=Count("id"))
        .order_by()
    )
    for row in sales:
        key = (
            _bucket_date(row["bucket"], zone),
            row["attraction_id"],
            row["channel"],
            row["currency"],
        )
        facts.figures[key].add(Figures(gross=row["gross"], orders=row["orders"]))

    # One join for the filter and the sums: the refunds summed are exactly the ones filtered.
    refunds = (
        Order.objects.filter(
            _order_filter(query, ids),
            paid_at__isnull=False,
            payment__refunds__state=Refund.State.SUCCEEDED,
            payment__refunds__succeeded_at__gte=start,
            payment__refunds__succeeded_at__lt=end,
        )
        .annotate(bucket=trunc("payment__refunds__succeeded_at", tzinfo=zone))
        .values("bucket", "attraction_id", "channel", "currency")
        .annotate(refunds=Sum("payment__refunds__amount"))
        .order_by()
    )
    for row in refunds:
        key = (
            _bucket_date(row["bucket"], zone),
            row["attraction_id"],
            row["channel"],
            row["currency"],
        )
        facts.figures[key].add(Figures(refunds=row["refunds"]))

    reversals = (
        Order.objects.filter(
            _order_filter(query, ids),
            paid_at__isnull=False,
            payment__reversed_at__gte=start,
            payment__reversed_at__lt=end,
        )
        .annotate(bucket=trunc("payment__reversed_at", tzinfo=zone))
        .values("bucket", "attraction_id", "channel", "currency")
        .annotate(refunds=Sum("payment__amount"))
        .order_by()
    )
    for row in reversals:
        key = (
            _bucket_date(row["bucket"], zone),
            row["attraction_id"],
            row["channel"],
            row["currency"],
        )
        facts.figures[key].add(Figures(refunds=row["refunds"]))

    _collect_differences(facts, query, zone, ids, trunc, start, end)
    if not full:
        return
    lines = (
        OrderLine.objects.filter(
            _order_filter(query, ids, "order__"),
            order__paid_at__gte=start,
            order__paid_at__lt=end,
        )
        .annotate(bucket=trunc("order__paid_at", tzinfo=zone))
        .values(
            "bucket", "order__attraction_id", "order__channel", "order__currency", "ticket_type_id"
        )
        .annotate(
            units=Sum("quantity"),
            amount=Sum(F("quantity") * F("unit_price"), output_field=DecimalField()),
        )
        .order_by()
    )
    for row in lines:
        key = (
            _bucket_date(row["bucket"], zone),
            row["order__attraction_id"],
            row["order__channel"],
            row["order__currency"],
        )
        facts.figures[key].add(Figures(tickets=row["units"]))
        per_type = facts.ticket_types[(key, row["ticket_type_id"])]
        per_type[0] += row["units"]
        per_type[1] += row["amount"]

    admitted = (
        Ticket.objects.filter(
            _order_filter(query, ids, "order__"),
            state=Ticket.State.USED,
            used_at__gte=start,
            used_at__lt=end,
        )
        .annotate(bucket=trunc("used_at", tzinfo=zone))
        .values("bucket", "order__attraction_id", "order__channel", "order__currency")
        .annotate(admitted=Count("id"))
        .order_by()
    )
    for row in admitted:
        key = (
            _bucket_date(row["bucket"], zone),
            row["order__attraction_id"],
            row["order__channel"],
            row["order__currency"],
        )
        facts.figures[key].add(Figures(admitted=row["admitted"]))


def _collect_differences(
    facts: Facts,
    query: ReportQuery,
    zone: zoneinfo.ZoneInfo,
    ids: list[int],
    trunc,
    start: dt.datetime,
    end: dt.datetime,
) -> None:
    """The price differences paid for changes of time that were made, and their refunds: a
    payment of their own, found through the change (never the order's own payment)."""
    made = _order_filter(query, ids, "order__") & Q(state=SlotChange.State.CHANGED)
    sales = (
        SlotChange.objects.filter(made, payment__paid_at__gte=start, payment__paid_at__lt=end)
        .annotate(bucket=trunc("payment__paid_at", tzinfo=zone))
        .values("bucket", "order__attraction_id", "order__channel", "order__currency")
        .annotate(gross=Sum("payment__amount"))
        .order_by()
    )
    for row in sales:
        key = (
            _bucket_date(row["bucket"], zone),
            row["order__attraction_id"],
            row["order__channel"],
            row["order__currency"],
        )
        facts.figures[key].add(Figures(gross=row["gross"]))
    refunds = (
        SlotChange.objects.filter(
            made,
            payment__refunds__state=Refund.State.SUCCEEDED,
            payment__refunds__succeeded_at__gte=start,
            payment__refunds__succeeded_at__lt=end,
        )
        .annotate(bucket=trunc("payment__refunds__succeeded_at", tzinfo=zone))
        .values("bucket", "order__attraction_id", "order__channel", "order__currency")
        .annotate(refunds=Sum("payment__refunds__amount"))
        .order_by()
    )
    for row in refunds:
        key = (
            _bucket_date(row["bucket"], zone),
            row["order__attraction_id"],
            row["order__channel"],
            row["order__currency"],
        )
        facts.figures[key].add(Figures(refunds=row["refunds"]))
    reversals = (
        SlotChange.objects.filter(
            made, payment__reversed_at__gte=start, payment__reversed_at__lt=end
        )
        .annotate(bucket=trunc("payment__reversed_at", tzinfo=zone))
        .values("bucket", "order__attraction_id", "order__channel", "order__currency")
        .annotate(refunds=Sum("payment__amount"))
        .order_by()
    )
    for row in reversals:
        key = (
            _bucket_date(row["bucket"], zone),
            row["order__attraction_id"],
            row["order__channel"],
            row["order__currency"],
        )
        facts.figures[key].add(Figures(refunds=row["refunds"]))


def partner_payments():
    """Payments the partner API took with no order behind them (payments.api.queries tells the
    API's payments by their partner_trans_id prefix; an order's payment is never one of these)."""
    return Payment.objects.filter(partner_trans_id__startswith=API_TRANS_ID_PREFIX).exclude(
        Exists(Order.objects.filter(payment_id=OuterRef("pk")))
    )


def _collect_partner(facts: Facts, query: ReportQuery) -> None:
    zone = site_zone()
    start, end = _bounds(query.start, query.end, zone)

    def trunc(field: str, tzinfo):
        return _bucket(field, query.period, tzinfo, start, end)

    payments = partner_payments()
    if query.currency:
        payments = payments.filter(currency=query.currency)
    sales = (
        payments.filter(paid_at__gte=start, paid_at__lt=end)
        .annotate(bucket=trunc("paid_at", tzinfo=zone))
        .values("bucket", "currency")
        .annotate(gross=Sum("amount"), orders=Count("id"))
        .order_by()
    )
    for row in sales:
        key = (_bucket_date(row["bucket"], zone), None, Channel.PARTNER_API, row["currency"])
        facts.figures[key].add(Figures(gross=row["gross"], orders=row["orders"]))
    refunds = (
        Refund.objects.filter(
            payment__in=payments,
            state=Refund.State.SUCCEEDED,
            succeeded_at__gte=start,
            succeeded_at__lt=end,
        )
        .annotate(bucket=trunc("succeeded_at", tzinfo=zone))
        .values("bucket", "payment__currency")
        .annotate(refunds=Sum("amount"))
        .order_by()
    )
    for row in refunds:
        key = (
            _bucket_date(row["bucket"], zone),
            None,
            Channel.PARTNER_API,
            row["payment__currency"],
        )
        facts.figures[key].add(Figures(refunds=row["refunds"]))
    reversals = (
        payments.filter(reversed_at__gte=start, reversed_at__lt=end)
        .annotate(bucket=trunc("reversed_at", tzinfo=zone))
        .values("bucket", "currency")
        .annotate(refunds=Sum("amount"))
        .order_by()
    )
    for row in reversals:
        key = (_bucket_date(row["bucket"], zone), None, Channel.PARTNER_API, row["currency"])
        facts.figures[key].add(Figures(refunds=row["refunds"]))


def _zones(attractions: list[Attraction]) -> dict[str, list[int]]:
    zones: dict[str, list[int]] = defaultdict(list)
    for attraction in attractions:
        zones[attraction.timezone].append(attraction.id)
    return zones


def collect_raw(query: ReportQuery, attractions: list[Attraction], *, full: bool = True) -> Facts:
    """The figures aggregated over the raw rows, one set of queries per time zone in use."""
    facts = Facts()
    if query.channel != Channel.PARTNER_API:
        for name, ids in sorted(_zones(attractions).items()):
            _collect_orders(facts, query, zoneinfo.ZoneInfo(name), ids, full=full)
    if query.attraction is None and query.channel in ("", Channel.PARTNER_API):
        _collect_partner(facts, query)
    return facts


def _summary_scope(query: ReportQuery, attractions: list[Attraction]) -> Q:
    """Which daily rows a query reads (the attractions chosen, the partner API's sales)."""
    scope = Q(pk__in=[])  # nothing, until a branch below adds rows
    if query.channel != Channel.PARTNER_API:
        scope |= Q(attraction_id__in=[a.id for a in attractions])
    if query.attraction is None and query.channel in ("", Channel.PARTNER_API):
        scope |= Q(attraction_id=NO_ATTRACTION)
    q = Q(day__gte=query.start, day__lte=query.end) & scope
    if query.channel:
        q &= Q(channel=query.channel)
    if query.currency:
        q &= Q(currency=query.currency)
    return q


def collect_summary(
    query: ReportQuery, attractions: list[Attraction], *, full: bool = True
) -> Facts:
    """The figures summed from the daily rows: days are already local, so a week or a month is
    a plain truncation of the date, the same in every zone."""
    facts = Facts()
    scope = _summary_scope(query, attractions)
    day = F("day") if query.period == Period.DAY else TRUNCATE[query.period]("day")
    rows = (
        DailySales.objects.filter(scope)
        .annotate(bucket=day)
        .values("bucket", "attraction_id", "channel", "currency")
        .annotate(
            gross=Sum("gross"),
            refunds=Sum("refunds"),
            orders=Sum("orders"),
            tickets=Sum("tickets"),
            admitted=Sum("admitted"),
        )
        .order_by()
    )
    for row in rows:
        key = (
            _bucket_date(row["bucket"], site_zone()),  # a date already: no zone applies
            row["attraction_id"] or None,
            row["channel"],
            row["currency"],
        )
        facts.figures[key].add(
            Figures(
                gross=row["gross"],
                refunds=row["refunds"],
                orders=row["orders"],
                tickets=row["tickets"],
                admitted=row["admitted"],
            )
        )
    if not full:
        return facts
    per_type = (
        DailyTicketTypeSales.objects.filter(scope)
        .values("ticket_type_id", "currency")
        .annotate(units=Sum("tickets"), amount=Sum("amount"))
        .order_by()
    )
    for row in per_type:
        figures = facts.ticket_types[((None, None, "", row["currency"]), row["ticket_type_id"])]
        figures[0] += row["units"]
        figures[1] += row["amount"]
    return facts


def collect(
    query: ReportQuery,
    attractions: list[Attraction],
    *,
    full: bool = True,
    source: str = Source.SUMMARY,
) -> Facts:
    if source == Source.RAW:
        return collect_raw(query, attractions, full=full)
    return collect_summary(query, attractions, full=full)


def utilisation(query: ReportQuery) -> list[DayUtilisation]:
    """Places sold over places offered, per attraction-local day of open slots (channel and
    currency do not apply: a slot's places are shared by every channel)."""
    slots = TimeSlot.objects.filter(
        local_date__gte=query.start, local_date__lte=query.end, is_open=True
    )
    if query.attraction is not None:
        slots = slots.filter(attraction=query.attraction)
    rows = (
        slots.values("local_date")
        .annotate(capacity=Sum(Coalesce("capacity_override", "capacity")), sold=Sum("sold"))
        .order_by("local_date")
    )
    return [DayUtilisation(row["local_date"], row["capacity"], row["sold"]) for row in rows]


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


def _figure_columns() -> list[str]:
    return [
        _("Currency"),
        _("Orders"),
        _("Tickets sold"),
        _("Admitted"),
        _("Gross"),
        _("Refunds"),
        _("Net"),
    ]


MONEY = frozenset({5, 6, 7})


def _figure_row(label, currency: str, figures: Figures) -> list:
    return [
        label,
        currency,
        figures.orders,
        figures.tickets,
        figures.admitted,
        quantize(figures.gross, currency),
        quantize(figures.refunds, currency),
        quantize(figures.net, currency),
    ]


def _fold(facts: Facts, key_of) -> dict[tuple, Figures]:
    folded: dict[tuple, Figures] = defaultdict(Figures)
    for key, figures in facts.figures.items():
        folded[key_of(key)].add(figures)
    return folded


def period_label(day: dt.date, period: str) -> str:
    if period == Period.MONTH:
        return day.strftime("%Y-%m")
    if period == Period.WEEK:
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d} ({day.isoformat()})"
    return day.isoformat()


def build_tables(
    facts: Facts, query: ReportQuery, attractions: list[Attraction], type_names: dict[int, str]
) -> dict[str, Table]:
    names = {attraction.id: attraction.name for attraction in attractions}
    channel_names = dict(Channel.CHOICES)
    tables: dict[str, Table] = {}

    by_period = _fold(facts, lambda k: (k[0], k[3]))
    tables["period"] = Table(
        "period",
        _("By period"),
        [_("Period"), *_figure_columns()],
        [
            _figure_row(period_label(day, query.period), currency, figures)
            for (day, currency), figures in sorted(by_period.items())
        ],
        MONEY,
    )
    by_attraction = _fold(facts, lambda k: (k[1], k[3]))
    tables["attraction"] = Table(
        "attraction",
        _("By attraction"),
        [_("Attraction"), *_figure_columns()],
        [
            _figure_row(
                names.get(attraction_id, "")
                if attraction_id
                else _("(partner API, no attraction)"),
                currency,
                figures,
            )
            for (attraction_id, currency), figures in sorted(
                by_attraction.items(), key=lambda item: (names.get(item[0][0], ""), item[0][1])
            )
        ],
        MONEY,
    )
    by_channel = _fold(facts, lambda k: (k[2], k[3]))
    tables["channel"] = Table(
        "channel",
        _("By channel"),
        [_("Channel"), *_figure_columns()],
        [
            _figure_row(str(channel_names.get(channel, channel)), currency, figures)
            for (channel, currency), figures in sorted(by_channel.items())
        ],
        MONEY,
    )
    by_currency = _fold(facts, lambda k: (k[3],))
    tables["currency"] = Table(
        "currency",
        _("By currency"),
        [_("Currency"), *_figure_columns()],
        [
            _figure_row(currency, currency, figures)
            for (currency,), figures in sorted(by_currency.items())
        ],
        MONEY,
    )
    by_type: dict[tuple[int, str], list] = defaultdict(lambda: [0, ZERO])
    for (key, type_id), (units, amount) in facts.ticket_types.items():
        figures = by_type[(type_id, key[3])]
        figures[0] += units
        figures[1] += amount
    tables["ticket_type"] = Table(
        "ticket_type",
        _("By ticket type"),
        [_("Ticket type"), _("Currency"), _("Tickets sold"), _("Gross")],
        [
            [type_names.get(type_id, str(type_id)), currency, units, quantize(amount, currency)]
            for (type_id, currency), (units, amount) in sorted(
                by_type.items(),
                key=lambda item: (type_names.get(item[0][0], ""), item[0][1]),
            )
        ],
        frozenset({3}),
    )
    return tables


def utilisation_table(days: list[DayUtilisation]) -> Table:
    return Table(
        "utilisation",
        _("Slot utilisation"),
        [_("Date"), _("Places offered"), _("Places sold"), _("Utilisation (%)")],
        [
            [
                day.day.isoformat(),
                day.capacity,
                day.sold,
                "" if day.ratio is None else round(day.ratio * 100, 1),
            ]
            for day in days
        ],
    )


def trend_table(trend: dict[str, list[tuple[dt.date, Figures]]]) -> Table:
    return Table(
        "trend",
        _("30-day trend"),
        [_("Date"), _("Currency"), _("Gross"), _("Refunds"), _("Net")],
        [
            [
                day.isoformat(),
                currency,
                quantize(figures.gross, currency),
                quantize(figures.refunds, currency),
                quantize(figures.net, currency),
            ]
            for currency, days in sorted(trend.items())
            for day, figures in days
        ],
        frozenset({2, 3, 4}),
    )


def sales_report(query: ReportQuery, *, source: str = Source.SUMMARY) -> SalesReportData:
    """Every table of the report for `query`, in a fixed number of queries whatever the number
    of orders (from the summary; from the raw rows, one set per time zone in use)."""
    attractions = list(Attraction.objects.order_by("sort_order", "name"))
    chosen = [a for a in attractions if query.attraction is None or a.id == query.attraction.id]
    facts = collect(query, chosen, source=source)
    type_ids = {type_id for _key, type_id in facts.ticket_types}
    type_names = {
        ticket_type.id: f"{ticket_type.attraction.name} / {ticket_type.name}"
        for ticket_type in TicketType.objects.filter(id__in=type_ids).select_related("attraction")
    }
    tables = build_tables(facts, query, attractions, type_names)

    trend_start = query.end - dt.timedelta(days=TREND_DAYS - 1)
    trend_facts = collect(
        query.with_range(trend_start, query.end, Period.DAY), chosen, full=False, source=source
    )
    per_day: dict[str, dict[dt.date, Figures]] = defaultdict(lambda: defaultdict(Figures))
    for (day, _attraction, _channel, currency), figures in trend_facts.figures.items():
        per_day[currency][day].add(figures)
    days = [trend_start + dt.timedelta(days=n) for n in range(TREND_DAYS)]
    trend = {
        currency: [(day, values.get(day, Figures())) for day in days]
        for currency, values in sorted(per_day.items())
    }
    days_used = utilisation(query)
    tables["utilisation"] = utilisation_table(days_used)
    tables["trend"] = trend_table(trend)
    zones = sorted({a.timezone for a in chosen})
    return SalesReportData(query, tables, trend, trend_start, days_used, zones)
