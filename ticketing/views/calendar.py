"""The attraction page's date strip and slot list, worked out from the inventory's availability.

Presentation only: which days the strip shows, which day is open, and how each day and slot is
labelled. Places and bookability come from ticketing.inventory; nothing here decides capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ticketing.inventory import DayAvailability

# Days shown at once in the date strip, and how far ahead a buyer may look.
STRIP_DAYS = 14
HORIZON_DAYS = 366


def parse_day(value: str | None) -> date | None:
    """A YYYY-MM-DD query value, or None when absent; ValueError when present but not a date."""
    if value is None or value == "":
        return None
    if len(value) != 10:
        raise ValueError(value)
    return date.fromisoformat(value)


@dataclass(frozen=True)
class Window:
    """The days the strip shows (start..end), the chosen day if any, and the bookable range."""

    today: date
    last_day: date
    start: date
    end: date
    chosen: date | None
    out_of_range: bool  # the asked-for day was in the past or too far ahead

    @classmethod
    def around(cls, today: date, chosen: date | None, start: date | None) -> Window:
        last_day = today + timedelta(days=HORIZON_DAYS - 1)
        out_of_range = chosen is not None and not today <= chosen <= last_day
        if out_of_range:
            chosen = None
        if start is None or not today <= start <= last_day:
            start = today
        if chosen is not None and not start <= chosen < start + timedelta(days=STRIP_DAYS):
            start = chosen
        end = min(start + timedelta(days=STRIP_DAYS - 1), last_day)
        return cls(today, last_day, start, end, chosen, out_of_range)

    @property
    def earlier(self) -> date | None:
        if self.start <= self.today:
            return None
        return max(self.start - timedelta(days=STRIP_DAYS), self.today)

    @property
    def later(self) -> date | None:
        later = self.start + timedelta(days=STRIP_DAYS)
        return later if later <= self.last_day else None

    def every_day(self, found: dict[date, DayAvailability]) -> list[DayAvailability]:
        """Every day of the window: the inventory lists only days with slots."""
        days = (self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1))
        return [found.get(day) or DayAvailability(date=day) for day in days]


def first_day_with_places(days: list[DayAvailability], default: date) -> date:
    """Open on the first day that still has places, so the buyer sees times straight away."""
    return next((day.date for day in days if day.places_left > 0), default)


def day_state(day: DayAvailability, now: datetime, closed_dates: set[date]) -> str:
    """open | full | closed (a closed day, no slots at all, or every slot has started)."""
    if day.places_left:
        return "open"
    if day.date not in closed_dates and any(slot.starts_at > now for slot in day.slots):
        return "full"
    return "closed"


def slot_state(slot, now: datetime, day_closed: bool) -> str:
    """open | past | closed | full."""
    if slot.bookable:
        return "open"
    if slot.starts_at <= now:
        return "past"
    return "closed" if day_closed else "full"
