"""Matching a Beijing day's lines with Entrada's payments and refunds, and recording differences.

Both directions are checked:
- every line of the day's transaction file is looked up by Partner_transaction_id:
  partner_trans_id for PAYMENT, CANCEL and REVERSAL rows, partner_refund_id for REFUND rows, and
  compared for type/state, amount, currency and day, its fee against the contract rate, and its
  settlement line (any current settlement file: a line settles on a later day's file);
- every payment Entrada calls paid, and every refund it calls succeeded, on that day must have a
  line. Entrada's clock and Alipay's differ by a few seconds, so a payment near midnight may sit
  in the neighbouring day's file: lines of the day before and after count too, and a candidate
  near a boundary whose neighbouring file is not imported yet waits for it instead of becoming a
  false difference (the neighbour's run checks it again).

At a million lines a day the database does the looking up, set-wise: it sums the day's lines,
and joins them (and Entrada's candidates) to what they must match, handing back only the rows
that may hold a difference (_suspects, _candidates). Those go through the checks below, which
stay the one statement of the rules; a row the database leaves out would have noted nothing.

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
from django.db.models import Sum

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
    unmatched_lines: int = 0  # lines that noted a difference or repeat another

    @property
    def matched_lines(self) -> int:
        return self.lines - self.unmatched_lines


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


def _lines_to_check(
    file_id: int, settle_ids: list[int], cancel_files: list[int], day: date, *, settled: bool
):
    """The file's lines that may hold a difference, in id order, each with its payment or
    refund and its settlement line joined in; the rest are plain (see _suspects).

    The database joins a million lines to their payments and settlement lines and hands back
    only the few it cannot call plain, which reconcile_day then judges one by one exactly as it
    would any line. A plain line would note nothing, so leaving it out changes no difference;
    its money is in the day's totals (_line_totals).

    Yields lists of (id, ptid, type, outgoing, amount, fee, currency, payment, refund,
    settlement, repeated, reversed) where payment is (pk, ptid, amount, currency, state,
    paid_at), refund is (pk, partner_refund_id, amount, state, currency, payment_id),
    settlement is (ptid, outgoing, fee, settlement, amount) or None, repeated says another line
    of the file has the same id and type, and reversed that a CANCEL or REVERSAL line of the
    file or the next day's names the payment. A payment's paid_at is None when it falls on the
    day or a neighbour: only a time outside them matters to the check.
    """
    q = connection.ops.quote_name
    line, pay, ref = FileLine._meta.db_table, Payment._meta.db_table, Refund._meta.db_table
    suspects, params = _suspects(file_id, settle_ids, cancel_files, day, settled=settled)
    sql = f"""
        SELECT l.id, l.partner_transaction_id, l.type, l.outgoing, l.amount, l.fee, l.currency,
               p.id, p.amount, p.currency, p.state,
               CASE WHEN p.paid_at >= %s AND p.paid_at < %s THEN NULL ELSE p.paid_at END,
               r.id, r.amount, r.state, rp.currency, r.payment_id,
               s.fee, s.settlement, s.amount,
               CASE WHEN EXISTS (
                   SELECT 1 FROM {q(line)} d
                   WHERE d.partner_transaction_id = l.partner_transaction_id
                     AND d.file_id = l.file_id AND d.type = l.type AND d.id <> l.id
               ) THEN 1 ELSE 0 END,
               CASE WHEN l.type <> 'REFUND' AND EXISTS (
                   SELECT 1 FROM {q(line)} c
                   WHERE c.partner_transaction_id = l.partner_transaction_id
                     AND c.file_id IN ({_ids(cancel_files)}) AND c.type IN ('CANCEL', 'REVERSAL')
               ) THEN 1 ELSE 0 END
        FROM {q(line)} l
        LEFT JOIN {q(pay)} p ON l.type <> 'REFUND' AND p.partner_trans_id = l.partner_transaction_id
        LEFT JOIN {q(ref)} r ON l.type = 'REFUND' AND r.partner_refund_id = l.partner_transaction_id
        LEFT JOIN {q(pay)} rp ON rp.id = r.payment_id
        LEFT JOIN {q(line)} s ON s.partner_transaction_id = l.partner_transaction_id
             AND s.outgoing = l.outgoing AND s.file_id IN ({_ids(settle_ids)})
        WHERE l.id IN ({suspects})
        ORDER BY l.id
    """  # noqa: S608 (table names from the models, ids are integers)
    dec = _decimal_reader()
    when = _datetime_reader()
    # One query, read BATCH rows at a time (a server-side cursor on PostgreSQL): a day where
    # every line differs must not sit in memory whole.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [*_near(day), *params])
        seen = None
        while fetched := cursor.fetchmany(BATCH):
            out = []
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
                     payment, refund, settlement, bool(row[20]), bool(row[21]))
                )  # fmt: skip
            yield out


def _ids(ids) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def _near(day: date) -> list:
    """[start of the day before, end of the day after): a paid_at inside is on time."""
    adapt = connection.ops.adapt_datetimefield_value
    return [
        adapt(day_bounds(day - timedelta(days=1))[0]),
        adapt(day_bounds(day + timedelta(days=1))[1]),
    ]


# SQLite stores amounts as doubles: they are compared in whole cents, exact below this bound
# (and the fee arithmetic stays inside 64-bit integers); a larger amount is judged in Python.
SQLITE_EXACT_BELOW = 10**11


def _suspects(
    file_id: int, settle_ids: list[int], cancel_files: list[int], day: date, *, settled: bool
) -> tuple[str, list]:
    """SQL for the ids of the file's lines that are not plain, and its parameters.

    A line is plain when the checks of reconcile_day would find nothing wrong with it: its
    payment (or refund) is there in a plain state, with its amount and currency, paid on the
    day or a neighbour; its fee is the contract rate of its amount, rounded half up to the
    currency's minor unit (as expected_fee()); every settlement line for it has that fee and
    settles its amount less the fee; it has a settlement line once one is due; and no other
    line of the file or the next day's shares its id (no repeat, cancel or reversal).

    Conservative by design: what it cannot decide exactly (a CANCEL or REVERSAL, a state other
    than the plain ones, an amount too large for SQLite's exact arithmetic) is a suspect, left
    to the checks in Python, which stay the one statement of the rules. Three sets, each a
    plain join the database can hash or walk by index as it sees fit, united: lines whose own
    record disagrees, lines with another line of the same id (a repeat, a cancel, a settlement
    line that disagrees), and, once settlement is due, lines without one.
    """
    vendor = connection.vendor
    q = connection.ops.quote_name
    line, pay, ref = FileLine._meta.db_table, Payment._meta.db_table, Refund._meta.db_table
    every = f"SELECT l.id FROM {q(line)} l WHERE l.file_id = {int(file_id)}"  # noqa: S608
    rate = fee_rate()
    if vendor not in ("sqlite", "postgresql") or not rate.is_finite() or rate < 0:
        return every, []
    taken = ", ".join(f"'{s}'" for s in MONEY_TAKEN)
    zero = ", ".join(f"'{c}'" for c in sorted(money.ZERO_DECIMAL))
    if vendor == "postgresql":

        def fee_is_contract(fee: str) -> str:
            return (
                f"{fee} = ROUND(l.amount * CAST('{rate:f}' AS NUMERIC), "
                f"CASE WHEN l.currency IN ({zero}) THEN 0 ELSE 2 END)"
            )

        def settles(s: str) -> str:
            return f"{s}.settlement = {s}.amount - {s}.fee"

        exact = "TRUE"
    else:
        num, den = rate.as_integer_ratio()
        bound = min(SQLITE_EXACT_BELOW, (2**62 - 200 * den) // (200 * num + 1))

        def cents(column: str) -> str:
            return f"CAST(ROUND({column} * 100) AS INTEGER)"

        def fee_is_contract(fee: str) -> str:
            # expected_fee() in integers: the fee in the currency's minor unit (cents, or
            # whole units for JPY and KRW: q cents) is amount * num / den, rounded half up.
            unit = f"(CASE WHEN l.currency IN ({zero}) THEN 100 ELSE 1 END)"
            halves = f"2 * {cents('l.amount')} * {num} + {unit} * {den}"
            return f"{fee} < {bound} AND {cents(fee)} = ({halves}) / (2 * {unit} * {den}) * {unit}"

        def settles(s: str) -> str:
            return (
                f"{s}.amount < {bound} AND {s}.settlement < {bound} "
                f"AND {cents(f'{s}.settlement')} = {cents(f'{s}.amount')} - {cents(f'{s}.fee')}"
            )

        exact = f"l.amount < {bound}"
    cancel, settle = _ids(cancel_files), _ids(settle_ids)
    own = f"""
        SELECT l.id FROM {q(line)} l
        LEFT JOIN {q(pay)} p ON l.type <> 'REFUND' AND p.partner_trans_id = l.partner_transaction_id
        LEFT JOIN {q(ref)} r ON l.type = 'REFUND' AND r.partner_refund_id = l.partner_transaction_id
        LEFT JOIN {q(pay)} rp ON rp.id = r.payment_id
        WHERE l.file_id = {int(file_id)} AND NOT COALESCE(
            {exact}
            AND (
                (l.type = 'PAYMENT' AND p.id IS NOT NULL AND p.currency = l.currency
                 AND p.amount = l.amount AND p.state IN ({taken})
                 AND (p.paid_at IS NULL OR (p.paid_at >= %s AND p.paid_at < %s)))
                OR (l.type = 'REFUND' AND r.id IS NOT NULL AND rp.currency = l.currency
                    AND r.amount = l.amount AND r.state = 'succeeded')
            )
            AND {fee_is_contract("l.fee")}, FALSE)
    """  # noqa: S608 (names from the models, states and rate from the code, ids are integers)
    others = f"""
        SELECT l.id FROM {q(line)} l WHERE l.file_id = {int(file_id)} AND EXISTS (
            SELECT 1 FROM {q(line)} o
            WHERE o.partner_transaction_id = l.partner_transaction_id AND o.id <> l.id
              AND o.file_id IN ({cancel}, {settle})
              AND (o.file_id IN ({cancel}) OR (o.outgoing = l.outgoing AND NOT COALESCE(
                  o.settlement IS NOT NULL AND {fee_is_contract("o.fee")} AND {settles("o")},
                  FALSE)))
        )
    """  # noqa: S608
    sql = f"{own} UNION {others}"
    if not settled:
        sql += f"""
            UNION SELECT l.id FROM {q(line)} l WHERE l.file_id = {int(file_id)} AND NOT EXISTS (
                SELECT 1 FROM {q(line)} s
                WHERE s.partner_transaction_id = l.partner_transaction_id
                  AND s.outgoing = l.outgoing AND s.file_id IN ({settle})
            )
        """  # noqa: S608
    return sql, _near(day)


def _line_totals(file_id: int) -> dict[str, Totals]:
    """Counts and sums of every line of the file per currency, in the order currencies first
    appear, summed by the database (in whole cents on SQLite, where amounts are doubles)."""
    q = connection.ops.quote_name
    if connection.vendor == "sqlite":
        amount, fee = "CAST(ROUND(amount * 100) AS INTEGER)", "CAST(ROUND(fee * 100) AS INTEGER)"
        unit = CENT
    else:
        amount, fee, unit = "amount", "fee", Decimal(1)
    sql = f"""
        SELECT currency, type, outgoing, COUNT(*), SUM({amount}), SUM({fee}), MIN(id)
        FROM {q(FileLine._meta.db_table)} WHERE file_id = %s
        GROUP BY currency, type, outgoing
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [file_id])
        rows = sorted(cursor.fetchall(), key=lambda row: row[6])
    totals: dict[str, Totals] = defaultdict(Totals)
    for currency, kind, outgoing, count, amounts, fees, _first in rows:
        t = totals[currency]
        gross = (Decimal(amounts or 0) * unit).quantize(CENT)
        t.lines += count
        if kind == "PAYMENT":
            t.payments_count += count
            t.payments_gross += gross
        elif kind == "REFUND":
            t.refunds_count += count
            t.refunds_gross += gross
        else:
            t.reversals_count += count
            t.reversals_gross += gross
        fee_sum = (Decimal(fees or 0) * unit).quantize(CENT)
        t.fees += -fee_sum if outgoing else fee_sum
    return totals


def _uncount(t: Totals, kind: str, outgoing: bool, amount: Decimal, fee: Decimal) -> None:
    """Take a repeated line's money back out of the totals: a duplicate counts once."""
    if kind == "PAYMENT":
        t.payments_count -= 1
        t.payments_gross -= amount
    elif kind == "REFUND":
        t.refunds_count -= 1
        t.refunds_gross -= amount
    else:
        t.reversals_count -= 1
        t.reversals_gross -= amount
    t.fees -= -fee if outgoing else fee


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
    found: dict[tuple, Found] = {}
    # (ptid, type) of repeated lines -> times seen so far; only repeated lines come in here.
    repeated: dict[tuple, int] = {}
    totals = _line_totals(tx_file.pk)

    def note(kind, ptid, line_type, **kw) -> None:
        item = Found(kind=kind, ptid=ptid, line_type=line_type, day=day, **kw)
        found.setdefault(item.key, item)

    settle_ids = list(
        ReconciliationFile.objects.filter(
            kind=ReconciliationFile.Kind.SETTLEMENT, partner=partner, superseded_by__isnull=True
        ).values_list("pk", flat=True)
    )
    settled = (today - day).days <= settle_days  # no settlement line yet is no difference yet
    rows_to_check = _lines_to_check(tx_file.pk, settle_ids, cancel_files, day, settled=settled)
    for rows in rows_to_check:
        for row in rows:
            line_id, ptid, kind, outgoing, amount, fee, currency, p, r, settlement = row[:10]
            dup, reversed_ = row[10:]
            before = len(found)
            t = totals[currency]
            if kind == "REFUND":
                links = {"refund_id": r[0], "payment_id": r[5]} if r else {}
            else:
                links = {"payment_id": p[0]} if p else {}
            key = (ptid, kind)
            if dup:
                repeated[key] = repeated.get(key, 0) + 1
                if repeated[key] > 1:
                    note(
                        Kind.DUPLICATE_LINE, ptid, kind, currency=currency, amount_alipay=amount,
                        line_id=line_id, **links,
                        detail=f"{kind} {ptid} appears {repeated[key]} times",
                    )  # fmt: skip
                    _uncount(t, kind, outgoing, amount, fee)
                    t.unmatched_lines += 1
                    continue
            common = {"currency": currency, "amount_alipay": amount, "line_id": line_id}
            if kind == "REFUND":
                _check_refund(note, ptid, kind, amount, currency, r, common)
            else:
                _check_payment(
                    note, ptid, kind, amount, currency, p, common,
                    reversed_=reversed_, day=day,
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
            if len(found) != before:
                t.unmatched_lines += 1

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
    near = [pk for pk, d in file_days.items() if abs((d - day).days) <= 1]
    for kind in ("PAYMENT", "REFUND"):
        for rows in _candidates(kind, window, core, list(file_days), near, day):
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
    near_ids: list[int],
    day: date,
):
    """Entrada's paid payments (or succeeded refunds) in `window` that _missing_at_alipay must
    look at, in id order, BATCH per list, each with the id of a current file holding its line
    (None if none does).

    One query; the database leaves out what needs no look: a candidate inside `core` (the day
    is known without its time) whose line is in a file of the day or a neighbour, unless a
    missing_at_alipay difference around the day names it (that one may be cleared). The time
    is None inside `core`: converting a million times back would cost more than the rest.
    """
    q = connection.ops.quote_name
    line, pay, ref = FileLine._meta.db_table, Payment._meta.db_table, Refund._meta.db_table
    diff = Difference._meta.db_table
    files = _ids(file_ids)
    if kind == "PAYMENT":
        states = ", ".join(f"'{s}'" for s in (*MONEY_TAKEN, PState.CANCELLED))
        ptid, at, source = "p.partner_trans_id", "p.paid_at", f"{q(pay)} p"
        where = f"p.state IN ({states})"
        columns = "p.id, p.partner_trans_id, p.amount, p.currency"
        payment_id = "p.id"
    else:
        ptid, at = "r.partner_refund_id", "r.succeeded_at"
        source = f"{q(ref)} r JOIN {q(pay)} p ON p.id = r.payment_id"
        where = "r.state = 'succeeded'"
        columns = "r.id, r.partner_refund_id, r.amount, p.currency"
        payment_id = "r.payment_id"
    found_in = f"""(SELECT MIN(l.file_id) FROM {q(line)} l
        WHERE l.partner_transaction_id = {ptid} AND l.type = '{kind}' AND l.file_id IN ({files}))
    """  # noqa: S608
    sql = f"""
        SELECT {columns}, CASE WHEN {at} >= %s AND {at} < %s THEN NULL ELSE {at} END,
               {payment_id}, {found_in}
        FROM {source}
        LEFT JOIN (
            SELECT DISTINCT partner_transaction_id FROM {q(diff)}
            WHERE kind = '{Kind.MISSING_AT_ALIPAY.value}' AND day >= %s AND day <= %s
        ) w ON w.partner_transaction_id = {ptid}
        WHERE {at} >= %s AND {at} < %s AND {where}
          AND NOT COALESCE(
              {at} >= %s AND {at} < %s AND w.partner_transaction_id IS NULL
              AND {found_in} IN ({_ids(near_ids)}), FALSE)
        ORDER BY 1
    """  # noqa: S608 (names from the models, states from the code, ids are integers)
    adapt = connection.ops.adapt_datetimefield_value
    dec, when = _decimal_reader(), _datetime_reader()
    core_, window_ = [*map(adapt, core)], [*map(adapt, window)]
    watch = [connection.ops.adapt_datefield_value(day + timedelta(days=k)) for k in (-1, 1)]
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [*core_, *watch, *window_, *core_])
        while fetched := cursor.fetchmany(BATCH):
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
