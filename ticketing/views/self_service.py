"""The buyer's own changes on the order page: give back a hold, cancel tickets, change the time
(paying the price difference with an Alipay QR when the tickets cost more now).

Shown only to a session that may see the order (checkout._load: booked here, found with the
e-mail, or opened with the secret token). Every POST is counted per client address and per
order (a FailureThrottle counting attempts), and carries a one-time key the service records,
so a double click or a reload changes nothing twice.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from payments import clock
from payments.models import Payment
from ticketing.exceptions import InvalidTicketChoice, PriceDifferenceDue, TicketingError
from ticketing.models import Order, SlotChange, TimeSlot
from ticketing.orders import rebooking, self_service, slot_changes

from .checkout import BUYER_REASONS, GENERIC_REASON, _denied, _load, _summary, _wallet_link
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
    """Pick another time; the tickets move in one step, or, when they cost more now, the buyer
    sees the difference, confirms it, and pays it with Alipay (change_pay)."""
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, _status = loaded
    context = {**_summary(order), "actions": self_service.available_actions(order, get_language())}
    if context["actions"]["pending_change"] is not None:
        return redirect("shop:change_pay", order.code)
    if request.method == "POST":
        if (refusal := _throttled(request, order.code)) is not None:
            return refusal
        try:
            slot_id = int(request.POST.get("slot", ""))
        except ValueError:
            context["error"] = _("Please choose one of the times offered.")
        else:
            answer = _change(request, order, slot_id, context)
            if answer is not None:
                return answer
    if order.state != Order.State.PAID:
        return redirect("shop:confirmation", order.code)
    context.update(
        slots=rebooking.slots_to_change_to(order),
        difference=rebooking.price_difference(order),
        key=uuid.uuid4().hex,
    )
    return render(request, "shop/change.html", context)


def _change(request: HttpRequest, order: Order, slot_id: int, context: dict):
    """The POST of a chosen time: done, the difference to confirm, or an error in `context`."""
    asked = request.POST.get("step") == "confirm"
    confirmed = None
    if asked:
        try:
            confirmed = Decimal(request.POST.get("pay_difference", ""))
        except (InvalidOperation, ValueError):
            confirmed = None  # shown the amount due again, with why
    try:
        rebooking.change_slot(
            order, slot_id, key=request.POST.get("key", ""), pay_difference=confirmed
        )
    except PriceDifferenceDue as due:
        # Shown before anything happens; confirmed with the amount the buyer saw, so a price
        # changed meanwhile asks again rather than charging what was not shown.
        if asked:
            context["error"] = due.message
        slot = TimeSlot.objects.get(pk=slot_id)
        return render(
            request,
            "shop/change.html",
            {
                **context,
                "step": "confirm",
                "new_slot": slot,
                "due": due.amount,
                "key": uuid.uuid4().hex,
            },
        )
    except TicketingError as error:
        context["error"] = error.message
        return None
    if self_service.pending_change(order) is not None:
        return redirect("shop:change_pay", order.code)
    return redirect("shop:confirmation", order.code)


def _latest_change(order: Order) -> SlotChange | None:
    return (
        SlotChange.objects.filter(order_id=order.pk)
        .select_related("to_slot", "payment")
        .order_by("-created_at", "-id")
        .first()
    )


@never_cache
@require_http_methods(["GET", "POST"])
def change_pay(request: HttpRequest, code: str) -> HttpResponse:
    """The difference's QR and its progress, or what became of the change.

    GET shows it; POST starts the payment again when it could not start (the places held).
    """
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, _status = loaded
    change = _latest_change(order)
    if change is None or change.state == SlotChange.State.CHANGED:
        return redirect("shop:confirmation", order.code)
    context = {**_summary(order), "change": change}
    if request.method == "POST" and change.state == SlotChange.State.AWAITING_PAYMENT:
        if (refusal := _throttled(request, order.code)) is not None:
            return refusal
        try:
            slot_changes.start_payment(change)
        except TicketingError as error:
            context["error"] = error.message
        else:
            return redirect("shop:change_pay", order.code)
        change = _latest_change(order)
    payment = change.payment
    payment_state = payment.state if payment is not None else None
    awaiting = change.state == SlotChange.State.AWAITING_PAYMENT
    waiting = awaiting and payment_state in Payment.IN_FLIGHT_STATES and bool(payment.qr_code)
    context.update(
        change=change,
        waiting=waiting,
        awaiting=awaiting,
        polling=awaiting and payment_state in (None, *Payment.ACTIVE_STATES),
        payment_state=payment_state or "",
        status={"seconds_left": _seconds_left(change) if awaiting else 0},
        problem="" if waiting else _change_problem(change),
        status_url=reverse("shop:change_status", args=[order.code]),
        open_url=_wallet_link(request, order, payment.qr_code) if waiting else "",
        key=uuid.uuid4().hex,
    )
    return render(request, "shop/change_pay.html", context)


def _seconds_left(change: SlotChange) -> int:
    return max(int((change.hold_expires_at - clock.now()).total_seconds()), 0)


def _change_problem(change: SlotChange) -> str:
    """Why the buyer is not looking at the difference's QR."""
    payment = change.payment
    if change.state == SlotChange.State.REFUNDED:
        return _(
            "Your payment of the difference arrived too late, so your time was not changed. "
            "The difference is being refunded to your Alipay account."
        )
    if change.state == SlotChange.State.RELEASED:
        if change.outcome == SlotChange.Outcome.GIVEN_UP:
            return _("You kept your current time. Nothing was charged.")
        reason = ""
        if payment is not None:
            reason = str(BUYER_REASONS.get(payment.failure_code, GENERIC_REASON))
        return " ".join(
            part
            for part in (
                _("The difference was not paid, so your time was not changed."),
                reason,
                _("Your tickets are unchanged."),
            )
            if part
        )
    if payment is None:
        return _("The payment could not be started. Your new places are still held.")
    return _("We are still confirming this payment with Alipay. This can take a minute.")


@never_cache
@require_GET
def change_status(request: HttpRequest, code: str) -> HttpResponse:
    """The small JSON the difference's pay page polls (the shape shop.js reads)."""
    loaded = _load(request, code)
    if loaded is None:
        return JsonResponse(
            {"code": "forbidden", "message": _("This order is not open in this browser.")},
            status=403,
        )
    order, _status = loaded
    change = _latest_change(order)
    if change is None:
        return JsonResponse({"code": "not_found", "message": _("No change of time.")}, status=404)
    payment = change.payment
    done = change.state == SlotChange.State.CHANGED
    return JsonResponse(
        {
            "state": change.state,
            "payment_state": payment.state if payment is not None else None,
            "paid": done,
            "seconds_left": _seconds_left(change)
            if change.state == SlotChange.State.AWAITING_PAYMENT
            else 0,
            "message": str(_("Your time is changed.")) if done else "",
            "next": reverse("shop:confirmation" if done else "shop:change_pay", args=[order.code]),
        }
    )


@never_cache
@require_POST
def give_up_change(request: HttpRequest, code: str) -> HttpResponse:
    """Keep the current time: the difference's payment is cancelled, the new places go back."""
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, _status = loaded
    if (refusal := _throttled(request, order.code)) is not None:
        return refusal
    try:
        slot_changes.give_up(order, key=request.POST.get("key", ""))
    except TicketingError as error:
        return _refused(request, order, error)
    return redirect("shop:confirmation", order.code)
