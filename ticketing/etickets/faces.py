"""From an order's tickets to the faces the PDF renderer draws, and the order's PDF.

One query fetches every ticket with its order, attraction, slot and ticket type (no N+1, however
many admissions), and the texts are formatted in the buyer's language and the attraction's time
zone and currency here, so that pdf.py deals in plain strings only.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import pgettext

from ticketing import local_time
from ticketing.models import Order, Ticket, currency_exponent

from .exceptions import NoTickets
from .keys import signing_key
from .pdf import TicketFace, render_tickets_pdf
from .tokens import TicketClaims, issue_token

# Each e-ticket admits one person (a family ticket is issued as one ticket per admission).
ADMISSIONS_PER_TICKET = 1


def format_price(amount: Decimal, currency: str) -> str:
    """`CNY 60.00`, `JPY 3,000`: the ISO code (¥ is both yen and yuan) and the currency's decimals.

    Call inside `translation.override(language)` for the buyer's separators.
    """
    places = currency_exponent(currency)
    value = Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{currency} {number_format(value, decimal_pos=places, force_grouping=True)}"


def ticket_claims(ticket: Ticket) -> TicketClaims:
    return TicketClaims(
        ticket_uuid=ticket.uuid,
        slot_start=ticket.slot.starts_at,
        attraction_id=ticket.slot.attraction_id,
        ticket_type_id=ticket.ticket_type_id,
        admissions=ADMISSIONS_PER_TICKET,
    )


def ticket_token(ticket: Ticket) -> str:
    """The signed QR content of one ticket (deterministic: no need to store it)."""
    return issue_token(ticket_claims(ticket), signing_key())


def printable_tickets(order: Order | int) -> QuerySet[Ticket]:
    """The tickets an order's PDF shows (all but revoked ones), with everything a face needs."""
    order_id = order if isinstance(order, int) else order.pk
    return (
        Ticket.objects.filter(order_id=order_id)
        .exclude(state=Ticket.State.REVOKED)
        .select_related("order__attraction", "slot", "ticket_type")
        .order_by("number")
    )


def _face(ticket: Ticket, count: int) -> TicketFace:
    order = ticket.order
    attraction = order.attraction
    language = order.language
    tz = attraction.tz
    starts, ends = ticket.slot.starts_at, ticket.slot.ends_at
    with translation.override(language):
        date_text = local_time.format_date(starts, tz)
        slot_text = local_time.format_time_range(starts, ends, tz)
        price_text = format_price(ticket.price, order.currency)
        # A walk-in at the box office gave no name: say so rather than print a placeholder.
        buyer_name = order.buyer_name or pgettext("eticket", "Walk-in")
    return TicketFace(
        attraction_name=attraction.display_name(language),
        address=attraction.display_address(language),
        date_text=date_text,
        slot_text=slot_text,
        timezone_name=f"{local_time.zone_label(local_time.in_zone(starts, tz))} "
        f"({attraction.timezone})",
        ticket_type_name=ticket.type_name(language),
        price_text=price_text,
        order_code=order.code,
        buyer_name=buyer_name,
        token=ticket_token(ticket),
        language=language,
        number=ticket.number,
        count=count,
        part=ticket.part,
        parts=ticket.parts,
        reference=ticket.uuid.hex[:8].upper(),
    )


def order_faces(order: Order | int) -> list[TicketFace]:
    """The faces of an order's printable tickets, in ticket order (one query)."""
    tickets = list(printable_tickets(order))
    return [_face(ticket, len(tickets)) for ticket in tickets]


def order_pdf(order: Order | int) -> bytes:
    """The order's e-ticket PDF; raises NoTickets when it has none to show (unpaid, revoked)."""
    faces = order_faces(order)
    if not faces:
        raise NoTickets()
    first = faces[0]
    with translation.override(first.language):
        title = pgettext("eticket", "E-tickets, order %(code)s") % {"code": first.order_code}
    return render_tickets_pdf(faces, title=title)
