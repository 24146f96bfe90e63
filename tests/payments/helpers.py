"""Buyer codes the sandbox answers in known ways, and short ways to pay and read back a payment.

The codes are the sandbox's scenario codes (payments/sandbox/scenarios.py): SUCCESS pays at once,
pin_confirm(n) waits n seconds for the buyer's PIN then pays, and so on.
"""

from __future__ import annotations

import time
from decimal import Decimal

from payments import lifecycle
from payments.models import GatewayExchange, Payment

SUCCESS = "280000000000000001"
INSUFFICIENT = "280000000000000002"
PIN_NEVER = "280000000000000004"
SLOW_PAY = "280000000000000007"
BAD_SIGNATURE = "280000000000000008"
SLOW_REFUND = "280000000000000011"
REFUND_SYSTEM_ERROR = "280000000000000012"
TWENTY_FOUR = "280000000000000000000001"


def pin_confirm(seconds: int) -> str:
    return f"2800000000000003{seconds:02d}"


def pin_decline(seconds: int) -> str:
    return f"2800000000000005{seconds:02d}"


def system_error_calls(n: int) -> str:
    return f"2800000000000006{n:02d}"


def cancel_system_error(n: int) -> str:
    return f"2800000000000009{n:02d}"


def query_system_error(n: int) -> str:
    return f"2800000000000010{n:02d}"


def pay(buyer_code: str, amount: str = "25.00", currency: str = "USD", **kwargs) -> Payment:
    return lifecycle.create_barcode_payment(
        amount=Decimal(amount),
        currency=currency,
        description="Museum entry x2",
        buyer_code=buyer_code,
        reference=kwargs.pop("reference", "ORDER-1"),
        store_id=kwargs.pop("store_id", "STORE-1"),
        terminal_id=kwargs.pop("terminal_id", "POS-1"),
        **kwargs,
    )


def exchanges(payment: Payment, service: str | None = None) -> list[GatewayExchange]:
    rows = GatewayExchange.objects.filter(payment=payment).order_by("created_at", "id")
    if service:
        rows = rows.filter(service=service)
    return list(rows)


def sandbox_trade(payment: Payment):
    from payments.sandbox.models import SandboxTrade

    return SandboxTrade.objects.get(partner_trans_id=payment.partner_trans_id)


def wait_for(predicate, timeout: float, what: str):
    """Poll `predicate` until it holds, for work a real process does (a qcluster subprocess), which
    the movable clock cannot hurry; fail with `what` after `timeout` real seconds."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout} s: {what}")
