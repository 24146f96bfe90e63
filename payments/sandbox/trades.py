"""Trade state at the sandbox: the one module that changes SandboxTrade.state.

Every transition is a compare-and-set (`UPDATE ... WHERE state = old`) so two requests (a query and
the wallet's Confirm, two gateway threads) can never both make it; the winner queues the async
notification in the same transaction. Time-dependent transitions (the 3-minute close, a scheduled
confirm or decline, a paid trade finishing when its refund period is over) are applied lazily by
`refresh`, with payments.clock, whenever a trade is read.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from payments import clock

from . import outbox
from .models import SandboxTrade

UNPAID_TIMEOUT = timedelta(minutes=3)
# Reference rates to CNY: the sandbox answers exchange_rate and trans_amount_cny with these.
CNY_RATES = {
    "AUD": "4.65", "CAD": "5.15", "CHF": "8.05", "CNY": "1", "DKK": "1.04", "EUR": "7.75",
    "GBP": "9.05", "HKD": "0.92", "IDR": "0.00044", "JPY": "0.048", "KRW": "0.0052",
    "MYR": "1.55", "NOK": "0.66", "NZD": "4.25", "PHP": "0.125", "SEK": "0.68", "SGD": "5.35",
    "THB": "0.20", "USD": "7.20",
}  # fmt: skip
State = SandboxTrade.State
Reason = SandboxTrade.CloseReason
# Paid at Alipay: refundable (TRADE_SUCCESS) or past its refund period (TRADE_FINISHED).
PAID_STATES = frozenset({State.TRADE_SUCCESS, State.TRADE_FINISHED})


def new_alipay_id(now: datetime) -> str:
    """28 digits like Alipay's: the date, a channel marker, then randomness."""
    return f"{now:%Y%m%d}1100{secrets.randbelow(10**16):016d}"


def cny(amount: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    rate = Decimal(CNY_RATES[currency])
    return rate, (amount * rate).quantize(Decimal("0.01"))


def _apply(trade: SandboxTrade, old: str, action: str, **changes: object) -> bool:
    """The compare-and-set: True if this call made the transition."""
    with transaction.atomic():
        done = SandboxTrade.objects.filter(pk=trade.pk, state=old).update(**changes) == 1
        if done:
            trade.refresh_from_db()
            outbox.queue_trade_notification(trade, action)
    if not done:
        trade.refresh_from_db()
    return done


def mark_paid(trade: SandboxTrade, at: datetime | None = None, buyer_code: str = "") -> bool:
    changes: dict[str, object] = {"state": State.TRADE_SUCCESS, "paid_at": at or clock.now()}
    if buyer_code:
        changes["buyer_code"] = buyer_code
    return _apply(trade, State.WAIT_BUYER_PAY, outbox.PAID, **changes)


def buyer_confirms(trade: SandboxTrade, buyer_code: str = "") -> bool:
    """The buyer enters the PIN (or presses Pay on a QR) in the wallet, if still possible."""
    refresh(trade)
    return trade.state == State.WAIT_BUYER_PAY and mark_paid(trade, buyer_code=buyer_code)


def buyer_declines(trade: SandboxTrade) -> bool:
    refresh(trade)
    return trade.state == State.WAIT_BUYER_PAY and close_unpaid(trade, Reason.DECLINED)


def close_unpaid(trade: SandboxTrade, reason: str, at: datetime | None = None) -> bool:
    when = at or clock.now()
    changes: dict[str, object] = {"state": State.TRADE_CLOSED, "closed_at": when}
    changes["close_reason"] = reason
    if reason == Reason.CANCELLED:
        changes["cancelled_at"] = when
    return _apply(trade, State.WAIT_BUYER_PAY, outbox.CLOSED, **changes)


def reverse_paid(trade: SandboxTrade) -> bool:
    """cancel on a paid trade: the whole payment goes back to the buyer, the trade closes."""
    now = clock.now()
    return _apply(
        trade,
        State.TRADE_SUCCESS,
        outbox.REVERSED,
        state=State.TRADE_CLOSED,
        close_reason=Reason.REVERSED,
        closed_at=now,
        cancelled_at=now,
    )


def refund_period() -> timedelta:
    return timedelta(days=settings.SANDBOX_REFUND_PERIOD_DAYS)


def refund_period_over(trade: SandboxTrade, now: datetime | None = None) -> bool:
    """True once a paid trade can no longer be refunded (it is, or is due to be, TRADE_FINISHED)."""
    return trade.paid_at is not None and trade.paid_at + refund_period() <= (now or clock.now())


def _finish(trade: SandboxTrade, now: datetime) -> bool:
    """TRADE_SUCCESS -> TRADE_FINISHED, compare-and-set on the state and the period's end, so a
    refund executed meanwhile (or a cancel) wins or loses as a whole. No notification is queued:
    applied lazily, it would go out whenever the trade happens to be read next."""
    done = (
        SandboxTrade.objects.filter(
            pk=trade.pk,
            state=State.TRADE_SUCCESS,
            paid_at__lte=now - refund_period(),
            refunded_amount__lt=F("amount"),
        ).update(state=State.TRADE_FINISHED)
        == 1
    )
    trade.refresh_from_db()
    return done


def refresh(trade: SandboxTrade) -> SandboxTrade:
    """Apply whatever the clock says has happened: to a waiting trade confirm, decline or
    expiry; to a paid one the end of its refund period (paid_at + SANDBOX_REFUND_PERIOD_DAYS)."""
    if trade.state == State.TRADE_SUCCESS:
        now = clock.now()
        if refund_period_over(trade, now):
            _finish(trade, now)
        return trade
    if trade.state != State.WAIT_BUYER_PAY:
        return trade
    now = clock.now()
    due = [
        (at, kind)
        for at, kind in (
            (trade.confirm_at, "confirm"),
            (trade.decline_at, "decline"),
            (trade.expires_at, "expire"),
        )
        if at is not None and at <= now
    ]
    if not due:
        return trade
    at, kind = min(due, key=lambda item: item[0])
    if kind == "confirm":
        mark_paid(trade, at)
        return refresh(trade)  # a confirm long past may already be past the refund period too
    close_unpaid(trade, Reason.DECLINED if kind == "decline" else Reason.EXPIRED, at)
    return trade


def refresh_due_trades(limit: int = 200) -> int:
    """Apply due buyer actions and expiries without waiting for a query (the notify sweeper)."""
    now = clock.now()
    due = SandboxTrade.objects.filter(state=State.WAIT_BUYER_PAY).filter(
        Q(expires_at__lte=now) | Q(confirm_at__lte=now) | Q(decline_at__lte=now)
    )
    count = 0
    for trade in due.order_by("pk")[:limit]:
        refresh(trade)
        count += 1
    return count


def add_refund_amount(trade: SandboxTrade, amount: Decimal, now: datetime | None = None) -> bool:
    """Take `amount` off what is left to refund, or refuse: never past the paid amount, never
    once the refund period is over (even if the trade is not marked TRADE_FINISHED yet)."""
    remaining_ok = Q(refunded_amount__lte=trade.amount - amount)
    in_period = Q(paid_at__gt=(now or clock.now()) - refund_period())
    updated = SandboxTrade.objects.filter(
        Q(pk=trade.pk, state=State.TRADE_SUCCESS) & remaining_ok & in_period
    ).update(refunded_amount=F("refunded_amount") + amount)
    if updated:
        SandboxTrade.objects.filter(
            pk=trade.pk, state=State.TRADE_SUCCESS, refunded_amount__gte=trade.amount
        ).update(state=State.TRADE_CLOSED, close_reason=Reason.REFUNDED, closed_at=clock.now())
    trade.refresh_from_db()
    return bool(updated)
