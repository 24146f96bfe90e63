"""Matching a Beijing day's lines with Entrada's payments and refunds, and recording differences.

Both directions are checked:
- every line of the day's transaction file is looked up (in batches) by Partner_transaction_id:
  partner_trans_id for PAYMENT, CANCEL and REVERSAL rows, partner_refund_id for REFUND rows, and
  compared for type/state, amount, currency and day, its fee against the contract rate, and its
  settlement line (any current settlement file: a line settles on a later day's file);
- every payment Entrada calls paid, and every refund it calls succeeded, on that day must have a
  line. Entrada's clock and Alipay's differ by a few seconds, so a payment near midnight may sit
  in the neighbouring day's file: lines of the day before and after count too, and a candidate
  near a boundary whose neighbouring file is not imported yet waits for it instead of becoming a
  false difference (the neighbour's run checks it again).

Re-running a day updates the same Difference rows (their identity is day, kind, id and line
type): notes and resolutions stay, a difference no longer found is closed as cleared, and one
cleared but found again is reopened. Only differences new in this run are returned (for mail).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum

from payments import clock
from payments.alipay import money
from payments.alipay.beijing import beijing, day_bounds
from payments.models import Payment, Refund

from .models import DaySummary, Difference, DifferenceEvent, FileLine, ReconciliationFile

logger = logging.getLogger(__name__)

BATCH = 2000
# A payment this close to midnight may be in the neighbouring day's file.
NEIGHBOUR_MARGIN = timedelta(minutes=30)
Kind = Difference.Kind
PState = Payment.State
MONEY_TAKEN = (PState.PAID, PState.PARTIALLY_REFUNDED, PState.REFUNDED)
NOT_TAKEN = (PState.FAILED, PState.CANCELLED, PState.NEEDS_ATTENTION)
IN_FLIGHT = (PState.CREATED, PState.PENDING, PState.CANCELLING)
SCAN_KINDS = [k for k in Kind if k != Kind.MISSING_AT_ALIPAY]


@dataclass
class Found:
    kind: str
    ptid: str
    line_type: str
    day: date
    currency: str = ""
    amount_here: Decimal | None = None
    amount_alipay: Decimal | None = None
    detail: str = ""
    payment_id: int | None = None
    refund_id: int | None = None
    line_id: int | None = None

    @property
    def key(self) -> tuple:
        return (self.day, self.kind, self.ptid, self.line_type)


@dataclass
class Totals:
    payments_count: int = 0
    payments_gross: Decimal = Decimal(0)
    refunds_count: int = 0
    refunds_gross: Decimal = Decimal(0)
    reversals_count: int = 0
    reversals_gross: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    settled: Decimal = Decimal(0)
    gross_cny: Decimal = Decimal(0)
    settled_cny: Decimal = Decimal(0)
    lines: int = 0
    matched_lines: int = 0


@dataclass
class DayOutcome:
    day: date
    lines: int = 0
    matched: int = 0
    new: list[Difference] = field(default_factory=list)
    open_counts: dict[str, int] = field(default_factory=dict)


def fee_rate() -> Decimal:
    return Decimal(str(settings.RECONCILIATION_FEE_RATE))


def expected_fee(amount: Decimal, currency: str, rate: Decimal) -> Decimal:
    places = money.exponent(currency) if currency in money.SUPPORTED_CURRENCIES else 2
    return (amount * rate).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def current_file(kind: str, day: date, partner: str) -> ReconciliationFile | None:
    return ReconciliationFile.objects.filter(
        kind=kind, day=day, partner=partner, superseded_by__isnull=True
    ).first()


def _joined_lines(file_id: int, settle_ids: list[int], day: date):
    """The file's lines in id order, BATCH per query, each with its payment or refund and its
    settlement line joined in: one query per batch instead of one per table, read without the
    ORM's per-value converters (a million lines spend most of their time there otherwise).

    Yields lists of (id, ptid, type, outgoing, amount, fee, currency, payment, refund,
    settlement) where payment is (pk, ptid, amount, currency, state, paid_at), refund is
    (pk, partner_refund_id, amount, state, currency, payment_id) and settlement is
    (ptid, outgoing, fee, settlement, amount), or None. A payment's paid_at is None when it
    falls on the day or a neighbour: only a time outside them matters to the check, and
    reading a million times back would cost more than the rest of the row.
    """
    q = connection.ops.quote_name
    line, pay, ref = FileLine._meta.db_table, Payment._meta.db_table, Refund._meta.db_table
    settled_in = ", ".join(str(int(i)) for i in settle_ids) or "NULL"
    sql = f"""
        SELECT l.id, l.partner_transaction_id, l.type, l.outgoing, l.amount, l.fee, l.currency,
               p.id, p.amount, p.currency, p.state,
               CASE WHEN p.paid_at >= %s AND p.paid_at < %s THEN NULL ELSE p.paid_at END,
               r.id, r.amount, r.state, rp.currency, r.payment_id,
               s.fee, s.settlement, s.amount
        FROM {q(line)} l
        LEFT JOIN {q(pay)} p ON l.type <> 'REFUND' AND p.partner_trans_id = l.partner_transaction_id
        LEFT JOIN {q(ref)} r ON l.type = 'REFUND' AND r.partner_refund_id = l.partner_transaction_id
        LEFT JOIN {q(pay)} rp ON rp.id = r.payment_id
        LEFT JOIN {q(line)} s ON s.partner_transaction_id = l.partner_transaction_id
             AND s.outgoing = l.outgoing AND s.file_id IN ({settled_in})
        WHERE l.file_id = %s AND l.id > %s
        ORDER BY l.id
    """  # noqa: S608 (table names from the models, ids are integers)
    sql += f" LIMIT {BATCH}"
    dec = _decimal_reader()
    when = _datetime_reader()
    adapt = connection.ops.adapt_datetimefield_value
    near = [
        adapt(day_bounds(day - timedelta(days=1))[0]),
        adapt(day_bounds(day + timedelta(days=1))[1]),
    ]
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [*near, file_id, last])
            fetched = cursor.fetchall()
            if not fetched:
                return
            out, seen = [], None
            for row in fetched:
                if row[0] == seen:
                    continue  # a second settlement line for the same movement
                seen = row[0]
                ptid, outgoing = row[1], bool(row[3])
                payment = refund = settlement = None
                if row[7] is not None:
                    payment = (row[7], ptid, dec(row[8]), row[9], row[10], when(row[11]))
                if row[12] is not None:
                    refund = (row[12], ptid, dec(row[13]), row[14], row[15], row[16])
                if row[17] is not None:
                    settlement = (ptid, outgoing, dec(row[17]), dec(row[18]), dec(row[19]))
                out.append(
                    (row[0], ptid, row[2], outgoing, dec(row[4]), dec(row[5]), row[6],
                     payment, refund, settlement)
                )  # fmt: skip
            yield out
            last = fetched[-1][0]


CENT = Decimal("0.01")


def _decimal_reader():
    """SQLite hands back decimals as floats: their shortest repr is the stored value. Each
    distinct value is converted once: a day's amounts and fees repeat (prices, rates)."""
    if connection.vendor != "sqlite":
        return lambda v: v
    seen: dict = {None: None}
    get = seen.get

    def read(value):
        out = get(value)
        if out is None and value is not None:
            if len(seen) > 100_000:
                seen.clear()
                seen[None] = None
            out = seen[value] = Decimal(repr(value)).quantize(CENT)
        return out

    return read


def _datetime_reader():
    if connection.vendor != "sqlite":
        return lambda v: v

    def read(value):
        if value is None:
            return None
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(value)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    return read


def reconcile_day(day: date, *, partner: str | None = None) -> DayOutcome | None:
    """Match `day` (Beijing) and record its differences; None when its file is not imported."""
    partner = partner or settings.ALIPAY["PARTNER_ID"]
    tx_file = current_file(ReconciliationFile.Kind.TRANSACTION, day, partner)
    if tx_file is None:
        return None
    rate = fee_rate()
    settle_days = settings.RECONCILIATION_SETTLE_DAYS
    today = beijing(clock.now()).date()
    neighbours = {
        d: current_file(ReconciliationFile.Kind.TRANSACTION, d, partner)
        for d in (day - timedelta(days=1), day + timedelta(days=1))
    }
    cancel_files = [tx_file.pk] + [f.pk for d, f in neighbours.items() if f and d > day]
    cancelled = set(
        FileLine.objects.filter(file_id__in=cancel_files, type__in=["CANCEL", "REVERSAL"])
        .values_list("partner_transaction_id", flat=True)
        .iterator()
    )
    found: dict[tuple, Found] = {}
    duplicates = (
        FileLine.objects.filter(file=tx_file)
        .values("partner_transaction_id", "type")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    repeated: dict[tuple, int] = {(d["partner_transaction_id"], d["type"]): 0 for d in duplicates}
    totals: dict[str, Totals] = defaultdict(Totals)

    def note(kind, ptid, line_type, **kw) -> None:
        item = Found(kind=kind, ptid=ptid, line_type=line_type, day=day, **kw)
        found.setdefault(item.key, item)

    settle_ids = list(
        ReconciliationFile.objects.filter(
            kind=ReconciliationFile.Kind.SETTLEMENT, partner=partner, superseded_by__isnull=True
        ).values_list("pk", flat=True)
    )
    for rows in _joined_lines(tx_file.pk, settle_ids, day):
        for line_id, ptid, kind, outgoing, amount, fee, currency, p, r, settlement in rows:
            before = len(found)
            t = totals[currency]
            t.lines += 1
            if kind == "REFUND":
                links = {"refund_id": r[0], "payment_id": r[5]} if r else {}
            else:
                links = {"payment_id": p[0]} if p else {}
            key = (ptid, kind)
            if key in repeated:
                repeated[key] += 1
                if repeated[key] > 1:
                    note(
                        Kind.DUPLICATE_LINE, ptid, kind, currency=currency, amount_alipay=amount,
                        line_id=line_id, **links,
                        detail=f"{kind} {ptid} appears {repeated[key]} times",
                    )  # fmt: skip
                    continue
            if kind == "PAYMENT":
                t.payments_count += 1
                t.payments_gross += amount
            elif kind == "REFUND":
                t.refunds_count += 1
                t.refunds_gross += amount
            else:
                t.reversals_count += 1
                t.reversals_gross += amount
            t.fees += -fee if outgoing else fee
            common = {"currency": currency, "amount_alipay": amount, "line_id": line_id}
            if kind == "REFUND":
                _check_refund(note, ptid, kind, amount, currency, r, common)
            else:
                _check_payment(
                    note, ptid, kind, amount, currency, p, common,
                    reversed_=ptid in cancelled, day=day,
                )  # fmt: skip
            want = expected_fee(amount, currency, rate)
            if fee != want or (settlement is not None and settlement[2] != want):
                shown = fee if fee != want else settlement[2]
                note(
                    Kind.FEE_MISMATCH, ptid, kind, currency=currency, amount_here=want,
                    amount_alipay=shown, line_id=line_id, **links,
                    detail=f"fee {shown} where the contract rate {rate} gives {want}",
                )  # fmt: skip
            elif settlement is not None and settlement[3] != settlement[4] - settlement[2]:
                note(
                    Kind.FEE_MISMATCH, ptid, kind, currency=currency, line_id=line_id,
                    amount_alipay=settlement[3], **links,
                    detail=f"settled {settlement[3]} is not {settlement[4]} "
                    f"less fee {settlement[2]}",
                )  # fmt: skip
            if settlement is None and (today - day).days > settle_days:
                note(
                    Kind.UNSETTLED, ptid, kind, line_id=line_id, currency=currency,
                    amount_alipay=amount, **links,
                    detail=f"no settlement line {(today - day).days} days after the day",
                )  # fmt: skip
            if len(found) == before:
                t.matched_lines += 1

    settle_file = current_file(ReconciliationFile.Kind.SETTLEMENT, day, partner)
    if settle_file is not None:
        sums = (
            FileLine.objects.filter(file=settle_file)
            .values("currency", "outgoing")
            .annotate(
                net=Sum("settlement"), gross_cny=Sum("amount_cny"), net_cny=Sum("settlement_cny")
            )
        )
        for row in sums:
            sign = -1 if row["outgoing"] else 1
            t = totals[row["currency"]]
            t.settled += sign * _cents(row["net"])
            t.gross_cny += sign * _cents(row["gross_cny"])
            t.settled_cny += sign * _cents(row["net_cny"])

    missing = _missing_at_alipay(day, partner, neighbours, tx_file)
    outcome = DayOutcome(day=day)
    with transaction.atomic():
        outcome.new = _record(day, found, missing)
        _write_summary(day, totals)
    outcome.lines = sum(t.lines for t in totals.values())
    outcome.matched = sum(t.matched_lines for t in totals.values())
    logger.info(
        "reconciled %s: %d lines, %d matched, %d new differences",
        day,
        outcome.lines,
        outcome.matched,
        len(outcome.new),
    )
    return outcome


def _check_payment(note, ptid, kind, amount, currency, payment, common, *, reversed_, day) -> None:
    if payment is None:
        note(
            Kind.MISSING_HERE, ptid, kind, **common,
            detail=f"Alipay shows {kind} {amount} {currency}; Entrada has no such payment",
        )  # fmt: skip
        return
    pk, _ptid, here, here_currency, state, paid_at = payment
    common = {**common, "payment_id": pk, "amount_here": here}
    if here_currency != currency:
        note(
            Kind.CURRENCY_MISMATCH, ptid, kind, **common,
            detail=f"Alipay {currency}, Entrada {here_currency}",
        )  # fmt: skip
    elif here != amount:
        note(
            Kind.AMOUNT_MISMATCH, ptid, kind, **common,
            detail=f"Alipay {amount} {currency}, Entrada {here} {here_currency}",
        )  # fmt: skip
    money_back = reversed_ or kind != "PAYMENT"
    if money_back:
        if state in (PState.PAID, PState.PARTIALLY_REFUNDED):
            note(
                Kind.STATE_MISMATCH, ptid, kind, **common,
                detail=f"Alipay shows the payment cancelled; Entrada shows it {state}",
            )  # fmt: skip
        elif state in IN_FLIGHT:
            note(
                Kind.STATE_MISMATCH, ptid, kind, **common,
                detail=f"Alipay shows {kind}; Entrada's payment is still {state}",
            )  # fmt: skip
        return
    if state in NOT_TAKEN:
        note(
            Kind.MISSING_HERE, ptid, kind, **common,
            detail=f"Alipay took {amount} {currency}; Entrada thinks the payment {state}",
        )  # fmt: skip
    elif state in IN_FLIGHT:
        note(
            Kind.STATE_MISMATCH, ptid, kind, **common,
            detail=f"Alipay shows it paid; Entrada's payment is still {state}",
        )  # fmt: skip
    elif paid_at is not None and abs((beijing(paid_at).date() - day).days) > 1:
        note(
            Kind.STATE_MISMATCH, ptid, kind, **common,
            detail=f"Entrada recorded it paid on {beijing(paid_at).date()}, Alipay on {day}",
        )  # fmt: skip


def _check_refund(note, ptid, kind, amount, currency, refund, common) -> None:
    if refund is None:
        note(
            Kind.MISSING_HERE, ptid, kind, **common,
            detail=f"Alipay refunded {amount} {currency}; Entrada has no such refund",
        )  # fmt: skip
        return
    pk, _prid, here, state, here_currency, payment_id = refund
    common = {**common, "refund_id": pk, "payment_id": payment_id, "amount_here": here}
    if here_currency != currency:
        note(
            Kind.CURRENCY_MISMATCH, ptid, kind, **common,
            detail=f"Alipay {currency}, Entrada {here_currency}",
        )  # fmt: skip
    elif here != amount:
        note(
            Kind.AMOUNT_MISMATCH, ptid, kind, **common,
            detail=f"Alipay refunded {amount}, Entrada {here}",
        )  # fmt: skip
    if state == Refund.State.FAILED:
        note(
            Kind.MISSING_HERE, ptid, kind, **common,
            detail=f"Alipay refunded {amount} {currency}; Entrada thinks the refund failed",
        )  # fmt: skip
    elif state != Refund.State.SUCCEEDED:
        note(
            Kind.STATE_MISMATCH, ptid, kind, **common,
            detail=f"Alipay shows the refund done; Entrada's refund is {state}",
        )  # fmt: skip


def _cents(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def _missing_at_alipay(
    day: date, partner: str, neighbours: dict, tx_file: ReconciliationFile
) -> tuple[list[Found], set[str]]:
    """Entrada's paid payments and succeeded refunds around `day` without a line.

    Returns the differences, and the ids found present among those with a missing_at_alipay
    difference around the day (those are cleared; a set of every id present would hold a
    million strings).
    """
    start, end = day_bounds(day)
    days = [day + timedelta(days=k) for k in range(-2, 3)]
    file_days = {
        f.pk: f.day
        for f in ReconciliationFile.objects.filter(
            kind=ReconciliationFile.Kind.TRANSACTION,
            partner=partner,
            superseded_by__isnull=True,
            day__in=days,
        )
    }
    have = set(file_days.values())
    # Candidates around the day's edges belong to the neighbouring day; they are judged here
    # once both their day's file and the neighbour they are near are imported.
    window = (start - NEIGHBOUR_MARGIN, end + NEIGHBOUR_MARGIN)
    core = (start + NEIGHBOUR_MARGIN, end - NEIGHBOUR_MARGIN)

    def judge(at: datetime | None) -> date | None:
        """The day a candidate belongs to, or None while a file it needs is missing."""
        if at is None or core[0] <= at < core[1]:
            return day
        own = beijing(at).date()
        own_start, own_end = day_bounds(own)
        needed = {own}
        if at - own_start < NEIGHBOUR_MARGIN:
            needed.add(own - timedelta(days=1))
        if own_end - at < NEIGHBOUR_MARGIN:
            needed.add(own + timedelta(days=1))
        return own if needed <= have else None

    watched = set(
        Difference.objects.filter(
            kind=Kind.MISSING_AT_ALIPAY,
            day__gte=day - timedelta(days=1),
            day__lte=day + timedelta(days=1),
        ).values_list("partner_transaction_id", flat=True)
    )
    lacking: list[tuple] = []
    present: set[str] = set()
    for kind in ("PAYMENT", "REFUND"):
        for rows in _candidates(kind, window, core, list(file_days)):
            for pk, ptid, amount, currency, at, payment_id, found_in in rows:
                own = judge(at)
                if own is None:
                    continue  # waits for the neighbouring day's file
                if found_in is not None and abs((file_days[found_in] - own).days) <= 1:
                    if ptid in watched:
                        present.add(ptid)
                    continue
                lacking.append((kind, pk, ptid, amount, currency, at, payment_id, own))
    # Candidates inside the day come without their time (see _candidates): read the times of
    # the few that lack a line, for the message.
    times: dict[tuple[str, int], datetime] = {}
    for kind, model, column in (
        ("PAYMENT", Payment, "paid_at"),
        ("REFUND", Refund, "succeeded_at"),
    ):
        pks = [item[1] for item in lacking if item[0] == kind and item[5] is None]
        for start in range(0, len(pks), 500):
            for pk, at in model.objects.filter(pk__in=pks[start : start + 500]).values_list(
                "pk", column
            ):
                times[(kind, pk)] = at
    missing: list[Found] = []
    for kind, pk, ptid, amount, currency, at, payment_id, own in lacking:
        at = at or times[(kind, pk)]
        refund = kind == "REFUND"
        missing.append(
            Found(
                kind=Kind.MISSING_AT_ALIPAY, ptid=ptid, line_type=kind, day=own,
                currency=currency, amount_here=amount, payment_id=payment_id,
                refund_id=pk if refund else None,
                detail=f"Entrada {'refunded' if refund else 'was paid'} {amount} "
                f"{currency} at {beijing(at):%Y-%m-%d %H:%M:%S} Beijing; "
                "Alipay's files have no such line",
            )
        )  # fmt: skip
    return missing, present


def _candidates(
    kind: str,
    window: tuple[datetime, datetime],
    core: tuple[datetime, datetime],
    file_ids: list[int],
):
    """Entrada's paid payments (or succeeded refunds) in `window`, BATCH per query, each with
    the id of a current file holding its line (None if none does). The time is None inside
    `core`, where the day is known without it: converting a million times back from the
    database would cost more than the rest of the row."""
    q = connection.ops.quote_name
    line, pay, ref = FileLine._meta.db_table, Payment._meta.db_table, Refund._meta.db_table
    files = ", ".join(str(int(i)) for i in file_ids) or "NULL"
    if kind == "PAYMENT":
        states = ", ".join(f"'{s}'" for s in (*MONEY_TAKEN, PState.CANCELLED))
        sql = f"""
            SELECT p.id, p.partner_trans_id, p.amount, p.currency,
                   CASE WHEN p.paid_at >= %s AND p.paid_at < %s THEN NULL ELSE p.paid_at END, p.id,
                   (SELECT MIN(l.file_id) FROM {q(line)} l
                    WHERE l.partner_transaction_id = p.partner_trans_id
                      AND l.type = 'PAYMENT' AND l.file_id IN ({files}))
            FROM {q(pay)} p
            WHERE p.paid_at >= %s AND p.paid_at < %s AND p.state IN ({states})
              AND p.id > %s AND p.id <= %s
        """  # noqa: S608 (names from the models, states from the code, ids are integers)
        bounds = f"""
            SELECT MIN(p.id), MAX(p.id) FROM {q(pay)} p
            WHERE p.paid_at >= %s AND p.paid_at < %s AND p.state IN ({states})
        """  # noqa: S608
    else:
        sql = f"""
            SELECT r.id, r.partner_refund_id, r.amount, p.currency,
                   CASE WHEN r.succeeded_at >= %s AND r.succeeded_at < %s
                        THEN NULL ELSE r.succeeded_at END, r.payment_id,
                   (SELECT MIN(l.file_id) FROM {q(line)} l
                    WHERE l.partner_transaction_id = r.partner_refund_id
                      AND l.type = 'REFUND' AND l.file_id IN ({files}))
            FROM {q(ref)} r JOIN {q(pay)} p ON p.id = r.payment_id
            WHERE r.succeeded_at >= %s AND r.succeeded_at < %s AND r.state = 'succeeded'
              AND r.id > %s AND r.id <= %s
        """  # noqa: S608
        bounds = f"""
            SELECT MIN(r.id), MAX(r.id) FROM {q(ref)} r
            WHERE r.succeeded_at >= %s AND r.succeeded_at < %s AND r.state = 'succeeded'
        """  # noqa: S608
    # Walked in id ranges, not `id > last ORDER BY id LIMIT n`: with the state index and
    # several states the database sorts every remaining row for each batch (quadratic on a
    # day of a million payments).
    adapt = connection.ops.adapt_datetimefield_value
    dec, when = _decimal_reader(), _datetime_reader()
    times = [*map(adapt, core), *map(adapt, window)]
    with connection.cursor() as cursor:
        cursor.execute(bounds, times[2:])
        low, high = cursor.fetchone()
        if low is None:
            return
        for start in range(low - 1, high, BATCH):
            cursor.execute(sql, [*times, start, start + BATCH])
            fetched = cursor.fetchall()
            if fetched:
                fetched.sort(key=lambda r: r[0])
                yield [(r[0], r[1], dec(r[2]), r[3], when(r[4]), r[5], r[6]) for r in fetched]


def _event(diff: Difference, action: str, note: str = "") -> DifferenceEvent:
    return DifferenceEvent(difference=diff, action=action, actor="system:reconcile", note=note)


def _record(day: date, found: dict[tuple, Found], missing_result) -> list[Difference]:
    """Upsert the differences; close those no longer found. Returns the new ones."""
    missing, present = missing_result
    now = clock.now()
    wanted = dict(found)
    for item in missing:
        wanted.setdefault(item.key, item)
    existing = {
        (d.day, d.kind, d.partner_transaction_id, d.line_type): d
        for d in Difference.objects.filter(day=day, kind__in=SCAN_KINDS)
    }
    # missing_at_alipay rows are judged for days around this one only: load those (a few),
    # never a query naming every id found present (a day has a million of them).
    for d in Difference.objects.filter(
        kind=Kind.MISSING_AT_ALIPAY,
        day__gte=day - timedelta(days=1),
        day__lte=day + timedelta(days=1),
    ):
        existing[(d.day, d.kind, d.partner_transaction_id, d.line_type)] = d
    new: list[Difference] = []
    events: list[DifferenceEvent] = []
    for key, item in wanted.items():
        values = {
            "severity": Difference.SEVERITY[item.kind],
            "currency": item.currency,
            "amount_here": item.amount_here,
            "amount_alipay": item.amount_alipay,
            "detail": item.detail[:500],
            "payment_id": item.payment_id,
            "refund_id": item.refund_id,
            "line_id": item.line_id,
            "last_seen_at": now,
        }
        diff = existing.pop(key, None)
        if diff is None:
            diff = Difference.objects.create(
                day=item.day, kind=item.kind, partner_transaction_id=item.ptid,
                line_type=item.line_type, first_seen_at=now, **values,
            )  # fmt: skip
            events.append(_event(diff, DifferenceEvent.Action.FOUND, item.detail))
            new.append(diff)
            continue
        reopen = not diff.is_open and diff.resolution == Difference.Resolution.CLEARED
        if reopen:
            values.update(is_open=True, resolution="", resolved_at=None, resolved_by=None)
            events.append(_event(diff, DifferenceEvent.Action.REOPENED, item.detail))
        Difference.objects.filter(pk=diff.pk).update(**values)
    # What was found before but not now: on this day's scan kinds, and missing_at_alipay rows
    # whose payment or refund now has its line.
    gone = [
        d
        for key, d in existing.items()
        if d.is_open and (d.kind != Kind.MISSING_AT_ALIPAY or d.partner_transaction_id in present)
    ]
    for start in range(0, len(gone), 500):
        Difference.objects.filter(
            pk__in=[d.pk for d in gone[start : start + 500]], is_open=True
        ).update(is_open=False, resolution=Difference.Resolution.CLEARED, resolved_at=now)
        events += [
            _event(d, DifferenceEvent.Action.CLEARED, "not in the current files") for d in gone
        ]
    DifferenceEvent.objects.bulk_create(events)
    return new


def _write_summary(day: date, totals: dict[str, Totals]) -> None:
    DaySummary.objects.filter(day=day).exclude(currency__in=list(totals)).delete()
    now = clock.now()
    for currency, t in totals.items():
        out = t.payments_gross - t.refunds_gross - t.reversals_gross
        DaySummary.objects.update_or_create(
            day=day,
            currency=currency,
            defaults={
                "payments_count": t.payments_count,
                "payments_gross": t.payments_gross,
                "refunds_count": t.refunds_count,
                "refunds_gross": t.refunds_gross,
                "reversals_count": t.reversals_count,
                "reversals_gross": t.reversals_gross,
                "fees": t.fees,
                "net": out - t.fees,
                "settled": t.settled,
                "gross_cny": t.gross_cny,
                "fees_cny": t.gross_cny - t.settled_cny,
                "settled_cny": t.settled_cny,
                "lines": t.lines,
                "matched_lines": t.matched_lines,
                "computed_at": now,
            },
        )
