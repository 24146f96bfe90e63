"""Dates and times as buyers and staff read them: one localized format, in the attraction's zone.

The shop, the gate, the box office, the admin, the e-tickets and the e-mails all print through
these functions, so a slot reads the same everywhere: the active language's Django formats
(DATE_FORMAT, TIME_FORMAT) with the weekday, and the zone's abbreviation, or its UTC offset when
the zone has no letters for it. Call inside `translation.override(language)` for another language
than the request's.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils.formats import date_format, time_format
from django.utils.translation import pgettext


def _zone(tz: dt.tzinfo | str) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz


def in_zone(value: dt.datetime, tz: dt.tzinfo | str) -> dt.datetime:
    return value.astimezone(_zone(tz))


def zone_label(local: dt.datetime) -> str:
    """ "CST", "JST", "CET"; "UTC+05:30" where the zone database has only digits ("+0530")."""
    name = local.tzname() or ""
    if name.isalpha():
        return name
    offset = local.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_date(value: dt.datetime | dt.date, tz: dt.tzinfo | str | None = None) -> str:
    """ "Thursday, Dec. 24, 2026" / "2026年12月24日 星期四" (a datetime is first put in `tz`)."""
    if isinstance(value, dt.datetime) and tz is not None:
        value = in_zone(value, tz)
    return pgettext("local date", "%(weekday)s, %(date)s") % {
        "weekday": date_format(value, "l"),
        "date": date_format(value, "DATE_FORMAT"),
    }


def format_time(value: dt.datetime, tz: dt.tzinfo | str) -> str:
    """ "09:30": the clock time in the zone, without the zone (say it once per line)."""
    return time_format(in_zone(value, tz), "TIME_FORMAT")


def format_datetime(value: dt.datetime, tz: dt.tzinfo | str) -> str:
    """ "Thursday, Dec. 24, 2026, 09:30 CST" / "2026年12月24日 星期四 09:30 CST"."""
    local = in_zone(value, tz)
    return pgettext("local date and time", "%(date)s, %(time)s %(zone)s") % {
        "date": format_date(local),
        "time": time_format(local, "TIME_FORMAT"),
        "zone": zone_label(local),
    }


def format_slot(starts: dt.datetime, ends: dt.datetime, tz: dt.tzinfo | str) -> str:
    """ "Thursday, Dec. 24, 2026, 10:00–11:00 CST": a time slot's day, times and zone."""
    local = in_zone(starts, tz)
    return pgettext("local date and time", "%(date)s, %(time)s %(zone)s") % {
        "date": format_date(local),
        "time": format_time_range(starts, ends, tz),
        "zone": zone_label(local),
    }


def format_time_range(starts: dt.datetime, ends: dt.datetime, tz: dt.tzinfo | str) -> str:
    """ "10:00–11:00" in the zone, without the zone."""
    return f"{format_time(starts, tz)}–{format_time(ends, tz)}"
