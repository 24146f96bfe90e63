"""The demo catalogue: bilingual attractions, the usual ticket types, a month and more of slots."""

from __future__ import annotations

import datetime as dt

from ticketing.demo import load_demo_catalogue
from ticketing.models import Attraction, ClosedDay, TicketType, TimeSlot


def test_the_demo_catalogue_is_complete_bilingual_and_loads_idempotently(db, clock):
    first = load_demo_catalogue()
    assert first.created > 0
    attractions = list(Attraction.objects.all())
    assert len(attractions) == 3
    for attraction in attractions:
        assert attraction.name_zh and attraction.description_zh and "demo" in attraction.slug
        types = {t.code: t for t in attraction.ticket_types.all()}
        assert set(types) == {"adult", "child", "senior", "family", "infant"}
        assert types["family"].admissions == 4
        assert (types["infant"].price, types["infant"].admissions) == (0, 0)
        assert all(t.name_zh for t in types.values())
        days = TimeSlot.objects.filter(attraction=attraction).values_list("local_date", flat=True)
        assert max(days) - min(days) >= dt.timedelta(days=30)
    closed = ClosedDay.objects.get()
    assert not TimeSlot.objects.filter(
        attraction=closed.attraction, local_date=closed.date
    ).exists()
    again = load_demo_catalogue()
    assert again.created == 0
    assert Attraction.objects.count() == 3 and TicketType.objects.count() == 15
