"""What a gateway service answers, and the business-answer fields shared by several services."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .beijing import pay_time
from .buyers import buyer_login_id, buyer_user_id
from .models import SandboxTrade
from .params import ZERO_DECIMAL


@dataclass
class Answer:
    """The signed <response><alipay> fields, plus how the sandbox misbehaves on the wire."""

    fields: dict[str, str]
    # Hold the reply this long (settings.SANDBOX_SLOW_REPLY_SECONDS): a client timeout.
    hold: bool = False
    # Sign something else: the reply's signature does not verify.
    break_signature: bool = False
    # notify_verify answers plain text, not XML.
    plain_text: str | None = None


def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    quantum = Decimal(1) if currency in ZERO_DECIMAL else Decimal("0.01")
    return f"{amount.quantize(quantum):f}"


def rate(value: Decimal | None) -> str:
    """An exchange rate without the column's trailing zeros (0.92, not 0.92000000)."""
    return "" if value is None else f"{value.normalize():f}"


def failure(error: str, result_code: str = "FAIL", **fields: str) -> Answer:
    return Answer({"result_code": result_code, "error": error, **fields})


def system_error(result_code: str = "FAIL", **fields: str) -> Answer:
    return failure("SYSTEM_ERROR", result_code, **fields)


def trade_fields(trade: SandboxTrade) -> dict[str, str]:
    """What pay and query say about a trade."""
    fields = {
        "partner_trans_id": trade.partner_trans_id,
        "alipay_trans_id": trade.alipay_trans_id,
        "currency": trade.currency,
        "trans_amount": money(trade.amount, trade.currency),
    }
    if trade.paid_at:
        fields.update(
            alipay_buyer_login_id=buyer_login_id(trade),
            alipay_buyer_user_id=buyer_user_id(trade),
            alipay_pay_time=pay_time(trade.paid_at),
            exchange_rate=rate(trade.exchange_rate),
            trans_amount_cny=money(trade.amount_cny, "CNY"),
        )
    return fields
