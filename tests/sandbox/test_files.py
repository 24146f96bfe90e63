"""Reconciliation files for a Beijing day, downloaded with a signed request or by command."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import requests
from django.core.management import call_command

from payments.alipay.signing import Signer

INSTANT = "280000000000000001"


def download(alipay_gateway, kind: str, day: str, key: str | None = None):
    params = {"partner": alipay_gateway["PARTNER_ID"], "date": day}
    params["sign"] = Signer(sign_type="MD5", md5_key=key or alipay_gateway["MD5_KEY"]).sign(params)
    params["sign_type"] = "MD5"
    url = alipay_gateway["GATEWAY_URL"].replace("gateway.do", f"files/{kind}/")
    return requests.get(url, params=params, timeout=5)


def make_day(clock, pay, client):
    """27 Nov 2026 in Beijing: two payments, one refunded in part, one cancelled."""
    clock.freeze(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))  # 10:00 Beijing
    kept, _ = pay(INSTANT, "100.00")
    cancelled, _ = pay(INSTANT, "20.00")
    client.refund(
        partner_trans_id=kept,
        partner_refund_id="RF-1",
        refund_amount=Decimal("40.00"),
        currency="HKD",
        refund_reason="one ticket",
    )
    client.cancel(out_trade_no=cancelled, timestamp_ms=int(clock.now().timestamp() * 1000))
    clock.advance(20 * 3600)  # 06:00 next Beijing day: belongs to the 28th
    pay(INSTANT, "7.00")
    return kept, cancelled


def test_transaction_file_lists_the_days_movements_with_fees(clock, pay, client, alipay_gateway):
    kept, cancelled = make_day(clock, pay, client)
    response = download(alipay_gateway, "transactions", "20261127")
    assert response.status_code == 200
    assert (
        'filename="2088000000000001_transactions_20261127.csv"'
        in (response.headers["Content-Disposition"])
    )
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == ["Partner", "Payment_time", "Total_count"]
    assert lines[1] == [alipay_gateway["PARTNER_ID"], "20261127", "4"]
    rows = [dict(zip(lines[2], line, strict=True)) for line in lines[3:]]
    by_type = {(r["Transaction_type"], r["Partner_transaction_id"]): r for r in rows}
    payment = by_type[("PAYMENT", kept)]
    assert (payment["Transaction_amount"], payment["Charge_amount"]) == ("100.00", "1.80")
    assert payment["Payment_time"] == "2026-11-27 10:00:00"
    assert payment["Secondary_merchant_industry"] == "7991"
    assert by_type[("REFUND", "RF-1")]["Transaction_amount"] == "40.00"
    assert by_type[("REFUND", "RF-1")]["Charge_amount"] == "0.72"
    assert by_type[("CANCEL", cancelled)]["Transaction_amount"] == "20.00"
    assert ("PAYMENT", cancelled) in by_type
    next_day = list(
        csv.reader(io.StringIO(download(alipay_gateway, "transactions", "20261128").text))
    )
    assert next_day[1][2] == "1"


def test_settlement_file_nets_payments_and_refunds(clock, pay, client, alipay_gateway):
    kept, _ = make_day(clock, pay, client)
    response = download(alipay_gateway, "settlement", "20261127")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 4
    payment = next(r for r in rows if r["Partner_transaction_id"] == kept)
    assert (payment["Amount"], payment["Fee"], payment["Settlement"]) == ("100.00", "1.80", "98.20")
    assert (payment["Rate"], payment["Rmb_amount"], payment["Type"], payment["Status"]) == (
        "0.92",
        "92.00",
        "P",
        "L",
    )
    assert payment["Settlement_time"] == "2026-11-28 00:00:00"
    refund = next(r for r in rows if r["Partner_transaction_id"] == "RF-1")
    assert (refund["Amount"], refund["Settlement"], refund["Type"]) == ("-40.00", "-39.28", "R")
    total = sum(Decimal(r["Settlement"]) for r in rows)
    # The cancelled payment and its reversal cancel out; the partial refund does not.
    assert total == Decimal("98.20") - Decimal("39.28")


def test_files_need_a_valid_signature_and_date(alipay_gateway):
    assert download(alipay_gateway, "transactions", "20261127", key="wrong").status_code == 403
    assert download(alipay_gateway, "transactions", "2026-11-27").status_code == 400
    assert download(alipay_gateway, "ledger", "20261127").status_code == 404


def test_the_management_command_writes_both_files(clock, pay, client, alipay_gateway, tmp_path):
    make_day(clock, pay, client)
    out = io.StringIO()
    call_command("sandbox_files", date="20261127", out=str(tmp_path), stdout=out)
    names = sorted(p.name for p in tmp_path.iterdir())
    partner = alipay_gateway["PARTNER_ID"]
    assert names == [f"{partner}_settlement_20261127.csv", f"{partner}_transactions_20261127.csv"]
    text = (tmp_path / f"{partner}_transactions_20261127.csv").read_text()
    assert text.splitlines()[1] == f"{partner},20261127,4"
