"""Daily reconciliation files as Alipay drops them (docs/alipay.md "Reconciliation files"), as CSV.

Transaction file for a Beijing day: a two-line summary (`Partner,Payment_time,Total_count` and its
values), then the column header and one row per money movement that day: PAYMENT (a trade paid),
REFUND (Partner_transaction_id is then the partner_refund_id) and CANCEL (a paid trade cancelled,
money returned). Amounts are positive; the type says the direction. Charge_amount is the fee,
1.8% rounded half-up to the currency's minor unit; a refund or cancel returns its share of it.

Settlement file for the same day: the same movements settled at the next Beijing midnight, with
signed amounts (R rows negative), CNY equivalents at the trade's rate, and Status L (liquidated).

Knobs (FileKnobs, from settings.SANDBOX_FILE_KNOBS or the sandbox_files command) make a day's
files differ from the truth on purpose, each in exactly one way reconciliation must notice: drop
a movement, change its amount, add a stranger's trade (a real paid sandbox trade Entrada never
sent), settle a movement late (left out of the settlement file) or duplicate a transaction row.
Movements are counted in file order from 0.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from .beijing import BEIJING, day_bounds, stamp
from .models import SandboxMerchant, SandboxRefund, SandboxTrade
from .params import ZERO_DECIMAL
from .trades import cny, new_alipay_id, refresh_due_trades

FEE_RATE = Decimal("0.018")
TRANSACTION_COLUMNS = [
    "Partner_transaction_id", "Transaction_id", "Transaction_amount", "Charge_amount", "Currency",
    "Payment_time", "Transaction_type", "Remark", "Secondary_merchant_industry",
]  # fmt: skip
SETTLEMENT_COLUMNS = [
    "Partner_transaction_id", "Transaction_id", "Amount", "Rmb_amount", "Fee", "Settlement",
    "Rmb_settlement", "Currency", "Rate", "Payment_time", "Settlement_time", "Type", "Status",
    "Remarks",
]  # fmt: skip


@dataclass(frozen=True)
class Movement:
    """One money movement of the day, whatever produced it."""

    partner_id: str
    transaction_id: str
    amount: Decimal
    currency: str
    rate: Decimal
    at: datetime
    kind: str  # PAYMENT, REFUND, CANCEL
    remark: str
    industry: str

    @property
    def fee(self) -> Decimal:
        quantum = Decimal(1) if self.currency in ZERO_DECIMAL else Decimal("0.01")
        return (self.amount * FEE_RATE).quantize(quantum, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class FileKnobs:
    """Deliberate differences in a day's files; None / False leaves the files true."""

    drop: int | None = None
    change_amount: int | None = None
    stranger: bool = False
    settle_late: int | None = None
    duplicate: int | None = None

    @classmethod
    def parse(cls, text: str) -> FileKnobs:
        """`drop=0,change_amount=1,stranger=1,settle_late=2,duplicate=3` (any subset)."""
        values: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in (text or "").split(","))):
            name, _, value = item.partition("=")
            name = name.strip()
            if name not in cls.__dataclass_fields__:
                raise ValueError(f"unknown sandbox file knob {name!r}")
            try:
                number = int(value or "1")
            except ValueError:
                raise ValueError(f"sandbox file knob {name} needs a number") from None
            values[name] = bool(number) if name == "stranger" else number
        return cls(**values)

    @classmethod
    def from_settings(cls) -> FileKnobs:
        return cls.parse(getattr(settings, "SANDBOX_FILE_KNOBS", ""))


STRANGER_PREFIX = "STRANGER-"


def stranger_trade(merchant: SandboxMerchant, day: date) -> SandboxTrade:
    """A trade paid at noon of `day` through this partner but not sent by Entrada (another
    terminal, a misconfigured till): real in the sandbox, so a query or a refund finds it."""
    paid_at = datetime.combine(day, time(12), tzinfo=BEIJING)
    amount, currency = Decimal("88.00"), "HKD"
    rate, amount_cny = cny(amount, currency)
    trade, _created = SandboxTrade.objects.get_or_create(
        merchant=merchant,
        partner_trans_id=f"{STRANGER_PREFIX}{day:%Y%m%d}",
        defaults={
            "alipay_trans_id": new_alipay_id(paid_at),
            "channel": SandboxTrade.Channel.BARCODE,
            "subject": "Stranger's purchase",
            "amount": amount,
            "currency": currency,
            "exchange_rate": rate,
            "amount_cny": amount_cny,
            "secondary_merchant_industry": "7991",
            "state": SandboxTrade.State.TRADE_SUCCESS,
            "created_at": paid_at,
            "paid_at": paid_at,
        },
    )
    return trade


def _minor_unit(currency: str) -> Decimal:
    return Decimal(1) if currency in ZERO_DECIMAL else Decimal("0.01")


def knobbed(rows: list[Movement], knobs: FileKnobs, merchant, day) -> list[Movement]:
    """The movements as the knobs have the files tell them (settle_late and duplicate act on
    one file only and are applied where that file is written)."""
    rows = list(rows)
    if knobs.change_amount is not None and knobs.change_amount < len(rows):
        m = rows[knobs.change_amount]
        rows[knobs.change_amount] = replace(m, amount=m.amount + _minor_unit(m.currency) * 100)
    if knobs.drop is not None and knobs.drop < len(rows):
        del rows[knobs.drop]
    if knobs.stranger:
        trade = stranger_trade(merchant, day)
        # Once made, the trade is real: the day's movements already list it.
        if not any(m.partner_id == trade.partner_trans_id for m in rows):
            rows.append(_trade_movement(trade, None, "PAYMENT"))
            rows.sort(key=lambda m: (m.at, m.transaction_id, m.kind))
    return rows


def movements(merchant: SandboxMerchant, day: date) -> list[Movement]:
    refresh_due_trades()  # a buyer action the clock made due belongs in today's file
    start, end = day_bounds(day)
    trades = SandboxTrade.objects.filter(merchant=merchant)
    rows = [
        _trade_movement(t, t.paid_at, "PAYMENT")
        for t in trades.filter(paid_at__gte=start, paid_at__lt=end)
    ]
    rows += [
        _trade_movement(t, t.cancelled_at, "CANCEL")
        for t in trades.filter(
            cancelled_at__gte=start,
            cancelled_at__lt=end,
            close_reason=SandboxTrade.CloseReason.REVERSED,
        )
    ]
    refunds = SandboxRefund.objects.filter(
        merchant=merchant, created_at__gte=start, created_at__lt=end
    ).select_related("trade")
    rows += [
        Movement(
            partner_id=r.partner_refund_id,
            transaction_id=r.trade.alipay_trans_id,
            amount=r.amount,
            currency=r.currency,
            rate=r.trade.exchange_rate or Decimal(1),
            at=r.created_at,
            kind="REFUND",
            remark=r.reason,
            industry=r.trade.secondary_merchant_industry,
        )
        for r in refunds
    ]
    return sorted(rows, key=lambda m: (m.at, m.transaction_id, m.kind))


def _trade_movement(trade: SandboxTrade, at: datetime | None, kind: str) -> Movement:
    at = at or trade.paid_at
    return Movement(
        partner_id=trade.partner_trans_id,
        transaction_id=trade.alipay_trans_id,
        amount=trade.amount,
        currency=trade.currency,
        rate=trade.exchange_rate or Decimal(1),
        at=at,
        kind=kind,
        remark=trade.subject,
        industry=trade.secondary_merchant_industry,
    )


def _text(value: Decimal) -> str:
    return f"{value:f}"


def transaction_file(merchant: SandboxMerchant, day: date, knobs: FileKnobs | None = None) -> str:
    knobs = knobs or FileKnobs.from_settings()
    rows = knobbed(movements(merchant, day), knobs, merchant, day)
    if knobs.duplicate is not None and knobs.duplicate < len(rows):
        rows.insert(knobs.duplicate + 1, rows[knobs.duplicate])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Partner", "Payment_time", "Total_count"])
    writer.writerow([merchant.partner_id, day.strftime("%Y%m%d"), len(rows)])
    writer.writerow(TRANSACTION_COLUMNS)
    for m in rows:
        writer.writerow(
            [m.partner_id, m.transaction_id, _text(m.amount), _text(m.fee), m.currency,
             stamp(m.at), m.kind, m.remark, m.industry]
        )  # fmt: skip
    return out.getvalue()


def settlement_file(merchant: SandboxMerchant, day: date, knobs: FileKnobs | None = None) -> str:
    knobs = knobs or FileKnobs.from_settings()
    rows = knobbed(movements(merchant, day), knobs, merchant, day)
    if knobs.settle_late is not None and knobs.settle_late < len(rows):
        del rows[knobs.settle_late]
    settled_at = stamp(day_bounds(day)[1])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SETTLEMENT_COLUMNS)
    cent = Decimal("0.01")
    for m in rows:
        sign = 1 if m.kind == "PAYMENT" else -1
        amount, fee = sign * m.amount, sign * m.fee
        settlement = amount - fee
        writer.writerow(
            [m.partner_id, m.transaction_id, _text(amount), _text((amount * m.rate).quantize(cent)),
             _text(fee), _text(settlement), _text((settlement * m.rate).quantize(cent)),
             m.currency, _text(m.rate.normalize()), stamp(m.at), settled_at,
             "P" if sign == 1 else "R", "L", m.remark]
        )  # fmt: skip
    return out.getvalue()


FILES = {"transactions": transaction_file, "settlement": settlement_file}


def file_name(kind: str, partner_id: str, day: date) -> str:
    return f"{partner_id}_{kind}_{day:%Y%m%d}.csv"
