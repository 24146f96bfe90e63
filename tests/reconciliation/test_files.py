"""Reading files: shapes accepted (BOM, GBK, unknown columns) and every bad file refused whole."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from payments.reconciliation.exceptions import FileRejected
from payments.reconciliation.importing import import_file
from payments.reconciliation.models import FileLine, ReconciliationFile
from payments.reconciliation.runs import run
from payments.reconciliation.sources import uploaded

from .helpers import COLUMNS, PARTNER, ROWS, transaction_file


def load(text: str | bytes, name: str = "upload.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return import_file(io.BytesIO(data), name=name, source="upload", actor="staff:auditor")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
        lambda t: t.encode("gbk"),
    ],
    ids=["utf-8", "utf-8 with BOM", "gbk"],
)
def test_utf8_with_or_without_bom_and_gbk_read_the_same(encode):
    result = load(encode(transaction_file()))
    assert result.created and result.file.line_count == 3
    first = FileLine.objects.get(partner_transaction_id="E1")
    assert first.remark == "门票" and first.amount == Decimal("100.00")
    assert (first.type, first.outgoing) == ("PAYMENT", False)
    refund = FileLine.objects.get(partner_transaction_id="E1R1")
    assert refund.outgoing and refund.fee == Decimal("0.72")
    assert result.file.day == date(2026, 11, 27) and result.file.kind == "transaction"


@pytest.mark.django_db
def test_columns_are_found_by_name_in_any_order_and_unknown_ones_ignored():
    columns = "Store_name,Transaction_type,Currency,Partner_transaction_id,Transaction_amount," + (
        "Charge_amount,Payment_time,Transaction_id,Extra"
    )
    rows = ["Main gate,PAYMENT,USD,E9,12.00,0.22,2026-11-27 11:00:00,2026112711009,x"]
    load(transaction_file(rows, columns=columns))
    line = FileLine.objects.get()
    assert (line.partner_transaction_id, line.amount, line.fee) == (
        "E9",
        Decimal("12.00"),
        Decimal("0.22"),
    )


@pytest.mark.django_db
def test_free_text_is_stored_exactly_as_written_whatever_it_holds():
    # Tabs, line breaks, backslashes and a lone \N are what PostgreSQL's COPY text would
    # misread if they were written raw; they go in (and come back) as the file has them.
    remarks = ["tab\there", "two\nlines", "back\\slash", "\\N", "cr\rhere", "门票"]
    rows = [
        f'E{n},2026112711{n:03d},10.00,0.18,USD,2026-11-27 10:00:00,PAYMENT,"{remark}",7991'
        for n, remark in enumerate(remarks)
    ]
    rows.append("E\\9,2026112711009,10.00,0.18,USD,2026-11-27 10:00:00,PAYMENT,plain,7991")
    load(transaction_file(rows))
    stored = dict(FileLine.objects.values_list("partner_transaction_id", "remark"))
    assert stored == {**{f"E{n}": remark for n, remark in enumerate(remarks)}, "E\\9": "plain"}


@pytest.mark.django_db
def test_empty_optional_values_are_stored_as_nothing():
    load(transaction_file([ROWS[0].replace("2026-11-27 10:00:00", "")]))
    assert FileLine.objects.get().paid_at is None
    settlement = (
        "Partner_transaction_id,Transaction_id,Amount,Rmb_amount,Fee,Settlement,Rmb_settlement,"
        "Currency,Rate,Settlement_time,Type\n"
        "E1,2026112711001,100.00,,1.80,98.20,,USD,,,P\n"
        "E2,2026112711002,30.00,216.00,0.54,29.46,212.11,USD,7.2,2026-11-28 00:00:00,P\n"
    )
    load(settlement, name=f"{PARTNER}_settlement_20261127.csv")
    lines = {
        line.partner_transaction_id: line
        for line in FileLine.objects.filter(file__kind="settlement")
    }
    empty, full = lines["E1"], lines["E2"]
    assert (empty.amount_cny, empty.settlement_cny, empty.rate, empty.settled_at) == (
        None,
        None,
        None,
        None,
    )
    assert (empty.settlement, empty.paid_at, empty.status) == (Decimal("98.20"), None, "")
    assert (full.amount_cny, full.settlement_cny, full.rate) == (
        Decimal("216.00"),
        Decimal("212.11"),
        Decimal("7.2"),
    )
    assert full.settled_at == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_the_same_file_twice_changes_nothing():
    first = load(transaction_file())
    again = load(transaction_file(), name="renamed.csv")
    assert not again.created and again.file == first.file
    assert ReconciliationFile.objects.count() == 1 and FileLine.objects.count() == 3


BAD = {
    "another partner": (
        transaction_file(partner="2088999999999999"),
        "partner 2088999999999999, not 2088000000000001",
        2,
    ),
    "a wrong count": (transaction_file(count=4), "Total_count says 4 lines but the file has 3", 2),
    "a truncated file": (transaction_file()[:-40], "Line 6 has 6 fields where the header has 9", 6),
    "a malformed amount": (
        transaction_file([ROWS[0], ROWS[1].replace("30.00", "30.0O")]),
        "Line 5: amount '30.0O' is not an amount",
        5,
    ),
    "an unknown type": (
        transaction_file([ROWS[0].replace("PAYMENT", "GIFT")]),
        "Line 4: unknown type 'GIFT'",
        4,
    ),
    "a bad time": (
        transaction_file([ROWS[0].replace("2026-11-27 10:00:00", "27/11/2026 10:00")]),
        "Line 4: Payment_time '27/11/2026 10:00' is not a time",
        4,
    ),
    "missing columns": (
        transaction_file(columns=COLUMNS.replace("Charge_amount", "Fee_amount")),
        "Line 3: missing columns: charge_amount",
        3,
    ),
    "no summary": (
        "\n".join([COLUMNS, *ROWS]),
        "must open with its Partner/Payment_time/Total_count summary",
        0,
    ),
    "an empty file": ("", "The file is empty", 0),
    "a NUL byte": (
        transaction_file([ROWS[0], ROWS[1].replace("Museum", "Mus\x00eum")]),
        "Line 5 holds a NUL byte: the file is not text",
        5,
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "message", "line"), BAD.values(), ids=BAD.keys())
def test_a_bad_file_is_refused_whole_naming_the_line(text, message, line):
    with pytest.raises(FileRejected) as refused:
        load(text)
    assert message in str(refused.value.message)
    assert refused.value.line == line
    assert ReconciliationFile.objects.count() == 0 and FileLine.objects.count() == 0


@pytest.mark.django_db
def test_an_upload_run_reports_a_refused_file_and_keeps_the_good_one(mailoutbox, settings):
    settings.ADMINS = [("ops", "ops@entrada.example")]
    good = io.BytesIO(transaction_file().encode())
    good.name = f"{PARTNER}_transactions_20261127.csv"
    bad = io.BytesIO(transaction_file(count=9).encode())
    bad.name = "bad.csv"
    report = run(uploaded([good, bad]), trigger="upload", actor="staff:auditor")
    assert [i.file.name for i in report.imported] == [good.name]
    assert report.refused == [("bad.csv", "Line 2: Total_count says 9 lines but the file has 3: "
                                          "the file is cut short or altered.")]  # fmt: skip
    assert "bad.csv" in report.run.errors
    assert "Refused file bad.csv" in mailoutbox[0].body


@pytest.mark.django_db
def test_a_settlement_file_without_summary_takes_its_day_from_its_name():
    text = (
        "Partner_transaction_id,Transaction_id,Amount,Rmb_amount,Fee,Settlement,Rmb_settlement,"
        "Currency,Rate,Payment_time,Settlement_time,Type,Status,Remarks\n"
        "E1R1,2026112711001,-40.00,-288.00,-0.72,-39.28,-282.82,USD,7.2,2026-11-27 10:02:00,"
        "2026-11-28 00:00:00,R,L,one ticket\n"
    )
    result = load(text, name=f"{PARTNER}_settlement_20261127.csv")
    assert (result.file.kind, result.file.day) == ("settlement", date(2026, 11, 27))
    line = FileLine.objects.get()
    assert line.outgoing and line.settlement == Decimal("39.28") and line.rate == Decimal("7.2")
    with pytest.raises(FileRejected, match="does not say its day"):
        load(text.replace("one ticket", "other"), name="settlement.csv")
