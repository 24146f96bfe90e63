"""The box office: sell at the counter with the buyer's Alipay payment code, print, cancel, refund.

Web POS pages for a desktop with a barcode scanner (cashier POS) or a phone or tablet (mPOS). A
sale books a counter order (ticketing.orders.create_order, channel box_office), then the cashier
scans the payment code the buyer shows in Alipay (orders.start_counter_payment, barcode flow).
While the buyer confirms with a PIN the pay page polls a small JSON status. A paid order may be
refunded and cancelled here only with a supervisor's username and password typed on the spot.

Only members of "Box office" (and superusers) may use these pages; refunds need a member of "Box
office supervisors". Both groups are created by migration 0006_box_office_groups.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from payments import clock
from payments.exceptions import InvalidBuyerCode, PaymentError
from ticketing import local_time, orders
from ticketing.etickets.faces import order_pdf
from ticketing.exceptions import TicketingError
from ticketing.forms import PaymentCodeForm
from ticketing.models import Attraction, Order, TimeSlot

from .staff import StaffLoginView, in_group, may_approve, staff_only
from .throttle import client_address, minutes_to_wait, sign_in_throttle

logger = logging.getLogger(__name__)

BOX_OFFICE_GROUP = "Box office"  # created by migration 0006_box_office_groups
SUPERVISORS_GROUP = "Box office supervisors"

login = StaffLoginView.as_view(
    next_page=reverse_lazy("box_office:sell"), title=gettext_lazy("Box office sign-in")
)
# Signed in (else the box office sign-in), in "Box office" (else 403), never cached.
box_office_staff = staff_only(BOX_OFFICE_GROUP, login_url=reverse_lazy("box_office:login"))


def store_id() -> str:
    return str(getattr(settings, "BOX_OFFICE_STORE_ID", "BOX-OFFICE"))[:32]


def terminal_id(user) -> str:
    """Each signed-in cashier is a terminal of their own in Alipay's reports."""
    return f"WEB-{user.pk}"


def actor(request: HttpRequest) -> str:
    return f"box-office:{request.user.get_username()}"


def _language() -> str:
    return get_language() or "en"


def _bad(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "box_office/problem.html", {"message": message}, status=status)


def _order(code: str) -> Order:
    if not isinstance(code, str) or not 4 <= len(code) <= 12:
        raise Http404
    order = (
        Order.objects.select_related("attraction", "slot", "payment")
        .prefetch_related("lines__ticket_type")
        .filter(code=code.upper())
        .first()
    )
    if order is None:
        raise Http404
    return order


def _lines(order: Order) -> list[dict]:
    language = _language()
    return [
        {"line": line, "name": line.ticket_type.display_name(language)}
        for line in order.lines.all()
    ]


def _summary(order: Order) -> dict:
    tz = order.attraction.tz
    return {
        "order": order,
        "attraction_name": order.attraction.display_name(_language()),
        "slot_text": local_time.format_slot(order.slot.starts_at, order.slot.ends_at, tz),
        "lines": _lines(order),
    }


# --- Sell ---------------------------------------------------------------------------------------


class SaleForm(forms.Form):
    buyer_name = forms.CharField(
        label=gettext_lazy("Buyer name (optional)"), max_length=120, required=False
    )
    email = forms.EmailField(
        label=gettext_lazy("E-mail for the tickets (optional)"), max_length=254, required=False
    )
    language = forms.ChoiceField(label=gettext_lazy("Ticket language"), choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [(c, _(n)) for c, n in settings.LANGUAGES]


def _parse_day(raw, attraction: Attraction) -> dt.date | None:
    today = clock.now().astimezone(attraction.tz).date()
    if not raw:
        return today
    try:
        day = dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None
    return day


def _sell_context(request, attraction, day, form, **extra) -> dict:
    language = _language()
    tz = attraction.tz
    slots = [
        {
            "slot": slot,
            "text": local_time.format_time_range(slot.starts_at, slot.ends_at, tz),
        }
        for slot in orders.bookable_slots(attraction, day)
    ]
    chosen_quantities = extra.pop("quantities", {})
    return {
        "attractions": [
            (a, a.display_name(language)) for a in Attraction.objects.filter(active=True)
        ],
        "attraction": attraction,
        "attraction_name": attraction.display_name(language),
        "day": day,
        "slots": slots,
        "chosen_slot": extra.pop("chosen_slot", None),
        "ticket_types": [
            {
                "type": tt,
                "name": tt.display_name(language),
                "quantity": chosen_quantities.get(tt.id, 0),
            }
            for tt in attraction.ticket_types.filter(active=True)
        ],
        "form": form,
        **extra,
    }


def _attraction(raw) -> Attraction | None:
    active = Attraction.objects.filter(active=True)
    if raw in (None, ""):
        return active.order_by("sort_order", "id").first()
    try:
        return active.filter(pk=int(raw)).first()
    except (TypeError, ValueError):
        return None


@box_office_staff
@require_http_methods(["GET", "POST"])
def sell(request: HttpRequest) -> HttpResponse:
    """GET: the day's slots and the sale form. POST: book the counter order, then pay."""
    data = request.POST if request.method == "POST" else request.GET
    attraction = _attraction(data.get("attraction"))
    if attraction is None:
        if not Attraction.objects.filter(active=True).exists():
            return _bad(request, _("No attraction is on sale."), status=404)
        return _bad(request, _("Unknown attraction."))
    day = _parse_day(data.get("date"), attraction)
    if day is None:
        return _bad(request, _("That date is not valid."))
    if request.method == "GET":
        form = SaleForm(initial={"language": _language()})
        return render(
            request, "box_office/sell.html", _sell_context(request, attraction, day, form)
        )

    form = SaleForm(request.POST)
    errors: list[str] = []
    quantities: dict[int, int] = {}
    for tt in attraction.ticket_types.filter(active=True):
        raw = request.POST.get(f"q_{tt.id}", "").strip() or "0"
        if not raw.isdigit() or len(raw) > 3:
            errors.append(_("Quantities must be whole numbers."))
            break
        if int(raw):
            quantities[tt.id] = int(raw)
    slot = None
    with contextlib.suppress(TypeError, ValueError):
        slot = TimeSlot.objects.filter(
            pk=int(request.POST.get("slot", "")), attraction=attraction
        ).first()
    if slot is None:
        errors.append(_("Choose a time slot."))
    if form.is_valid() and not errors:
        try:
            order = orders.create_order(
                attraction=attraction,
                slot=slot,
                quantities=quantities,
                buyer_name=form.cleaned_data["buyer_name"],
                email=form.cleaned_data["email"],
                language=form.cleaned_data["language"],
                channel=Order.Channel.BOX_OFFICE,
                actor=actor(request),
            )
        except TicketingError as error:
            errors.append(str(error.message))
            for messages in (getattr(error, "fields", None) or {}).values():
                errors.extend(str(m) for m in messages)
            http_status = error.http_status
        else:
            return redirect("box_office:pay", code=order.code)
    else:
        http_status = 400
    context = _sell_context(
        request,
        attraction,
        slot.local_date if slot is not None else day,
        form,
        errors=list(dict.fromkeys(errors)),
        quantities=quantities,
        chosen_slot=slot.pk if slot is not None else None,
    )
    return render(request, "box_office/sell.html", context, status=http_status)


# --- Pay ----------------------------------------------------------------------------------------


def _pay_context(order: Order, status, **extra) -> dict:
    payment = order.payment
    return {
        **_summary(order),
        "status": status,
        "waiting": orders.payment_waiting(order),
        "failure": orders.failed_attempt_message(order),
        "can_scan": status.can_retry_payment,
        "status_url": reverse("box_office:status", args=[order.code]),
        "shown_state": (payment.state if payment is not None else None) or "",
        **extra,
    }


@box_office_staff
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the total and the scan field, the wait for the PIN, or what went wrong.
    POST: pay with the scanned code."""
    order = _order(code)
    status = orders.order_status(order)
    order = _order(code)
    if order.state == Order.State.PAID:
        return redirect("box_office:receipt", code=order.code)
    if request.method == "GET":
        return render(
            request, "box_office/pay.html", _pay_context(order, status, form=PaymentCodeForm())
        )
    form = PaymentCodeForm(request.POST)
    if not form.is_valid():
        context = _pay_context(order, status, form=form)
        return render(request, "box_office/pay.html", context, status=400)
    try:
        payment = orders.start_counter_payment(
            order,
            form.cleaned_data["buyer_code"],
            store_id=store_id(),
            terminal_id=terminal_id(request.user),
            actor=actor(request),
        )
    except InvalidBuyerCode as error:
        form.add_error("buyer_code", str(error.message))
        context = _pay_context(order, status, form=form)
        return render(request, "box_office/pay.html", context, status=400)
    except (TicketingError, PaymentError) as error:
        order = _order(code)
        context = _pay_context(
            order, orders.order_status(order), form=PaymentCodeForm(), error=str(error.message)
        )
        return render(request, "box_office/pay.html", context, status=error.http_status)
    logger.info(
        "box office %s: order %s payment %s",
        request.user.pk,
        order.code,
        payment.state if payment is not None else "free",
    )
    order = _order(code)
    if order.state == Order.State.PAID:
        return redirect("box_office:receipt", code=order.code)
    return redirect("box_office:pay", code=order.code)


@box_office_staff
@require_GET
def status(request: HttpRequest, code: str) -> HttpResponse:
    """The JSON the pay page polls while the buyer confirms (shop.js reads the same keys)."""
    order = _order(code)
    current = orders.order_status(order)
    target = (
        reverse("box_office:receipt", args=[order.code])
        if current.paid
        else reverse("box_office:pay", args=[order.code])
    )
    return JsonResponse(
        {
            "state": str(current.state),
            "payment_state": current.payment_state or "",
            "paid": current.paid,
            "waiting": orders.payment_undecided(current.payment_state),
            "seconds_left": max(int(current.seconds_left or 0), 0),
            "can_retry_payment": current.can_retry_payment,
            "message": _("Paid.") if current.paid else "",
            "next": target,
        }
    )


@box_office_staff
@require_POST
def cancel_sale(request: HttpRequest, code: str) -> HttpResponse:
    """Give the places back; a payment still waiting for the buyer's PIN is cancelled first."""
    try:
        order = orders.cancel_counter_sale(_order(code), actor=actor(request))
    except TicketingError as error:
        return _bad(request, str(error.message), status=error.http_status)
    return render(request, "box_office/cancelled.html", {"order": order})


# --- After the sale -----------------------------------------------------------------------------


@box_office_staff
@require_GET
def receipt(request: HttpRequest, code: str) -> HttpResponse:
    order = _order(code)
    if order.state != Order.State.PAID:
        return redirect("box_office:order", code=order.code)
    tz = order.attraction.tz
    return render(
        request,
        "box_office/receipt.html",
        {
            **_summary(order),
            "payment": order.payment,
            "paid_text": local_time.format_datetime(order.paid_at, tz) if order.paid_at else "",
        },
    )


@box_office_staff
@require_GET
def tickets_pdf(request: HttpRequest, code: str) -> HttpResponse:
    order = _order(code)
    if order.state != Order.State.PAID:
        return _bad(request, _("Tickets are printed only for a paid order."), status=409)
    response = HttpResponse(order_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="entrada-{order.code}.pdf"'
    return response


@box_office_staff
@require_GET
def find(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("code", "").strip().upper()
    if not raw:
        return render(request, "box_office/find.html", {})
    if not 4 <= len(raw) <= 12 or not Order.objects.filter(code=raw).exists():
        return render(
            request,
            "box_office/find.html",
            {"code": raw[:12], "error": _("No order has this code.")},
            status=404,
        )
    return redirect("box_office:order", code=raw)


class RefundForm(forms.Form):
    supervisor = forms.CharField(label=gettext_lazy("Supervisor's username"), max_length=150)
    password = forms.CharField(
        label=gettext_lazy("Supervisor's password"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200, required=False)


def _order_page(request, order, form, status=200, **extra) -> HttpResponse:
    context = {
        **_summary(order),
        "form": form,
        "refundable": orders.can_refund_at_counter(order),
        **extra,
    }
    return render(request, "box_office/order.html", context, status=status)


@box_office_staff
@require_http_methods(["GET", "POST"])
def order_detail(request: HttpRequest, code: str) -> HttpResponse:
    """An order found by its code; a paid one can be refunded with a supervisor's approval."""
    orders.end_hold_if_overdue(_order(code))
    order = _order(code)
    if request.method == "GET":
        return _order_page(request, order, RefundForm())
    form = RefundForm(request.POST)
    if not form.is_valid():
        return _order_page(request, order, form, status=400)
    try:
        # Before the supervisor's password: a refusal here costs no approval attempt.
        orders.check_refundable_at_counter(order)
    except TicketingError as error:
        return _order_page(
            request, order, RefundForm(), status=error.http_status, error=str(error.message)
        )
    username = form.cleaned_data["supervisor"]
    throttle = sign_in_throttle(client_address(request), username)
    wait = throttle.retry_after()
    if wait:
        minutes = minutes_to_wait(wait)
        message = ngettext(
            "Too many unsuccessful approvals. Please wait %(minutes)d minute and try again.",
            "Too many unsuccessful approvals. Please wait %(minutes)d minutes and try again.",
            minutes,
        ) % {"minutes": minutes}
        response = _order_page(request, order, RefundForm(), status=429, error=message)
        response["Retry-After"] = str(wait)
        return response
    supervisor = authenticate(request, username=username, password=form.cleaned_data["password"])
    if supervisor is None or not in_group(supervisor, SUPERVISORS_GROUP):
        throttle.record_failure()
        logger.warning(
            "box office %s: refund of %s refused (supervisor %r)",
            request.user.pk,
            order.code,
            username,
        )
        return _order_page(
            request,
            order,
            RefundForm(initial={"reason": form.cleaned_data["reason"]}),
            status=403,
            error=_("A box office supervisor's username and password are needed to refund."),
        )
    if not may_approve(supervisor, request):
        return _order_page(
            request,
            order,
            RefundForm(initial={"reason": form.cleaned_data["reason"]}),
            status=403,
            error=_("You cannot approve your own refund: ask another supervisor."),
        )
    try:
        orders.refund_counter_sale(
            order,
            actor=actor(request),
            supervisor=supervisor.get_username(),
            reason=form.cleaned_data["reason"],
        )
    except TicketingError as error:
        return _order_page(
            request, _order(code), RefundForm(), status=error.http_status, error=str(error.message)
        )
    return _order_page(
        request,
        _order(code),
        RefundForm(),
        done=_("The order is cancelled and its payment is being refunded."),
    )
