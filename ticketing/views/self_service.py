"""The buyer's own changes on the order page: give back a hold, cancel tickets, change the time.

Shown only to a session that may see the order (checkout._load: booked here, found with the
e-mail, or opened with the secret token). Every POST is counted per client address and per
order (a FailureThrottle counting attempts), and carries a one-time key the service records,
so a double click or a reload changes nothing twice.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ticketing.exceptions import InvalidTicketChoice, TicketingError
from ticketing.models import Order
from ticketing.orders import rebooking, self_service

from .checkout import _denied, _load, _summary
from .throttle import FailureThrottle, client_address, minutes_to_wait

MAX_ACTIONS_PER_ADDRESS = 30
MAX_ACTIONS_PER_ORDER = 20


def action_throttle(request: HttpRequest, code: str) -> FailureThrottle:
    return FailureThrottle(
        "shop-self-service",
        (
            ("addr", client_address(request), MAX_ACTIONS_PER_ADDRESS),
            ("code", code.upper(), MAX_ACTIONS_PER_ORDER),
        ),
    )


def _throttled(request: HttpRequest, code: str) -> HttpResponse | None:
    throttle = action_throttle(request, code)
    wait = throttle.retry_after()
    if wait:
        return render(
            request,
            "shop/bad_request.html",
            {
                "title": _("Too many requests"),
                "message": _("Please wait %(minutes)s minutes and try again.")
                % {"minutes": minutes_to_wait(wait)},
            },
            status=429,
        )
    throttle.record_failure()  # every attempt counts: changes are few by nature
    return None


def _refused(request: HttpRequest, order: Order, error: TicketingError) -> HttpResponse:
    return render(
        request,
        "shop/bad_request.html",
        {"title": _("This change is not possible"), "message": error.message},
        status=error.http_status,
    )


@never_cache
@require_POST
def give_back(request: HttpRequest, code: str) -> HttpResponse:
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, _status = loaded
    if (refusal := _throttled(request, order.code)) is not None:
        return refusal
    try:
        self_service.give_back_hold(order, key=request.POST.get("key", ""))
    except TicketingError as error:
        return _refused(request, order, error)
    return redirect("shop:confirmation", order.code)


def _chosen_numbers(request: HttpRequest) -> list[int] | None:
    try:
        return sorted({int(n) for n in request.POST.getlist("ticket")})
    except ValueError:
        return None


@never_cache
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, code: str) -> HttpResponse:
    """Choose tickets, see the refund after the fee, confirm: three steps, one URL."""
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, _status = loaded
    language = get_language()
    context = {**_summary(order), "actions": self_service.available_actions(order, get_language())}
    if request.method == "POST":
        if (refusal := _throttled(request, order.code)) is not None:
            return refusal
        numbers = _chosen_numbers(request)
        try:
            if numbers is None:
                raise InvalidTicketChoice()
            if request.POST.get("step") == "confirm":
                self_service.cancel_tickets(order, numbers, key=request.POST.get("key", ""))
                return redirect("shop:confirmation", order.code)
            quote = self_service.quote_cancel(order, numbers)
        except TicketingError as error:
            context["error"] = error.message
        else:
            return render(
                request,
                "shop/cancel.html",
                {**context, "quote": quote, "key": uuid.uuid4().hex, "step": "confirm"},
            )
    if order.state != Order.State.PAID:
        return redirect("shop:confirmation", order.code)
    units = self_service.valid_units(order)
    context["units"] = [
        {"unit": unit, "name": unit.ticket_type.display_name(language)} for unit in units
    ]
    context["action"] = reverse("shop:cancel", args=[order.code])
    return render(request, "shop/cancel.html", {**context, "step": "choose"})


@never_cache
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest, code: str) -> HttpResponse:
    """Pick another time of the same day or another; the tickets move in one step."""
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, _status = loaded
    context = {**_summary(order), "actions": self_service.available_actions(order, get_language())}
    if request.method == "POST":
        if (refusal := _throttled(request, order.code)) is not None:
            return refusal
        try:
            slot_id = int(request.POST.get("slot", ""))
        except ValueError:
            context["error"] = _("Please choose one of the times offered.")
        else:
            try:
                rebooking.change_slot(order, slot_id, key=request.POST.get("key", ""))
            except TicketingError as error:
                context["error"] = error.message
            else:
                return redirect("shop:confirmation", order.code)
    if order.state != Order.State.PAID:
        return redirect("shop:confirmation", order.code)
    context.update(
        slots=rebooking.slots_to_change_to(order),
        difference=rebooking.price_difference(order),
        key=uuid.uuid4().hex,
    )
    return render(request, "shop/change.html", context)
