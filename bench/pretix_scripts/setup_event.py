"""Inside pretix: one organizer with an API token, one event series, one ticket and, per phase of
bench/booking.py (warm-up, sequential, race), one time slot (a subevent) with its own quota.

This mirrors the Entrada side of the bench: one attraction, one ticket type at 80 CNY and a slot
per phase with capacity 100000, 100000 and PLACES. Run with the peer's python and
PRETIX_CONFIG_FILE set (bench/pretix_peer.py); prints the ids the client needs as JSON.
"""

import datetime as dt
import json
import sys
import uuid
from decimal import Decimal

import django

django.setup()

from django.utils.timezone import now  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402
from pretix.base.models import Event, Organizer, Team  # noqa: E402

places = int(sys.argv[1])
with scopes_disabled():
    slug = "bench" + uuid.uuid4().hex[:8]
    organizer = Organizer.objects.create(name="Bench", slug=slug)
    team = Team.objects.create(
        organizer=organizer,
        name="API",
        all_events=True,
        all_event_permissions=True,
        all_organizer_permissions=True,
    )
    token = team.tokens.create(name="bench")
    start = (now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    event = Event.objects.create(
        organizer=organizer,
        name="Bench",
        slug="bench",
        currency="CNY",
        date_from=start,
        has_subevents=True,
        live=True,
    )
    item = event.items.create(name="Adult", default_price=Decimal("80"), admission=True)
    slots = {}
    for hours, (phase, size) in enumerate(
        [("warm", 100000), ("sequential", 100000), ("race", places)]
    ):
        begins = start + dt.timedelta(hours=hours)
        subevent = event.subevents.create(
            name=f"Bench {phase}",
            date_from=begins,
            date_to=begins + dt.timedelta(hours=1),
            active=True,
        )
        quota = event.quotas.create(name=phase, size=size, subevent=subevent)
        quota.items.add(item)
        slots[phase] = subevent.pk
        slots[phase + "_quota"] = quota.pk
    print(
        json.dumps(
            {"organizer": slug, "event": event.slug, "token": token.token, "item": item.pk, **slots}
        )
    )
