"""Matching rules at the edges where the database alone calls a line plain (matching.py,
_suspects): fees rounded half up, settlement lines, repeats, cancels the next day, totals in
exact cents and amounts beyond SQLite's exact range. Each runs on SQLite and, with
DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from payments.models import Payment, Refund
from payments.reconciliation.models import DaySummary, Difference
from payments.reconciliation.runs import run
from payments.reconciliation.sources import uploaded

from .helpers import DAY, NEXT_MORNING, PARTNER

Kind = Difference.Kind
NOON = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 12:00 Beijing
TX_COLUMNS = (
    "Partner_transaction_id,Transaction_id,Transaction_amount,Charge_amount,Currency,"
    "Payment_time,Transaction_type"
)
ST_COLUMNS = "Partner_transaction_id,Transaction_id,Amount,Fee,Settlement,Currency,Type"

pytestmark = pytest.mark.django_db


def paid(ptid: str, amount: str, currency: str = "USD", **fields) -> Payment:
    return Payment.objects.create(
        partner_trans_id=ptid,
        amount=Decimal(amount),
        currency=currency,
        description="test",
        channel=Payment.Channel.BARCODE,
        state=fields.pop("state", Payment.State.PAID),
        paid_at=fields.pop("paid_at", NOON),
        **fields,
    )


def tx_file(rows: list[str], day=DAY) -> io.BytesIO:
    """A transaction file; rows are "ptid,amount,fee,currency,type"."""
    lines = [
        f"{ptid},T{n},{amount},{fee},{currency},{day:%Y-%m-%d} 12:00:00,{kind}"
        for n, (ptid, amount, fee, currency, kind) in enumerate(r.split(",") for r in rows)
    ]
    summary = ["Partner,Payment_time,Total_count", f"{PARTNER},{day:%Y%m%d},{len(rows)}"]
    text = "\n".join([*summary, TX_COLUMNS, *lines])
    stream = io.BytesIO((text + "\n").encode())
    stream.name = f"{PARTNER}_transactions_{day:%Y%m%d}.csv"
    return stream


def st_file(rows: list[str], day=DAY) -> io.BytesIO:
    """A settlement file; rows are "ptid,amount,fee,settlement,currency,type"."""
    lines = [
        f"{ptid},T{n},{amount},{fee},{settled},{currency},{kind}"
        for n, (ptid, amount, fee, settled, currency, kind) in enumerate(r.split(",") for r in rows)
    ]
    stream = io.BytesIO(("\n".join([ST_COLUMNS, *lines]) + "\n").encode())
    stream.name = f"{PARTNER}_settlement_{day:%Y%m%d}.csv"
    return stream


def reconcile(clock, *files, at=NEXT_MORNING):
    clock.freeze(at)
    report = run(uploaded(files), trigger="test")
    assert report.refused == []
    return report


def found() -> set[tuple[str, str]]:
    return set(
        Difference.objects.filter(is_open=True).values_list("kind", "partner_transaction_id")
    )


def test_a_fee_rounded_half_up_is_plain_and_one_rounded_down_is_a_fee_mismatch(clock):
    # 12.50 at 1.8% is 0.225: 0.23 half up (0.22 is what a float rounding gives); 1250 JPY is
    # 22.5 yen: 23.
    for ptid, amount, currency in [
        ("UP", "12.50", "USD"),
        ("DOWN", "12.50", "USD"),
        ("YEN", "1250", "JPY"),
        ("YEN_DOWN", "1250", "JPY"),
    ]:
        paid(ptid, amount, currency)
    rows = ["UP,12.50,0.23,USD", "DOWN,12.50,0.22,USD", "YEN,1250,23,JPY", "YEN_DOWN,1250,22,JPY"]
    [day] = reconcile(
        clock,
        tx_file([f"{r},PAYMENT" for r in rows]),
        st_file([f"{p},{a},{f},{Decimal(a) - Decimal(f)},{c},P" for p, a, f, c in (
            r.split(",") for r in rows
        )]),
    ).days  # fmt: skip
    assert found() == {(Kind.FEE_MISMATCH, "DOWN"), (Kind.FEE_MISMATCH, "YEN_DOWN")}
    down = Difference.objects.get(partner_transaction_id="DOWN")
    assert (down.amount_here, down.amount_alipay) == (Decimal("0.23"), Decimal("0.22"))
    assert (day.lines, day.matched) == (4, 2)


def test_a_settlement_line_with_another_fee_or_a_short_settled_amount_is_a_fee_mismatch(clock):
    for ptid in ("FEE", "SHORT", "TWICE", "GOOD"):
        paid(ptid, "100.00")
    [day] = reconcile(
        clock,
        tx_file([f"{p},100.00,1.80,USD,PAYMENT" for p in ("FEE", "SHORT", "TWICE", "GOOD")]),
        st_file(
            [
                "FEE,100.00,1.90,98.10,USD,P",  # settles, but not at the contract fee
                "SHORT,100.00,1.80,98.00,USD,P",  # contract fee, but 0.20 short
                "TWICE,100.00,1.80,98.20,USD,P",
                "TWICE,100.00,1.80,98.20,USD,P",  # the same settlement twice: still right
                "GOOD,100.00,1.80,98.20,USD,P",
            ]
        ),
    ).days
    assert found() == {(Kind.FEE_MISMATCH, "FEE"), (Kind.FEE_MISMATCH, "SHORT")}
    short = Difference.objects.get(partner_transaction_id="SHORT")
    assert short.detail == "settled 98.00 is not 100.00 less fee 1.80"
    assert (day.lines, day.matched) == (4, 2)


def test_a_line_without_settlement_is_unsettled_only_once_settlement_is_due(clock, settings):
    settings.RECONCILIATION_SETTLE_DAYS = 2
    paid("SETTLED", "10.00")
    paid("WAITING", "10.00")
    files = [
        tx_file(["SETTLED,10.00,0.18,USD,PAYMENT", "WAITING,10.00,0.18,USD,PAYMENT"]),
        st_file(["SETTLED,10.00,0.18,9.82,USD,P"]),
    ]
    reconcile(clock, *files)
    assert found() == set()
    clock.freeze(NEXT_MORNING + timedelta(days=2))
    run([], trigger="test", days=[DAY])
    assert found() == {(Kind.UNSETTLED, "WAITING")}


def test_a_repeated_line_is_a_duplicate_and_its_money_counts_once(clock):
    paid("TWICE", "10.00")
    paid("ONCE", "20.00")
    rows = ["TWICE,10.00,0.18,USD,PAYMENT"] * 2 + ["ONCE,20.00,0.36,USD,PAYMENT"]
    [day] = reconcile(clock, tx_file(rows)).days
    assert found() == {(Kind.DUPLICATE_LINE, "TWICE")}
    summary = DaySummary.objects.get(day=DAY, currency="USD")
    assert (summary.lines, summary.matched_lines, summary.payments_count) == (3, 2, 2)
    assert (summary.payments_gross, summary.fees) == (Decimal("30.00"), Decimal("0.54"))
    assert (day.lines, day.matched) == (3, 2)


def test_a_cancel_in_the_next_days_file_makes_a_paid_payment_a_state_mismatch(clock):
    paid("KEPT", "10.00")
    paid("CANCELLED", "10.00")
    rows = ["KEPT,10.00,0.18,USD,PAYMENT", "CANCELLED,10.00,0.18,USD,PAYMENT"]
    next_day = DAY + timedelta(days=1)
    reconcile(
        clock,
        tx_file(rows),
        tx_file(["CANCELLED,10.00,0.18,USD,CANCEL"], day=next_day),
        at=NEXT_MORNING + timedelta(days=1),
    )
    assert (Kind.STATE_MISMATCH, "CANCELLED") in found()
    assert not Difference.objects.filter(partner_transaction_id="KEPT").exists()


def test_the_day_report_sums_plain_lines_to_the_cent_per_currency(clock):
    # Ten payments of 0.10 sum to 0.999...9 in floating point; the report says 1.00.
    for n in range(10):
        paid(f"C{n}", "0.10")
    payment = paid("HK", "1000.00", "HKD")
    Refund.objects.create(
        payment=payment,
        partner_refund_id="HKR1",
        amount=Decimal("250.00"),
        state=Refund.State.SUCCEEDED,
        succeeded_at=NOON,
    )
    rows = [f"C{n},0.10,0.00,USD,PAYMENT" for n in range(10)]
    rows += ["HK,1000.00,18.00,HKD,PAYMENT", "HKR1,250.00,4.50,HKD,REFUND"]
    reconcile(clock, tx_file(rows))
    assert found() == set()
    usd = DaySummary.objects.get(day=DAY, currency="USD")
    hkd = DaySummary.objects.get(day=DAY, currency="HKD")
    assert (usd.payments_count, usd.payments_gross, usd.net) == (
        10,
        Decimal("1.00"),
        Decimal("1.00"),
    )
    assert (hkd.payments_gross, hkd.refunds_count, hkd.refunds_gross) == (
        Decimal("1000.00"),
        1,
        Decimal("250.00"),
    )
    assert (hkd.fees, hkd.net) == (Decimal("13.50"), Decimal("736.50"))
    assert (usd.matched_lines, hkd.matched_lines) == (10, 2)


def test_an_amount_beyond_sqlites_exact_range_is_matched_like_any_other(clock):
    paid("LARGE", "999999999999.99")
    paid("WRONG", "999999999999.99")
    reconcile(
        clock,
        tx_file(
            [
                "LARGE,999999999999.99,18000000000.00,USD,PAYMENT",
                "WRONG,999999999999.98,18000000000.00,USD,PAYMENT",
            ]
        ),
    )
    assert found() == {(Kind.AMOUNT_MISMATCH, "WRONG")}


def test_a_payment_whose_line_is_only_in_a_file_two_days_away_is_missing_at_alipay(clock):
    paid("AWAY", "10.00")
    paid("HERE", "10.00")
    later = DAY + timedelta(days=2)
    reconcile(
        clock,
        tx_file(["HERE,10.00,0.18,USD,PAYMENT"]),
        tx_file(["AWAY,10.00,0.18,USD,PAYMENT"], day=later),
        at=NEXT_MORNING + timedelta(days=2),
    )
    assert Difference.objects.get(kind=Kind.MISSING_AT_ALIPAY).partner_transaction_id == "AWAY"
    assert Difference.objects.get(kind=Kind.MISSING_AT_ALIPAY).day == DAY
