"""The gate staff's check-in page: scan an e-ticket, see at a glance whether to let its holder in.

A USB or Bluetooth barcode scanner types the QR's token into the one field and presses Enter; the
page answers with the verdict of ticketing.etickets.checkin (admit, or check only) and a fresh,
focused field for the next scan. Only members of the "Gate staff" group (and superusers) may use it.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ticketing import local_time
from ticketing.etickets import checkin
from ticketing.forms import TicketScanForm
from ticketing.models import Ticket

from .staff import StaffLoginView, staff_only

logger = logging.getLogger(__name__)

GATE_STAFF_GROUP = "Gate staff"  # created by migration 0004_gate_staff_group


login = StaffLoginView.as_view(
    next_page=reverse_lazy("gate:check_in"), title=gettext_lazy("Gate staff sign-in")
)


def _details(verdict: checkin.GateVerdict) -> dict | None:
    """What staff read about the scanned ticket, in the attraction's time zone."""
    ticket: Ticket | None = verdict.ticket
    if ticket is None:
        return None
    order, slot = ticket.order, ticket.slot
    attraction = slot.attraction
    tz = attraction.tz
    language = get_language()
    details = {
        "attraction": attraction.display_name(language),
        "slot": local_time.format_slot(slot.starts_at, slot.ends_at, tz),
        "ticket_type": ticket.type_name(language),
        "number": _("%(number)d of %(count)d")
        % {"number": ticket.number, "count": order.tickets.count()},
        "admission": (
            _("%(part)d of %(parts)d") % {"part": ticket.part, "parts": ticket.parts}
            if ticket.parts > 1
            else ""
        ),
        "order_code": order.code,
        "buyer_name": order.buyer_name,
        "used_at": "",
    }
    if verdict.code == "used" and ticket.used_at:
        details["used_at"] = local_time.format_datetime(ticket.used_at, tz)
    return details


@staff_only(GATE_STAFF_GROUP, login_url=reverse_lazy("gate:login"))
@require_http_methods(["GET", "POST"])
def check_in(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "gate/check_in.html", {"form": TicketScanForm()})
    form = TicketScanForm(request.POST)
    check_only = request.POST.get("check_only") == "on"
    fresh = TicketScanForm(initial={"check_only": check_only})
    if not form.is_valid():
        # Empty, far too long or not text at all: no ticket, nothing to look up.
        context = {
            "form": fresh,
            "verdict": checkin.invalid_token_verdict(),
            "check_only": check_only,
        }
        return render(request, "gate/check_in.html", context, status=400)
    token = form.cleaned_data["token"]
    if check_only:
        verdict = checkin.check_ticket(token)
    else:
        verdict = checkin.admit(token, actor=f"gate:{request.user.get_username()}")
    if verdict.ticket is not None:
        logger.info(
            "gate %s: ticket %s of order %s by %s",
            verdict.code,
            verdict.ticket.number,
            verdict.ticket.order_id,
            request.user.pk,
        )
    context = {
        "form": fresh,
        "verdict": verdict,
        "details": _details(verdict),
        "check_only": check_only,
    }
    return render(request, "gate/check_in.html", context)
