"""Beijing time (GMT+8): Alipay's day for cancels, pay times and reconciliation files."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
# cancel is allowed on the trade's Beijing day and this long after the following midnight.
CANCEL_BUFFER = timedelta(minutes=15)


def beijing(when: datetime) -> datetime:
    return when.astimezone(BEIJING)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Beijing calendar day, as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=BEIJING)
    return start, start + timedelta(days=1)


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
