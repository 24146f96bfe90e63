"""Beijing time (GMT+8): Alipay's day for cancels, pay times and reconciliation files."""

from __future__ import annotations

from datetime import datetime, timedelta

from payments.alipay.beijing import BEIJING, beijing, day_bounds, refund_blackout_end

__all__ = ["BEIJING", "beijing", "cancel_deadline", "day_bounds", "pay_time", "refund_blackout_end"]

# cancel is allowed on the trade's Beijing day and this long after the following midnight.
CANCEL_BUFFER = timedelta(minutes=15)


def cancel_deadline(created_at: datetime) -> datetime:
    """The last instant a cancel is accepted for a trade created at `created_at`."""
    _start, end = day_bounds(beijing(created_at).date())
    return end + CANCEL_BUFFER


def pay_time(when: datetime | None) -> str:
    """alipay_pay_time: yyyyMMddHHmmss in GMT+8."""
    return beijing(when).strftime("%Y%m%d%H%M%S") if when else ""


def stamp(when: datetime | None) -> str:
    """yyyy-MM-dd HH:mm:ss in GMT+8 (notifications, files)."""
    return beijing(when).strftime("%Y-%m-%d %H:%M:%S") if when else ""
