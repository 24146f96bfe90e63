"""Inside pretix: its PDF ticket output (the ticketoutputpdf plugin's default layout on its A4
background, the renderer pretix serves a ticket download with), timed in this process.

Two paid orders are created through pretix's own REST API code (in-process, with a team token):
one with one ticket and one with five. Rows, as in bench/etickets.py: CPU ms per ticket, median
of batches run for about SECONDS each, after a first render excluded as warm-up (imports, fonts,
the background file). Prints JSON.
"""

import json
import statistics
import sys
import time
import uuid

import django

django.setup()

from django.test import Client  # noqa: E402
from django.utils.timezone import now  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402
from pretix.base.models import Event, Order, Organizer, Team  # noqa: E402
from pretix.plugins.ticketoutputpdf.ticketoutput import PdfTicketOutput  # noqa: E402

seconds = float(sys.argv[1])

with scopes_disabled():
    slug = "tickets" + uuid.uuid4().hex[:8]
    organizer = Organizer.objects.create(name="Bench", slug=slug)
    team = Team.objects.create(
        organizer=organizer, name="API", all_events=True, all_event_permissions=True
    )
    token = team.tokens.create(name="bench").token
    event = Event.objects.create(
        organizer=organizer,
        name="Forbidden City Palace Museum",
        slug="garden",
        currency="CNY",
        date_from=now().replace(microsecond=0),
        location="4 Jingshan Front Street, Dongcheng, Beijing",
        plugins="pretix.plugins.ticketoutputpdf",
        live=True,
    )
    item = event.items.create(name="Adult", default_price=60, admission=True)
    event.quotas.create(name="all", size=None).items.add(item)

client = Client(HTTP_AUTHORIZATION=f"Token {token}")


def paid_order(tickets: int) -> str:
    body = {
        "email": "ada@example.com",
        "locale": "en",
        "status": "p",
        "payment_provider": "manual",
        "sales_channel": "web",
        "positions": [{"item": item.pk, "attendee_name_parts": {"_legacy": "Ada Lovelace"}}]
        * tickets,
    }
    response = client.post(
        f"/api/v1/organizers/{slug}/events/garden/orders/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()["code"]


def per_ticket_ms(work, tickets: int) -> tuple[float, int]:
    samples = []
    rendered = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        started = time.process_time()
        work()
        samples.append((time.process_time() - started) * 1000 / tickets)
        rendered += tickets
    return statistics.median(samples), rendered


with scopes_disabled():
    one = Order.objects.get(event=event, code=paid_order(1))
    five = Order.objects.get(event=event, code=paid_order(5))
    position = one.positions.get()
    output = PdfTicketOutput(event)

    started = time.process_time()
    _name, _type, first = output.generate(position)
    first_ms = (time.process_time() - started) * 1000
    assert first.startswith(b"%PDF"), "not a PDF"

    one_ms, one_n = per_ticket_ms(lambda: PdfTicketOutput(event).generate(position), 1)
    five_ms, five_n = per_ticket_ms(lambda: PdfTicketOutput(event).generate_order(five), 5)

    # As a download does: read the order from the database, then render all its tickets.
    def from_db() -> None:
        order = Order.objects.select_related("event").get(pk=five.pk)
        PdfTicketOutput(order.event).generate_order(order)

    db_ms, db_n = per_ticket_ms(from_db, 5)

print(
    json.dumps(
        {
            "first_ms": first_ms,
            "rows": [
                ["pretix generate(), 1-ticket order", one_ms, one_n],
                ["pretix generate_order(), 5-ticket order", five_ms, five_n],
                ["pretix 5-ticket order read from SQLite", db_ms, db_n],
            ],
        }
    )
)
