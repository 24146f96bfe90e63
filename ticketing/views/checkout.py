"""After booking: review, pay with an Alipay QR, follow the payment, confirmation and tickets.

Every page here belongs to one order and is shown only to a session that may see it (`access`).
Each view reads the order's status from ticketing.orders and sends the buyer to the page that fits
it, so a reload, the back button or an old tab always lands somewhere sensible.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from payments.models import Payment
from ticketing import orders
from ticketing.etickets.faces import order_pdf
from ticketing.exceptions import TicketingError
from ticketing.models import Order
from ticketing.orders import self_service

from . import access
from .standing import standing

# Payment states in which the buyer is still expected to scan or confirm.
IN_FLIGHT = Payment.IN_FLIGHT_STATES
# Payment states whose outcome is still to come: the pay page keeps polling through these.
UNDECIDED = Payment.ACTIVE_STATES
# The payments app words its reasons for staff ("the buyer did not..."); the buyer reads these.
BUYER_REASONS = {
    "TRADE_CLOSED": gettext_lazy("It was declined in Alipay, or its time ran out."),
    "DEADLINE": gettext_lazy("It was not confirmed in Alipay in time."),
}
GENERIC_REASON = gettext_lazy("Alipay did not accept it.")


def _denied(request: HttpRequest) -> HttpResponse:
    """The same answer whether or not the code exists: a code alone reveals nothing."""
    return render(request, "shop/order_denied.html", status=403)


def _load(request: HttpRequest, code: str):
    """(order, status) when this session may see the order, else None.

    The status is read first because reading it may end an overdue hold; the order is then loaded
    with everything its pages show, in three queries.
    """
    code = code.upper()
    if not access.is_allowed(request, code):
        token = request.GET.get("token", "")
        if not token or len(token) > 100:
            return None
        # A link from the confirmation e-mail carries the order's secret token.
        found = orders.find_order(code, token=token)
        if found is None:
            return None
        access.allow(request, found.code)
    order = Order.objects.filter(code=code).first()
    if order is None:
        return None
    status = orders.order_status(order)
    order = (
        Order.objects.select_related("attraction", "slot", "payment")
        .prefetch_related("lines__ticket_type")
        .get(pk=order.pk)
    )
    return order, status


def _page_for(order: Order, status) -> str:
    """Where the buyer belongs now: the order page once nothing is left to do but read it."""
    # Under review there is nothing to pay or wait for: the order page says what happens.
    if status.paid or status.under_review or order.state not in Order.HOLDING_STATES:
        return reverse("shop:confirmation", args=[order.code])
    if order.state == Order.State.AWAITING_PAYMENT or status.payment_state is not None:
        return reverse("shop:pay", args=[order.code])
    return reverse("shop:review", args=[order.code])


def _summary(order: Order) -> dict:
    # The page's language (the switcher may have changed it since booking), not the order's.
    shown = get_language() or order.language
    return {
        "order": order,
        "attraction": order.attraction,
        "name": order.attraction.display_name(shown),
        "address": order.attraction.display_address(shown),
        "lines": [
            {"line": line, "name": line.ticket_type.display_name(shown)}
            for line in order.lines.all()
        ],
    }


@never_cache
@require_GET
def review(request: HttpRequest, code: str) -> HttpResponse:
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, status = loaded
    if order.state != Order.State.HELD or status.payment_state is not None:
        target = _page_for(order, status)
        if target != request.path:
            return redirect(target)
    return render(request, "shop/review.html", {**_summary(order), "status": status})


@never_cache
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the QR and its progress, or what went wrong. POST: start (or retry) the payment."""
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, status = loaded
    if request.method == "POST":
        try:
            orders.start_payment(order)
        except TicketingError as error:
            order, status = _load(request, code)
            context = {**_summary(order), "status": status, "error": error.message}
            template = "shop/review.html" if order.state == Order.State.HELD else "shop/pay.html"
            return render(request, template, context, status=error.http_status)
        return redirect("shop:pay", code=order.code)

    if status.paid:
        return redirect("shop:confirmation", code=order.code)
    if status.payment_state is None and order.state == Order.State.HELD:
        return redirect("shop:review", code=order.code)
    waiting = status.payment_state in IN_FLIGHT and bool(status.qr_code)
    context = {
        **_summary(order),
        "status": status,
        "waiting": waiting,
        # Poll whenever an outcome is still to come, QR or not (a precreate with no answer yet).
        "polling": status.payment_state in UNDECIDED,
        "problem": "" if waiting else _problem(order, status),
        "status_url": reverse("shop:status", args=[order.code]),
        "open_url": _wallet_link(request, order, status.qr_code) if waiting else "",
    }
    return render(request, "shop/pay.html", context)


def _wallet_link(request: HttpRequest, order: Order, qr_code: str) -> str:
    """The QR's address for "Open Alipay to pay" on a phone, with the way back to this order.

    Only a wallet on the gateway's own host (the sandbox) is given the return address, as
    Alipay's in-store QR takes none; Alipay's own codes are opened exactly as issued.
    """
    gateway = urlsplit(str(settings.ALIPAY.get("GATEWAY_URL", "")))
    wallet = urlsplit(qr_code)
    if not wallet.netloc or (wallet.scheme, wallet.netloc) != (gateway.scheme, gateway.netloc):
        return qr_code
    back = request.build_absolute_uri(reverse("shop:confirmation", args=[order.code]))
    separator = "&" if wallet.query else "?"
    return f"{qr_code}{separator}{urlencode({'return_url': back})}"


def _problem(order: Order, status) -> str:
    """Why the buyer is not looking at a QR: the payment's own reason when it has one."""
    payment = order.payment
    if status.can_retry_payment and payment is not None:
        # Other codes are worded for cashiers and staff and may name configuration details:
        # the buyer gets a plain sentence, staff see the code in the admin.
        reason = BUYER_REASONS.get(payment.failure_code, GENERIC_REASON)
        return f"{_('Your payment was not completed.')} {reason}"
    if status.under_review:
        return str(status.message)
    if status.payment_state in UNDECIDED:
        return _("We are still confirming this payment with Alipay. This can take a minute.")
    return str(status.message)


@never_cache
@require_GET
def status(request: HttpRequest, code: str) -> HttpResponse:
    """The small JSON the pay page polls: has the payment ended, and where to go next."""
    loaded = _load(request, code)
    if loaded is None:
        return JsonResponse(
            {"code": "forbidden", "message": _("This order is not open in this browser.")},
            status=403,
        )
    order, current = loaded
    return JsonResponse(
        {
            "state": str(current.state),
            "payment_state": current.payment_state,
            "paid": current.paid,
            "waiting": current.payment_state in IN_FLIGHT,
            "seconds_left": max(int(current.seconds_left or 0), 0),
            "can_retry_payment": current.can_retry_payment,
            "message": str(current.message),
            "next": _page_for(order, current),
        }
    )


@never_cache
@require_GET
def confirmation(request: HttpRequest, code: str) -> HttpResponse:
    """The order page: where the order stands now, whatever its state, and what the buyer can do.

    The link a buyer keeps (e-mail, "Find my tickets", the wallet's way back), so it never
    redirects: a reserved or unpaid order shows its state with the way on to review or pay.
    """
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, status = loaded
    context = {
        **_summary(order),
        "status": status,
        "standing": standing(order, status),
        # Waiting on Alipay: follow the payment here too, as the pay page does.
        "polling": order.state == Order.State.AWAITING_PAYMENT
        and status.payment_state in UNDECIDED,
        "status_url": reverse("shop:status", args=[order.code]),
        # What the buyer may change themselves (ticketing.views.self_service).
        "actions": self_service.available_actions(order, get_language()),
        "actions_key": uuid.uuid4().hex,
    }
    return render(request, "shop/confirmation.html", context)


@never_cache
@require_GET
def tickets_pdf(request: HttpRequest, code: str) -> HttpResponse:
    loaded = _load(request, code)
    if loaded is None:
        return _denied(request)
    order, status = loaded
    if not status.tickets_ready:
        return render(
            request,
            "shop/bad_request.html",
            {
                "title": _("Tickets not ready"),
                "message": _(
                    "The tickets for this order are not available: they are issued once the "
                    "payment is complete, and withdrawn if the order is cancelled or refunded."
                ),
            },
            status=409,
        )
    response = HttpResponse(order_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="entrada-{order.code}.pdf"'
    return response
