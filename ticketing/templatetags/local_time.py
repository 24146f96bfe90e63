"""Dates and times in templates, through ticketing.local_time: `{% load local_time %}`.

{{ order.paid_at|local_datetime:attraction.timezone }}   Thursday, Dec. 24, 2026, 10:02 CST
{{ slot.starts_at|local_date:attraction.timezone }}      Thursday, Dec. 24, 2026
{% slot_times slot attraction.timezone %}                10:00–11:00 CST
{% time_range slot.starts_at slot.ends_at tz %}          10:00–11:00
"""

from __future__ import annotations

from django import template

from ticketing import local_time

register = template.Library()


@register.filter
def local_datetime(value, tz: str) -> str:
    return local_time.format_datetime(value, tz) if value else ""


@register.filter
def local_date(value, tz: str | None = None) -> str:
    return local_time.format_date(value, tz) if value else ""


@register.simple_tag
def time_range(starts, ends, tz: str) -> str:
    return local_time.format_time_range(starts, ends, tz)


@register.simple_tag
def slot_times(slot, tz: str) -> str:
    """A slot's times and the zone they are in."""
    local = local_time.in_zone(slot.starts_at, tz)
    times = local_time.format_time_range(slot.starts_at, slot.ends_at, tz)
    return f"{times} {local_time.zone_label(local)}"
