"""The sales report's daily rows (DailySales, DailyTicketTypeSales), kept in step with the sales.

Every figure the report shows changes at one of these moments, and each owner of that moment calls
this module inside its own transaction, so the rows move with what they count or not at all:

    an order is paid (its paid_at written)   ticketing.orders.states.move_order
    a change of time's difference is applied  ticketing.orders.slot_changes.difference_paid
    a ticket is scanned in at a gate          ticketing.etickets.checkin.admit
    a refund succeeds                         payments' money_recorded signal (ticketing.receivers)
    a paid payment's reversal goes through    the same signal (and if it is ever undone)
    a partner-API payment is paid             the same signal

Each call adds to the row of its local day with one upsert (`INSERT ... ON CONFLICT DO UPDATE SET
n = n + excluded.n`): two transactions adding to the same day at once both count, on SQLite and
on PostgreSQL, where re-reading a total and writing it back would lose one of them.

What counts where is ticketing.reports.queries' definition, and `rebuild` recomputes rows from the
raw rows with that module's raw aggregation, so both ways agree by construction; the tests hold
them against each other after sales, refunds, cancellations and scans. Rebuild (`manage.py
rebuild_sales_summary`) after changing an attraction's time zone or the site's TIME_ZONE, or
after writing orders, refunds or scans outside these services.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef

from payments.api.queries import API_TRANS_ID_PREFIX
from payments.models import Payment, Refund
from ticketing.models import (
    NO_ATTRACTION,
    Attraction,
    DailySales,
    DailyTicketTypeSales,
    Order,
    SlotChange,
    Ticket,
)

from .filters import Channel, Period, ReportQuery, site_zone
from .queries import collect_raw

KEY = ("day", "attraction_id", "channel", "currency")


def _upsert(model, key_fields: tuple[str, ...], rows: list[dict]) -> None:
    """Add each row's figures to the row of the same key, inserting it when there is none."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = list(rows[0])
    figures = [name for name in names if name not in key_fields]
    quote = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(names)) + ")"
    # Names come from the models and this module, values are parameters.
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(n) for n in names)}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT ({', '.join(quote(n) for n in key_fields)}) DO UPDATE SET "
        + ", ".join(f"{quote(n)} = {table}.{quote(n)} + excluded.{quote(n)}" for n in figures)
    )
    params = []
    for row in rows:
        for name in names:
            value = row[name]
            if isinstance(value, dt.date):
                value = connection.ops.adapt_datefield_value(value)
            elif isinstance(value, Decimal):
                value = connection.ops.adapt_decimalfield_value(value)
            params.append(value)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


FIGURES = {"orders": 0, "tickets": 0, "admitted": 0, "gross": Decimal(0), "refunds": Decimal(0)}


def _add(key: tuple, **figures) -> None:
    _upsert(DailySales, KEY, [{**dict(zip(KEY, key, strict=True)), **FIGURES, **figures}])


def _require_transaction() -> None:
    # A row added outside the transaction of what it counts could outlive a rollback of it.
    if not connection.in_atomic_block:
        raise RuntimeError("the sales ledger is written inside the transaction it counts")


def order_paid(order_id: int) -> None:
    """An order's paid_at was just written: its gross, its tickets by type and any refund its
    payment already gave back count from now on."""
    _require_transaction()
    # One read (a row per order line) and two upserts: this runs in every paying transaction.
    rows = list(
        Order.objects.filter(pk=order_id, paid_at__isnull=False)
        .annotate(
            refunded=Exists(
                Refund.objects.filter(
                    payment_id=OuterRef("payment_id"), state=Refund.State.SUCCEEDED
                )
            )
        )
        .values_list(
            "attraction_id",
            "attraction__timezone",
            "channel",
            "currency",
            "total",
            "paid_at",
            "payment_id",
            "refunded",
            "payment__reversed_at",
            "lines__ticket_type_id",
            "lines__quantity",
            "lines__unit_price",
        )
        .order_by()
    )
    if not rows:
        return
    attraction_id, timezone, channel, currency, total, paid_at, payment_id, refunded = rows[0][:8]
    reversed_at = rows[0][8]
    zone = zoneinfo.ZoneInfo(timezone)

    def key(at: dt.datetime) -> tuple:
        return (at.astimezone(zone).date(), attraction_id, channel, currency)

    lines = [row[9:] for row in rows if row[9] is not None]
    sold = key(paid_at)
    _add(sold, orders=1, tickets=sum(q for _t, q, _p in lines), gross=total)
    per_type: dict[int, list] = defaultdict(lambda: [0, Decimal(0)])
    for type_id, quantity, price in lines:
        per_type[type_id][0] += quantity
        per_type[type_id][1] += quantity * price
    _upsert(
        DailyTicketTypeSales,
        (*KEY, "ticket_type_id"),
        [
            {**dict(zip(KEY, sold, strict=True)), "ticket_type_id": t, "tickets": n, "amount": a}
            for t, (n, a) in sorted(per_type.items())
        ],
    )
    if refunded:
        # Rare: a refund recorded before the order was paid counts only now.
        for amount, at in Refund.objects.filter(
            payment_id=payment_id, state=Refund.State.SUCCEEDED, succeeded_at__isnull=False
        ).values_list("amount", "succeeded_at"):
            _add(key(at), refunds=amount)
    if reversed_at is not None:
        amount = Payment.objects.filter(pk=payment_id).values_list("amount", flat=True)[0]
        _add(key(reversed_at), refunds=amount)


def ticket_admitted(ticket_id: int) -> None:
    """A ticket was just scanned in: one admission on the local day of the scan."""
    _require_transaction()
    row = (
        Ticket.objects.filter(pk=ticket_id, state=Ticket.State.USED, used_at__isnull=False)
        .values_list(
            "used_at",
            "order__attraction_id",
            "order__attraction__timezone",
            "order__channel",
            "order__currency",
        )
        .first()
    )
    if row is None:
        return
    used_at, attraction_id, timezone, channel, currency = row
    day = used_at.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    _add((day, attraction_id, channel, currency), admitted=1)


def _partner_payment(payment_id: int):
    """The payment if the partner API took it with no order behind it (as the report counts)."""
    return (
        Payment.objects.filter(pk=payment_id, partner_trans_id__startswith=API_TRANS_ID_PREFIX)
        .exclude(Exists(Order.objects.filter(payment_id=OuterRef("pk"))))
        .values_list("amount", "currency", "paid_at")
        .first()
    )


def payment_paid(payment_id: int) -> None:
    """A payment's paid_at was just written: a partner-API sale counts, an order's payment counts
    through its order (order_paid)."""
    _require_transaction()
    partner = _partner_payment(payment_id)
    if partner is None or partner[2] is None:
        return
    amount, currency, paid_at = partner
    day = paid_at.astimezone(site_zone()).date()
    _add((day, NO_ATTRACTION, Channel.PARTNER_API, currency), orders=1, gross=amount)


def difference_paid(change_id: int) -> None:
    """A change of time was just made on its paid difference: the difference counts as gross on
    the day it was paid, with any refund of it that already succeeded (as queries counts a made
    change's payment)."""
    _require_transaction()
    row = (
        SlotChange.objects.filter(
            pk=change_id, state=SlotChange.State.CHANGED, payment__paid_at__isnull=False
        )
        .values_list(
            "payment_id",
            "payment__amount",
            "payment__paid_at",
            "payment__reversed_at",
            "order__attraction_id",
            "order__attraction__timezone",
            "order__channel",
            "order__currency",
        )
        .first()
    )
    if row is None:
        return
    payment_id, amount, paid_at, reversed_at, attraction_id, timezone, channel, currency = row
    zone = zoneinfo.ZoneInfo(timezone)
    _add((paid_at.astimezone(zone).date(), attraction_id, channel, currency), gross=amount)
    if reversed_at is not None:
        _add(
            (reversed_at.astimezone(zone).date(), attraction_id, channel, currency), refunds=amount
        )
    for refunded, at in Refund.objects.filter(
        payment_id=payment_id, state=Refund.State.SUCCEEDED, succeeded_at__isnull=False
    ).values_list("amount", "succeeded_at"):
        _add((at.astimezone(zone).date(), attraction_id, channel, currency), refunds=refunded)


def refund_succeeded(refund_id: int) -> None:
    """A refund just succeeded: it lowers the day it succeeded, for the paid order whose payment
    it refunds, or for the partner API's sale."""
    _require_transaction()
    refund = (
        Refund.objects.filter(pk=refund_id, state=Refund.State.SUCCEEDED)
        .values_list("payment_id", "amount", "succeeded_at")
        .first()
    )
    if refund is None or refund[2] is None:
        return
    _given_back(*refund)


def payment_reversed(payment_id: int, at: dt.datetime, *, undone: bool = False) -> None:
    """A paid payment's reversal went through at `at`: all of it is given back on that day, as
    a refund of it would be. `undone`: the payment is paid after all, the day gets it back."""
    _require_transaction()
    amount = Payment.objects.filter(pk=payment_id).values_list("amount", flat=True).first()
    if amount is not None:
        _given_back(payment_id, -amount if undone else amount, at)


def _given_back(payment_id: int, amount: Decimal, at: dt.datetime) -> None:
    """Money of `payment_id` given back at `at`, counted where its sale was counted."""
    orders = list(
        Order.objects.filter(payment_id=payment_id, paid_at__isnull=False)
        .select_related("attraction")
        .only("attraction__timezone", "channel", "currency")
    )
    if not orders:
        # A made change of time's difference is counted with its order.
        orders = [
            change.order
            for change in SlotChange.objects.filter(
                payment_id=payment_id, state=SlotChange.State.CHANGED
            ).select_related("order__attraction")
        ]
    for order in orders:
        day = at.astimezone(order.attraction.tz).date()
        _add((day, order.attraction_id, order.channel, order.currency), refunds=amount)
    if orders:
        return
    partner = _partner_payment(payment_id)
    if partner is not None:
        day = at.astimezone(site_zone()).date()
        _add((day, NO_ATTRACTION, Channel.PARTNER_API, partner[1]), refunds=amount)


# --- rebuilding from the raw rows ---------------------------------------------------------------
def _history_bounds() -> tuple[dt.date, dt.date] | None:
    """UTC dates around every moment a figure counts at, a day wider on each side (no zone is
    more than 14 hours from UTC), or None when nothing was ever sold."""
    moments = [
        Order.objects.aggregate(first=Min("paid_at"), last=Max("paid_at")),
        Refund.objects.filter(state=Refund.State.SUCCEEDED).aggregate(
            first=Min("succeeded_at"), last=Max("succeeded_at")
        ),
        Ticket.objects.aggregate(first=Min("used_at"), last=Max("used_at")),
        Payment.objects.filter(partner_trans_id__startswith=API_TRANS_ID_PREFIX).aggregate(
            first=Min("paid_at"), last=Max("paid_at")
        ),
        Payment.objects.aggregate(first=Min("reversed_at"), last=Max("reversed_at")),
    ]
    firsts = [m["first"] for m in moments if m["first"] is not None]
    lasts = [m["last"] for m in moments if m["last"] is not None]
    if not firsts:
        return None
    day = dt.timedelta(days=1)
    return min(firsts).date() - day, max(lasts).date() + day


def _lock_tables() -> None:
    """PostgreSQL: writers wait while the rows are rebuilt (readers do not), and the rebuild
    waits for writers already under way; what a writer adds after the rebuild committed is a
    change the rebuild did not see. SQLite's IMMEDIATE transaction already holds the database."""
    if connection.vendor == "postgresql":
        tables = ", ".join(
            connection.ops.quote_name(model._meta.db_table)
            for model in (DailySales, DailyTicketTypeSales)
        )
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")


def _key(day: dt.date, attraction: int | None, channel: str, currency: str) -> dict:
    """A report's key as the daily rows' columns (no attraction: the partner API's)."""
    return {"day": day, "attraction_id": attraction or NO_ATTRACTION, "channel": channel} | {
        "currency": currency
    }


def rebuild(start: dt.date | None = None, end: dt.date | None = None) -> int:
    """Recompute the daily rows of local days `start` to `end` (every day when both are None)
    from the raw rows, in one transaction; the number of daily rows written."""
    with transaction.atomic():
        _lock_tables()
        if start is None and end is None:
            DailySales.objects.all().delete()
            DailyTicketTypeSales.objects.all().delete()
            bounds = _history_bounds()
            if bounds is None:
                return 0
            start, end = bounds
        elif start is None or end is None or start > end:
            raise ValueError("rebuild takes both dates, the first not after the second")
        else:
            DailySales.objects.filter(day__gte=start, day__lte=end).delete()
            DailyTicketTypeSales.objects.filter(day__gte=start, day__lte=end).delete()
        attractions = list(Attraction.objects.all())
        facts = collect_raw(ReportQuery(start, end, Period.DAY), attractions)
        DailySales.objects.bulk_create(
            [
                DailySales(
                    **_key(*key),
                    orders=figures.orders,
                    tickets=figures.tickets,
                    admitted=figures.admitted,
                    gross=figures.gross,
                    refunds=figures.refunds,
                )
                for key, figures in facts.figures.items()
            ],
            batch_size=1000,
        )
        DailyTicketTypeSales.objects.bulk_create(
            [
                DailyTicketTypeSales(
                    **_key(*key),
                    ticket_type_id=type_id,
                    tickets=units,
                    amount=amount,
                )
                for (key, type_id), (units, amount) in facts.ticket_types.items()
            ],
            batch_size=1000,
        )
    return len(facts.figures)
