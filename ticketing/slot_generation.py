"""Time slots from opening rules: `generate_slots(days=90)`, idempotent.

For each attraction-local date: a closed day has no bookable slots; a date with special openings
uses those hours instead of the weekly rules; otherwise every weekly rule valid that date
contributes slots of `slot_minutes` from `opens` while the slot ends by `closes`. Slots are
created once (unique attraction + start) and never deleted, because orders may point at them:
a slot on a date that became closed is switched to not bookable, and back when it reopens.
Local times that do not exist (a DST gap) are skipped; ambiguous ones take the first occurrence.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db import transaction

from payments import clock

from .models import Attraction, ClosedDay, OpeningRule, SpecialOpening, TimeSlot


@dataclass
class GenerationResult:
    created: int = 0
    closed: int = 0
    reopened: int = 0

    def __add__(self, other: GenerationResult) -> GenerationResult:
        return GenerationResult(
            self.created + other.created,
            self.closed + other.closed,
            self.reopened + other.reopened,
        )


def _local_to_utc(day: dt.date, at: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    local = dt.datetime.combine(day, at).replace(tzinfo=tz, fold=0)
    utc = local.astimezone(dt.UTC)
    # A wall time inside a DST gap does not survive the round trip: no such moment exists.
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return utc


def _slot_times(day: dt.date, pattern, tz) -> list[tuple[dt.datetime, dt.datetime]]:
    times = []
    length = dt.timedelta(minutes=pattern.slot_minutes)
    start = dt.datetime.combine(day, pattern.opens)
    close = dt.datetime.combine(day, pattern.closes)
    while start + length <= close:
        starts_at = _local_to_utc(day, start.time(), tz)
        ends_at = _local_to_utc(day, (start + length).time(), tz)
        if starts_at is not None and ends_at is not None and ends_at > starts_at:
            times.append((starts_at, ends_at))
        start += length
    return times


def planned_slots(
    attraction: Attraction, first_day: dt.date, last_day: dt.date
) -> tuple[list[TimeSlot], set[dt.date]]:
    """The slots the rules call for in [first_day, last_day], and the closed dates in it."""
    tz = attraction.tz
    rules = list(OpeningRule.objects.filter(attraction=attraction))
    specials: dict[dt.date, list[SpecialOpening]] = {}
    for special in SpecialOpening.objects.filter(
        attraction=attraction, date__gte=first_day, date__lte=last_day
    ):
        specials.setdefault(special.date, []).append(special)
    closed = set(
        ClosedDay.objects.filter(
            attraction=attraction, date__gte=first_day, date__lte=last_day
        ).values_list("date", flat=True)
    )
    planned: dict[dt.datetime, TimeSlot] = {}
    day = first_day
    while day <= last_day:
        if day not in closed:
            patterns = specials.get(day) or [rule for rule in rules if rule.applies_on(day)]
            for pattern in patterns:
                for starts_at, ends_at in _slot_times(day, pattern, tz):
                    # Overlapping rules: the first one to claim a start time wins.
                    planned.setdefault(
                        starts_at,
                        TimeSlot(
                            attraction=attraction,
                            starts_at=starts_at,
                            ends_at=ends_at,
                            local_date=day,
                            capacity=pattern.capacity,
                            rule=pattern if isinstance(pattern, OpeningRule) else None,
                        ),
                    )
        day += dt.timedelta(days=1)
    return list(planned.values()), closed


def generate_for(
    attraction: Attraction, days: int, *, start: dt.date | None = None
) -> GenerationResult:
    """Create the missing slots of the next `days` local days (from today) for one attraction."""
    first_day = start or clock.now().astimezone(attraction.tz).date()
    last_day = first_day + dt.timedelta(days=max(days, 1) - 1)
    planned, closed = planned_slots(attraction, first_day, last_day)
    result = GenerationResult()
    with transaction.atomic():
        in_range = TimeSlot.objects.filter(
            attraction=attraction, local_date__gte=first_day, local_date__lte=last_day
        )
        existing = set(in_range.values_list("starts_at", flat=True))
        new = [slot for slot in planned if slot.starts_at not in existing]
        # ignore_conflicts: two generators running at once both succeed, each slot exists once.
        TimeSlot.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
        result.created = len(new)
        if closed:
            result.closed = in_range.filter(local_date__in=closed, is_open=True).update(
                is_open=False
            )
        planned_starts = [slot.starts_at for slot in planned]
        if planned_starts:
            # A slot staff cancelled as a whole (closed for weather) stays closed.
            result.reopened = (
                in_range.filter(is_open=False, starts_at__in=planned_starts)
                .exclude(cancellations__isnull=False)
                .update(is_open=True)
            )
    return result


def generate_slots(
    days: int = 90, *, attractions=None, start: dt.date | None = None
) -> GenerationResult:
    """Generate slots for every active attraction (or the given ones); safe to repeat."""
    if attractions is None:
        attractions = Attraction.objects.filter(active=True)
    total = GenerationResult()
    for attraction in attractions:
        total = total + generate_for(attraction, days, start=start)
    return total
