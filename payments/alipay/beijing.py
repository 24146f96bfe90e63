"""Alipay's clock rules, which all run on Beijing time (GMT+8) whatever the merchant's timezone.

- A trade can be cancelled (reversed) only on its Beijing calendar day.
- Synchronous refunds are not executed 00:00-01:30 Beijing time (docs/alipay.md, refund).

Both sides of the wire use these: Entrada to decide when to call, the sandbox to behave like
Alipay. Pure functions of the instant they are given; no clock is read here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "GMT+8")
REFUND_BLACKOUT_END = time(1, 30)


def beijing(when: datetime) -> datetime:
    return when.astimezone(BEIJING)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Beijing calendar day, as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=BEIJING)
    return start, start + timedelta(days=1)


def same_beijing_day(first: datetime, second: datetime) -> bool:
    return beijing(first).date() == beijing(second).date()


def refund_blackout_end(when: datetime) -> datetime | None:
    """When synchronous refunds resume, if `when` falls in the 00:00-01:30 blackout; else None."""
    local = beijing(when)
    if local.time() >= REFUND_BLACKOUT_END:
        return None
    return datetime.combine(local.date(), REFUND_BLACKOUT_END, tzinfo=BEIJING)
