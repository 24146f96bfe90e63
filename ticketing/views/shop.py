"""Browsing and booking: the attractions, a day and time slot, then tickets and the buyer's details.

Views parse the request, call one service (ticketing.inventory or ticketing.orders) and render.
Capacity and prices are decided by the services; a form only checks that the input makes sense.
"""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from payments import clock
from ticketing import hold_limits, inventory, orders, shop_cache
from ticketing.api.throttles import PublicOrderThrottle
from ticketing.exceptions import TicketingError
from ticketing.forms import TicketsForm
from ticketing.models import Attraction, ClosedDay, TicketType, TimeSlot
from ticketing.orders import policy as refund_policy

from . import access, calendar
from .throttle import minutes_to_wait


def _language() -> str:
    return get_language() or "en"


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    # The cards come from the cache (ticketing/shop_cache.py): a warm home page reads no database.
    return render(request, "shop/home.html", {"cards_html": shop_cache.home_cards(_language())})


def _local_today(attraction: Attraction) -> date:
    return clock.now().astimezone(attraction.tz).date()


@require_GET
def attraction(request: HttpRequest, slug: str) -> HttpResponse:
    """The date strip (places left per day) and the chosen day's slots with places left."""
    attraction = get_object_or_404(Attraction, slug=slug, active=True)
    language = _language()
    try:
        chosen = calendar.parse_day(request.GET.get("date"))
        start = calendar.parse_day(request.GET.get("from"))
    except ValueError:
        return render(
            request,
            "shop/bad_request.html",
            {"message": _("That date is not valid. Please pick a day from the calendar.")},
            status=400,
        )
    window = calendar.Window.around(_local_today(attraction), chosen, start)
    found = {day.date: day for day in inventory.availability(attraction, window.start, window.end)}
    days = window.every_day(found)
    chosen = window.chosen or calendar.first_day_with_places(days, window.start)
    closed_dates = set(
        ClosedDay.objects.filter(
            attraction=attraction, date__range=(window.start, window.end)
        ).values_list("date", flat=True)
    )
    now = clock.now()
    base = reverse("shop:attraction", args=[attraction.slug])
    strip = [
        {
            "date": day.date,
            "places_left": day.places_left,
            "state": calendar.day_state(day, now, closed_dates),
            "url": f"{base}?date={day.date.isoformat()}&from={window.start.isoformat()}",
            "current": day.date == chosen,
        }
        for day in days
    ]
    slots = [
        {
            "slot": slot,
            "url": reverse("shop:tickets", args=[attraction.slug, slot.id]),
            "state": calendar.slot_state(slot, now, chosen in closed_dates),
        }
        for slot in (found[chosen].slots if chosen in found else [])
    ]
    on_sale = list(attraction.ticket_types.filter(active=True))
    context = {
        "attraction": attraction,
        "name": attraction.display_name(language),
        "description": attraction.display_description(language),
        "address": attraction.display_address(language),
        "ticket_types": [(t, t.display_name(language)) for t in on_sale],
        "policy_lines": refund_policy.describe(
            refund_policy.policy_for(attraction), on_sale, language
        ),
        "strip": strip,
        "chosen": chosen,
        "slots": slots,
        "notice": _("Tickets can be booked from today up to a year ahead; showing today instead.")
        if window.out_of_range
        else "",
        "earlier_url": f"{base}?from={window.earlier.isoformat()}" if window.earlier else "",
        "later_url": f"{base}?from={window.later.isoformat()}" if window.later else "",
        "today": window.today,
        "last_day": window.last_day,
    }
    return render(request, "shop/attraction.html", context)


def _bookable_slot(attraction: Attraction, slot_id: int):
    """The slot's availability as the inventory sees it, or None when it is not on sale."""
    slot = get_object_or_404(TimeSlot, pk=slot_id, attraction=attraction)
    for day in inventory.availability(attraction, slot.local_date, slot.local_date):
        for candidate in day.slots:
            if candidate.id == slot.id:
                return slot, candidate
    return slot, None


@require_http_methods(["GET", "POST"])
def tickets(request: HttpRequest, slug: str, slot_id: int) -> HttpResponse:
    """Quantities per ticket type and the buyer's details; on success the places are held."""
    attraction = get_object_or_404(Attraction, slug=slug, active=True)
    language = _language()
    slot, availability = _bookable_slot(attraction, slot_id)
    ticket_types = TicketType.objects.filter(attraction=attraction, active=True)
    form = TicketsForm(
        request.POST if request.method == "POST" else None,
        ticket_types=ticket_types,
        language=language,
    )
    status = 200
    if availability is None or not availability.bookable:
        form_error = _("This time slot cannot be booked any more. Please choose another time.")
        return _render_tickets(request, attraction, slot, availability, form, form_error, 409)
    if request.method == "POST":
        # Bookings per client address share the public API's count: one limit, two doors.
        rate = PublicOrderThrottle()
        if not rate.allow_request(request, None):
            return _booking_rate_limited(request, attraction, slot, availability, form, rate)
        if form.is_valid():
            try:
                hold_limits.ensure_room(request, session=True)
                order = orders.create_order(
                    attraction=attraction,
                    slot=slot,
                    quantities=form.quantities(),
                    buyer_name=form.cleaned_data["buyer_name"],
                    email=form.cleaned_data["email"],
                    language=language,
                    client_key=hold_limits.client_key(request),
                )
            except TicketingError as error:
                _attach_error(form, error)
                status = error.http_status
            else:
                hold_limits.remember(request, order)
                access.allow(request, order.code)
                return redirect("shop:review", code=order.code)
        else:
            status = 400
    return _render_tickets(request, attraction, slot, availability, form, "", status)


def _booking_rate_limited(request, attraction, slot, availability, form, rate) -> HttpResponse:
    seconds = max(int(rate.wait() or 1), 1)
    minutes = minutes_to_wait(seconds)
    message = ngettext(
        "Too many bookings from your connection. Please wait %(minutes)d minute and try again.",
        "Too many bookings from your connection. Please wait %(minutes)d minutes and try again.",
        minutes,
    ) % {"minutes": minutes}
    response = _render_tickets(request, attraction, slot, availability, form, message, 429)
    response["Retry-After"] = str(seconds)
    return response


def _attach_error(form: TicketsForm, error: TicketingError) -> None:
    """Show a service's errors next to the fields they name, else above the form.

    When it names form fields and others too (InvalidBooking: details and quantities), the
    others' messages go above the form, so none is lost."""
    placed = [field for field in error.fields if field in form.fields]
    if not placed:
        form.add_error(None, str(error.message))
        return
    for field, messages in error.fields.items():
        for message in messages:
            form.add_error(field if field in placed else None, str(message))


def _render_tickets(request, attraction, slot, availability, form, form_error, status):
    language = _language()
    context = {
        "attraction": attraction,
        "name": attraction.display_name(language),
        "slot": slot,
        "availability": availability,
        "form": form,
        "form_error": form_error,
        "rows": [
            {"field": form[form.quantity_field_name(t)], "ticket_type": t}
            for t in form.ticket_types
        ],
        "back_url": f"{reverse('shop:attraction', args=[attraction.slug])}"
        f"?date={slot.local_date.isoformat()}",
    }
    return render(request, "shop/tickets.html", context, status=status)
