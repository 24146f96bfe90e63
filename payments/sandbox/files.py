"""Daily reconciliation files as Alipay drops them (docs/alipay.md "Reconciliation files"), as CSV.

Transaction file for a Beijing day: a two-line summary (`Partner,Payment_time,Total_count` and its
values), then the column header and one row per money movement that day: PAYMENT (a trade paid),
REFUND (Partner_transaction_id is then the partner_refund_id) and CANCEL (a paid trade cancelled,
money returned). Amounts are positive; the type says the direction. Charge_amount is the fee,
1.8% rounded half-up to the currency's minor unit; a refund or cancel returns its share of it.

Settlement file for the same day: the same movements settled at the next Beijing midnight, with
signed amounts (R rows negative), CNY equivalents at the trade's rate, and Status L (liquidated).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from .beijing import day_bounds, stamp
from .models import SandboxMerchant, SandboxRefund, SandboxTrade
from .params import ZERO_DECIMAL
from .trades import refresh_due_trades

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


def _trade_movement(trade: SandboxTrade, at: datetime, kind: str) -> Movement:
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


def transaction_file(merchant: SandboxMerchant, day: date) -> str:
    rows = movements(merchant, day)
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


def settlement_file(merchant: SandboxMerchant, day: date) -> str:
    rows = movements(merchant, day)
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
