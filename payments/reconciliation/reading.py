"""Reading Alipay's daily files, streamed: one pass to hash and sniff, one pass to parse.

The shapes are those the sandbox writes (payments/sandbox/files.py): a transaction file opens
with a summary (`Partner,Payment_time,Total_count` and its values) before the column header; a
settlement file may have the same summary or none. Columns are found by header name (case and
surrounding spaces ignored) and unknown columns are skipped, because real files carry more than
we read. Bytes may be UTF-8, UTF-8 with a BOM, or GBK (files saved by Excel on a Chinese
Windows). Any problem raises FileRejected naming the physical line, before anything is kept.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from django.utils.translation import gettext as _

from payments.alipay.beijing import BEIJING

from .exceptions import FileRejected

CHUNK = 1 << 20
SUMMARY = ("partner", "payment_time", "total_count")
TRANSACTION_TYPES = {"PAYMENT": False, "REFUND": True, "CANCEL": True, "REVERSAL": True}
SETTLEMENT_TYPES = {"P": False, "R": True}
# column -> attribute, per kind; the first block is required.
TRANSACTION_REQUIRED = {
    "partner_transaction_id": "partner_transaction_id",
    "transaction_id": "transaction_id",
    "transaction_amount": "amount",
    "charge_amount": "fee",
    "currency": "currency",
    "payment_time": "paid_at",
    "transaction_type": "type",
}
SETTLEMENT_REQUIRED = {
    "partner_transaction_id": "partner_transaction_id",
    "transaction_id": "transaction_id",
    "amount": "amount",
    "fee": "fee",
    "settlement": "settlement",
    "currency": "currency",
    "type": "type",
}
OPTIONAL = {
    "remark": "remark",
    "remarks": "remark",
    "rmb_amount": "amount_cny",
    "rmb_settlement": "settlement_cny",
    "rate": "rate",
    "settlement_time": "settled_at",
    "status": "status",
}
# The fields of a parsed row, per kind of file, in the order records() yields them: a
# transaction file carries no settlement amounts and a settlement file no payment time, so
# neither row carries the other's always-empty fields.
TRANSACTION_FIELDS = (
    "line_no", "partner_transaction_id", "transaction_id", "type", "outgoing", "amount", "fee",
    "currency", "paid_at", "status", "remark",
)  # fmt: skip
SETTLEMENT_FIELDS = (
    "line_no", "partner_transaction_id", "transaction_id", "type", "outgoing", "amount", "fee",
    "currency", "amount_cny", "settlement", "settlement_cny", "rate", "settled_at", "status",
    "remark",
)  # fmt: skip
_AMOUNT = re.compile(r"-?\d{1,14}(?:\.\d{1,2})?")
_RATE = re.compile(r"\d{1,10}(?:\.\d{1,10})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_NAME_DAY = re.compile(r"(?:^|_)(\d{16})_(transactions?|settlement)_(\d{8})")


@dataclass(frozen=True)
class Sniffed:
    content_hash: str
    encoding: str
    size: int
    nul_line: int | None = None  # the first line holding a NUL byte: not a text file


@dataclass(frozen=True)
class Header:
    kind: str  # "transaction" or "settlement"
    partner: str
    day: date
    total_count: int | None


def sniff(stream: BinaryIO) -> Sniffed:
    """sha256 and encoding in one streamed pass; leaves the stream at its start."""
    stream.seek(0)
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, size, first, lines, nul_line = True, 0, b"", 0, None
    while chunk := stream.read(CHUNK):
        if not first:
            first = chunk[:3]
        digest.update(chunk)
        size += len(chunk)
        # No byte of a multibyte UTF-8 or GBK character is 0: a NUL is one, on this line.
        if nul_line is None and (at := chunk.find(b"\0")) >= 0:
            nul_line = lines + chunk.count(b"\n", 0, at) + 1
        lines += chunk.count(b"\n")
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    stream.seek(0)
    encoding = "utf-8-sig" if first == codecs.BOM_UTF8 else "utf-8" if utf8 else "gbk"
    return Sniffed(content_hash=digest.hexdigest(), encoding=encoding, size=size, nul_line=nul_line)


def _key(cell: str) -> str:
    return cell.strip().lstrip("\ufeff").strip().lower()


def _amount(text: str, line: int, column: str) -> Decimal:
    text = text.strip()
    if not _AMOUNT.fullmatch(text):
        raise FileRejected(
            _("Line %(line)d: %(column)s %(value)r is not an amount.")
            % {"line": line, "column": column, "value": text[:20]},
            line=line,
        )
    return Decimal(text)


def _time(text: str, line: int, column: str) -> datetime:
    text = text.strip()
    try:
        # yyyy-MM-dd HH:mm:ss, Beijing time; sliced by hand: strptime is the slowest step.
        if len(text) != 19 or text[4] != "-" or text[7] != "-" or text[13] != ":":
            raise ValueError
        return datetime(
            int(text[0:4]), int(text[5:7]), int(text[8:10]),
            int(text[11:13]), int(text[14:16]), int(text[17:19]), tzinfo=BEIJING,
        )  # fmt: skip
    except ValueError:
        raise FileRejected(
            _("Line %(line)d: %(column)s %(value)r is not a time (yyyy-MM-dd HH:mm:ss).")
            % {"line": line, "column": column, "value": text[:20]},
            line=line,
        ) from None


class FileReader:
    """One file, read row by row. `header` is known after `open()`; `rows()` streams the rest.

    Use: reader = FileReader(stream, name=..., encoding=...); reader.open(partner, day);
    for row in reader.rows(): ...; reader.finish() checks the count against Total_count.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        name: str,
        encoding: str,
        money: Callable[[Decimal], Any] | None = None,
        time: Callable[[datetime], Any] | None = None,
        null: Any = None,
    ):
        """`money` (amounts and rates) and `time` convert each distinct parsed value once, and
        `null` stands for an empty optional value: the importer passes its database's forms.
        By default rows carry Decimals, datetimes and None."""
        self.name = name
        self._to_money = money or (lambda value: value)
        self._to_time = time or (lambda value: value)
        self._null = null
        self._money: dict[str, Any] = {}
        self._rates: dict[str, Any] = {}
        self.text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        self._csv = csv.reader(self.text)
        self.line = 0
        self.count = 0
        self.header: Header | None = None
        self._columns: list[tuple[int, str]] = []
        self._width = 0
        self._times: dict[str, Any] = {}

    def _next(self) -> list[str] | None:
        while True:
            try:
                row = next(self._csv)
            except StopIteration:
                return None
            except UnicodeDecodeError:
                raise FileRejected(
                    _("Line %(line)d: the file is neither UTF-8 nor GBK text.")
                    % {"line": self.line + 1},
                    line=self.line + 1,
                ) from None
            except csv.Error as exc:
                raise FileRejected(
                    _("Line %(line)d: %(error)s") % {"line": self.line + 1, "error": exc},
                    line=self.line + 1,
                ) from None
            self.line = self._csv.line_num
            if row and (len(row) > 1 or row[0].strip()):
                return row

    def open(self, *, partner: str, day: date | None = None) -> Header:
        first = self._next()
        if first is None:
            raise FileRejected(_("The file is empty."))
        summary: dict[str, str] = {}
        if tuple(_key(c) for c in first[:3]) == SUMMARY:
            values = self._next()
            if values is None:
                raise FileRejected(
                    _("Line %(line)d: the summary has no values.") % {"line": self.line},
                    line=self.line,
                )
            summary = {_key(k): v.strip() for k, v in zip(first, values, strict=False)}
            first = self._next()
            if first is None:
                raise FileRejected(_("The file ends after its summary: no column header."))
        keys = [_key(c) for c in first]
        if "transaction_type" in keys:
            kind, required = "transaction", TRANSACTION_REQUIRED
        elif "settlement" in keys:
            kind, required = "settlement", SETTLEMENT_REQUIRED
        else:
            raise FileRejected(
                _("Line %(line)d: not a transaction or settlement file header.")
                % {"line": self.line},
                line=self.line,
            )
        if kind == "transaction" and "total_count" not in summary:
            raise FileRejected(
                _("A transaction file must open with its Partner/Payment_time/Total_count summary.")
            )
        missing = [name for name in required if name not in keys]
        if missing:
            raise FileRejected(
                _("Line %(line)d: missing columns: %(columns)s.")
                % {"line": self.line, "columns": ", ".join(missing)},
                line=self.line,
            )
        wanted = {**required, **OPTIONAL}
        seen: set[str] = set()
        for index, key in enumerate(keys):
            if key in wanted and wanted[key] not in seen:
                self._columns.append((index, wanted[key]))
                seen.add(wanted[key])
        self._width = len(keys)
        named = _NAME_DAY.search(self.name or "")
        file_partner = summary.get("partner") or (named.group(1) if named else "")
        if file_partner and file_partner != partner:
            raise FileRejected(
                _("This file is for partner %(theirs)s, not %(ours)s.")
                % {"theirs": file_partner, "ours": partner},
                line=2 if summary else 0,
            )
        day_text = summary.get("payment_time") or (named.group(3) if named else "")
        try:
            file_day = datetime.strptime(day_text, "%Y%m%d").date() if day_text else None
        except ValueError:
            raise FileRejected(
                _("Line 2: Payment_time %(value)r is not a day (yyyyMMdd).") % {"value": day_text},
                line=2,
            ) from None
        if day is not None and file_day is not None and day != file_day:
            raise FileRejected(
                _("This file is for %(theirs)s, not %(ours)s.") % {"theirs": file_day, "ours": day}
            )
        file_day = file_day or day
        if file_day is None:
            raise FileRejected(
                _("The file does not say its day: no summary and no day in its name.")
            )
        total = summary.get("total_count")
        if total is not None and not total.isdigit():
            raise FileRejected(
                _("Line 2: Total_count %(value)r is not a number.") % {"value": total}, line=2
            )
        self.header = Header(
            kind=kind,
            partner=partner,
            day=file_day,
            total_count=int(total) if total is not None else None,
        )
        return self.header

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the values in each row records() yields, for this kind of file."""
        assert self.header is not None, "open() first"
        return SETTLEMENT_FIELDS if self.header.kind == "settlement" else TRANSACTION_FIELDS

    def rows(self) -> Iterator[dict]:
        """The data rows as dicts (keys: fields), checked."""
        fields = self.fields
        for record in self.records():
            row = dict(zip(fields, record, strict=True))
            row["outgoing"] = bool(row["outgoing"])
            yield row

    def records(self) -> Iterator[tuple]:
        """The data rows as tuples in `fields` order, checked: what the importer stores,
        without a dict per line (`outgoing` is 1 or 0 here). Amounts, rates and times are
        parsed once per distinct text (a day's file repeats prices and seconds many times) and
        handed out through the reader's converters, so a caller that stores them pays per value
        once. The loop is written out flat because it runs once per line of a million-line
        file."""
        assert self.header is not None, "open() first"
        settlement = self.header.kind == "settlement"
        # outgoing as 1 or 0: sqlite3 binds an int as it is, a bool only after looking for an
        # adapter (about 0.5 µs a row); PostgreSQL's COPY reads 1 and 0 as booleans too.
        types = {
            kind: int(out)
            for kind, out in (SETTLEMENT_TYPES if settlement else TRANSACTION_TYPES).items()
        }
        width = self._width
        at = {attr: index for index, attr in self._columns}
        i_type, i_ptid, i_tid = at["type"], at["partner_transaction_id"], at["transaction_id"]
        i_currency, i_amount, i_fee = at["currency"], at["amount"], at["fee"]
        i_paid, i_remark, i_status = at.get("paid_at"), at.get("remark"), at.get("status")
        i_settlement, i_settled = at.get("settlement"), at.get("settled_at")
        i_amount_cny, i_settlement_cny = at.get("amount_cny"), at.get("settlement_cny")
        i_rate = at.get("rate")
        money, times, rates = self._money, self._times, self._rates
        amount_of, time_of = self._amount, self._time
        null = self._null
        kinds: dict[str, str] = {}
        currencies: dict[str, str] = {}
        rows = self._csv
        line = self.line
        try:
            for row in rows:
                line = rows.line_num
                if len(row) < width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue  # a blank line
                    raise FileRejected(
                        _(
                            "Line %(line)d has %(found)d fields where the header has %(width)d: "
                            "the file is cut short or malformed."
                        )
                        % {"line": line, "found": len(row), "width": width},
                        line=line,
                    )
                # Types and currencies: a file spells each a few ways at most; each spelling
                # is checked and normalised once.
                text = row[i_type]
                kind = kinds.get(text)
                if kind is None:
                    kind = text.strip().upper()
                    if kind not in types:
                        raise FileRejected(
                            _("Line %(line)d: unknown type %(value)r.")
                            % {"line": line, "value": kind[:12]},
                            line=line,
                        )
                    kinds[text] = kind
                ptid = row[i_ptid].strip()
                if not ptid or len(ptid) > 64:
                    raise FileRejected(
                        _("Line %(line)d: Partner_transaction_id is empty or too long.")
                        % {"line": line},
                        line=line,
                    )
                text = row[i_currency]
                currency = currencies.get(text)
                if currency is None:
                    currency = text.strip().upper()
                    if not _CURRENCY.fullmatch(currency):
                        raise FileRejected(
                            _("Line %(line)d: currency %(value)r is not a currency code.")
                            % {"line": line, "value": currency[:8]},
                            line=line,
                        )
                    if len(currencies) > 1000:
                        currencies.clear()
                    currencies[text] = currency
                text = row[i_amount]
                amount = money.get(text)
                if amount is None:
                    amount = amount_of(text, line, "amount")
                text = row[i_fee]
                fee = money.get(text)
                if fee is None:
                    fee = amount_of(text, line, "fee")
                status = row[i_status].strip()[:8] if i_status is not None else ""
                remark = row[i_remark].strip()[:256] if i_remark is not None else ""
                if not settlement:
                    text = row[i_paid]
                    paid_at = times.get(text)
                    if paid_at is None:
                        paid_at = time_of(text, line, "Payment_time")
                    self.count += 1
                    yield (
                        line, ptid, row[i_tid].strip()[:64], kind, types[kind], amount, fee,
                        currency, paid_at, status, remark,
                    )  # fmt: skip
                    continue
                text = row[i_settlement]
                settled = money.get(text)
                if settled is None:
                    settled = amount_of(text, line, "Settlement")
                amount_cny = settled_cny = rate = settled_at = null
                # Optional values: looked up first (a value seen before is not blank), then
                # parsed unless blank.
                if i_amount_cny is not None:
                    text = row[i_amount_cny]
                    amount_cny = money.get(text)
                    if amount_cny is None:
                        amount_cny = amount_of(text, line, "Rmb_amount") if text.strip() else null
                if i_settlement_cny is not None:
                    text = row[i_settlement_cny]
                    settled_cny = money.get(text)
                    if settled_cny is None:
                        settled_cny = (
                            amount_of(text, line, "Rmb_settlement") if text.strip() else null
                        )
                if i_rate is not None:
                    text = row[i_rate]
                    rate = rates.get(text)
                    if rate is None:
                        rate = self._rate(text, line) if text.strip() else null
                if i_settled is not None:
                    text = row[i_settled]
                    settled_at = times.get(text)
                    if settled_at is None:
                        settled_at = time_of(text, line, "Settlement_time")
                self.count += 1
                yield (
                    line, ptid, row[i_tid].strip()[:64], kind, types[kind], amount, fee,
                    currency, amount_cny, settled, settled_cny, rate, settled_at, status, remark,
                )  # fmt: skip
        except UnicodeDecodeError:
            raise FileRejected(
                _("Line %(line)d: the file is neither UTF-8 nor GBK text.") % {"line": line + 1},
                line=line + 1,
            ) from None
        except csv.Error as exc:
            raise FileRejected(
                _("Line %(line)d: %(error)s") % {"line": line + 1, "error": exc},
                line=line + 1,
            ) from None
        finally:
            self.line = line

    def _amount(self, text: str, line: int, column: str):
        """First sight of an amount's text: checked, made positive, converted, remembered."""
        value = self._to_money(abs(_amount(text, line, column)))
        if len(self._money) > 100_000:
            self._money.clear()
        self._money[text] = value
        return value

    def _rate(self, text: str, line: int):
        rate = text.strip()
        if not _RATE.fullmatch(rate):
            raise FileRejected(
                _("Line %(line)d: Rate %(value)r is not a rate.")
                % {"line": line, "value": rate[:20]},
                line=line,
            )
        if len(self._rates) > 10_000:
            self._rates.clear()
        value = self._rates[text] = self._to_money(Decimal(rate))
        return value

    def _time(self, text: str, line: int, column: str):
        """First sight of a time's text (`null` when blank): parsed, converted, remembered."""
        if not text.strip():
            return self._null
        if len(self._times) > 100_000:
            self._times.clear()
        value = self._times[text] = self._to_time(_time(text, line, column))
        return value

    def finish(self) -> None:
        """After the last row: the count must be the summary's Total_count."""
        assert self.header is not None
        expected = self.header.total_count
        if expected is not None and expected != self.count:
            raise FileRejected(
                _(
                    "Line 2: Total_count says %(expected)d lines but the file has %(found)d: "
                    "the file is cut short or altered."
                )
                % {"expected": expected, "found": self.count},
                line=2,
            )
