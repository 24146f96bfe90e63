"""The gate staff's check-in page: scan an e-ticket, see at a glance whether to let its holder in.

A USB or Bluetooth barcode scanner types the QR's token into the one field and presses Enter; the
page answers with the verdict of ticketing.etickets.gate (admit, or check only) and a fresh, focused
field for the next scan. Only members of the "Gate staff" group (and superusers) may use it.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ticketing.etickets import gate
from ticketing.models import Ticket

from .throttle import client_address, sign_in_throttle

logger = logging.getLogger(__name__)

GATE_STAFF_GROUP = "Gate staff"  # created by migration 0004_gate_staff_group
# A token is 154 characters; room for a scanner's prefix or suffix, nothing like a flood.
MAX_SCAN_LENGTH = 400


class ScanForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Ticket code"),
        max_length=MAX_SCAN_LENGTH,
        strip=True,
        help_text=gettext_lazy("Scan the QR code on the ticket, or type its code and press Enter."),
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "autocorrect": "off",
                "spellcheck": "false",
                "enterkeyhint": "go",
            }
        ),
    )
    check_only = forms.BooleanField(label=gettext_lazy("Check only (do not admit)"), required=False)


def is_gate_staff(user) -> bool:
    return user.is_active and (
        user.is_superuser or user.groups.filter(name=GATE_STAFF_GROUP).exists()
    )


class StaffLoginView(auth_views.LoginView):
    """Django's login with its own page, so that staff (gate, box office) need no admin
    (is_staff) access; each staff page mounts it with its own `title` and `next_page`.

    Failed sign-ins are counted per address and per account (`throttle`); past the limit even
    the right password waits, or guessing would simply go on.
    """

    template_name = "gate/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("gate")
    title = gettext_lazy("Gate staff sign-in")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "title": self.title}

    def _throttle(self):
        username = self.request.POST.get("username", "")[:150]
        return sign_in_throttle(client_address(self.request), username)

    def post(self, request, *args, **kwargs):
        wait = self._throttle().retry_after()
        if not wait:
            return super().post(request, *args, **kwargs)
        minutes = max((wait + 59) // 60, 1)
        message = ngettext(
            "Too many unsuccessful sign-ins. Please wait %(minutes)d minute and try again.",
            "Too many unsuccessful sign-ins. Please wait %(minutes)d minutes and try again.",
            minutes,
        ) % {"minutes": minutes}
        context = self.get_context_data(form=self.get_form_class()(request), limited=message)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response

    def form_invalid(self, form):
        self._throttle().record_failure()
        return super().form_invalid(form)


login = StaffLoginView.as_view()


def _details(verdict: gate.GateVerdict) -> dict | None:
    """What staff read about the scanned ticket, in the attraction's time zone."""
    ticket: Ticket | None = verdict.ticket
    if ticket is None:
        return None
    order, slot = ticket.order, ticket.slot
    attraction = slot.attraction
    tz = attraction.tz
    starts, ends = slot.starts_at.astimezone(tz), slot.ends_at.astimezone(tz)
    language = get_language()
    details = {
        "attraction": attraction.display_name(language),
        "slot": _("%(start)s-%(end)s on %(day)s")
        % {
            "start": f"{starts:%H:%M}",
            "end": f"{ends:%H:%M}",
            "day": gate.day_text(starts),
        },
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
        used = ticket.used_at.astimezone(tz)
        details["used_at"] = _("%(time)s on %(day)s") % {
            "time": f"{used:%H:%M:%S}",
            "day": gate.day_text(used),
        }
    return details


@never_cache
@login_required(login_url=reverse_lazy("gate-login"))
@require_http_methods(["GET", "POST"])
def check_in(request: HttpRequest) -> HttpResponse:
    if not is_gate_staff(request.user):
        raise PermissionDenied
    if request.method == "GET":
        return render(request, "gate/check_in.html", {"form": ScanForm()})
    form = ScanForm(request.POST)
    check_only = request.POST.get("check_only") == "on"
    fresh = ScanForm(initial={"check_only": check_only})
    if not form.is_valid():
        # Empty, far too long or not text at all: no ticket, nothing to look up.
        context = {"form": fresh, "verdict": gate.invalid_token_verdict(), "check_only": check_only}
        return render(request, "gate/check_in.html", context, status=400)
    token = form.cleaned_data["token"]
    if check_only:
        verdict = gate.check_ticket(token)
    else:
        verdict = gate.admit(token, actor=f"gate:{request.user.get_username()}")
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
