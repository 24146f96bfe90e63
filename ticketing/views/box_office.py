"""The box office: sell at the counter with the buyer's Alipay payment code, print, cancel, refund.

Web POS pages for a desktop with a barcode scanner (cashier POS) or a phone or tablet (mPOS). A
sale books a counter order (ticketing.orders.create_order, channel box_office), then the cashier
scans the payment code the buyer shows in Alipay (orders.start_counter_payment, barcode flow).
While the buyer confirms with a PIN the pay page polls a small JSON status. A paid order may be
refunded and cancelled here only with a supervisor's username and password typed on the spot.

Only members of "Box office" (and superusers) may use these pages; refunds need a member of "Box
office supervisors". Both groups are created by migration 0006_box_office_groups.

Selling needs an open shift on a till (ticketing.views.counter opens and closes them): every sale,
cash or Alipay, and every refund belongs to the cashier's open shift (ticketing.counter).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from payments import clock
from payments.exceptions import InvalidBuyerCode, PaymentError
from ticketing import local_time, orders
from ticketing.counter import sales, shifts
from ticketing.counter.reports import box_office_time_zone
from ticketing.etickets.faces import order_pdf
from ticketing.exceptions import NoOpenShift, TicketingError
from ticketing.forms import PaymentCodeForm
from ticketing.models import Attraction, CounterRefund, Order, TimeSlot

from .approval import SUPERVISORS_GROUP, supervisor_approval  # noqa: F401 (named here too)
from .staff import StaffLoginView, staff_only

logger = logging.getLogger(__name__)

BOX_OFFICE_GROUP = "Box office"  # created by migration 0006_box_office_groups

login = StaffLoginView.as_view(
    next_page=reverse_lazy("box_office:sell"), title=gettext_lazy("Box office sign-in")
)
# Signed in (else the box office sign-in), in "Box office" (else 403), never cached.
box_office_staff = staff_only(BOX_OFFICE_GROUP, login_url=reverse_lazy("box_office:login"))


def store_id() -> str:
    return str(getattr(settings, "BOX_OFFICE_STORE_ID", "BOX-OFFICE"))[:32]


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


def _no_shift(request: HttpRequest) -> HttpResponse:
    messages.info(request, str(NoOpenShift.default_message))
    return redirect("box_office:shift_open")


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
    now = clock.now()
    tz = attraction.tz
    slots = [
        {
            "slot": slot,
            "text": local_time.format_time_range(slot.starts_at, slot.ends_at, tz),
            "running": slot.starts_at <= now,
        }
        for slot in orders.bookable_slots(attraction, day, Order.Channel.BOX_OFFICE)
    ]
    chosen_quantities = extra.pop("quantities", {})
    chosen_slot = extra.pop("chosen_slot", None)
    if chosen_slot is None:
        # The next slot a visitor at the counter can still enter: the running one, or the next.
        chosen_slot = next((i["slot"].pk for i in slots if i["slot"].places_left), None)
    return {
        "shift": extra.pop("shift", None),
        "attractions": [
            (a, a.display_name(language)) for a in Attraction.objects.filter(active=True)
        ],
        "attraction": attraction,
        "attraction_name": attraction.display_name(language),
        "day": day,
        "slots": slots,
        "chosen_slot": chosen_slot,
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
    shift = shifts.current_shift(request.user)
    if shift is None:
        return _no_shift(request)
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
            request,
            "box_office/sell.html",
            _sell_context(request, attraction, day, form, shift=shift),
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
            order = sales.book(
                shift,
                attraction=attraction,
                slot=slot,
                quantities=quantities,
                buyer_name=form.cleaned_data["buyer_name"],
                email=form.cleaned_data["email"],
                language=form.cleaned_data["language"],
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
        shift=shift,
        errors=list(dict.fromkeys(errors)),
        quantities=quantities,
        chosen_slot=slot.pk if slot is not None else None,
    )
    return render(request, "box_office/sell.html", context, status=http_status)


# --- Pay ----------------------------------------------------------------------------------------


class CashForm(forms.Form):
    tendered = forms.CharField(
        label=gettext_lazy("Cash handed over"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


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
        "cash_form": extra.pop("cash_form", None) or CashForm(),
        "minor_units": 0 if order.currency in ("JPY", "KRW") else 2,
        **extra,
    }


def _pay_problem(request, code: str, error, **forms_) -> HttpResponse:
    order = _order(code)
    context = _pay_context(
        order,
        orders.order_status(order),
        form=forms_.get("form") or PaymentCodeForm(),
        error=str(error.message),
        cash_form=forms_.get("cash_form"),
    )
    return render(request, "box_office/pay.html", context, status=error.http_status)


@box_office_staff
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the total, the scan field and the cash form, the wait for the PIN, or what went wrong.
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
    shift = shifts.current_shift(request.user)
    if shift is None:
        return _no_shift(request)
    form = PaymentCodeForm(request.POST)
    if not form.is_valid():
        context = _pay_context(order, status, form=form)
        return render(request, "box_office/pay.html", context, status=400)
    try:
        payment = sales.start_alipay(
            order,
            shift,
            form.cleaned_data["buyer_code"],
            store_id=store_id(),
            actor=actor(request),
        )
    except InvalidBuyerCode as error:
        form.add_error("buyer_code", str(error.message))
        context = _pay_context(order, status, form=form)
        return render(request, "box_office/pay.html", context, status=400)
    except (TicketingError, PaymentError) as error:
        return _pay_problem(request, code, error)
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
@require_POST
def pay_cash(request: HttpRequest, code: str) -> HttpResponse:
    """Take cash for a held sale of this shift: paid at once, the change on the receipt."""
    order = _order(code)
    shift = shifts.current_shift(request.user)
    if shift is None:
        return _no_shift(request)
    cash_form = CashForm(request.POST)
    if not cash_form.is_valid():
        return _pay_problem(
            request, code, TicketingError(_("Enter the cash handed over.")), cash_form=cash_form
        )
    try:
        sales.pay_cash(order, shift, cash_form.cleaned_data["tendered"], actor=actor(request))
    except TicketingError as error:
        return _pay_problem(request, code, error, cash_form=cash_form)
    logger.info("box office %s: order %s paid in cash", request.user.pk, order.code)
    return redirect("box_office:receipt", code=order.code)


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
@require_http_methods(["GET", "POST"])
def cancel_sale(request: HttpRequest, code: str) -> HttpResponse:
    """GET: are you sure? POST: give the places back; a payment still waiting for the buyer's
    PIN is cancelled first. Then the cancel receipt (post/redirect/get)."""
    order = _order(code)
    if request.method == "GET":
        if order.state not in Order.HOLDING_STATES:
            return redirect("box_office:order", code=order.code)
        return render(request, "box_office/cancel_confirm.html", _summary(order))
    shift = shifts.current_shift(request.user)
    if shift is None:
        return _no_shift(request)
    try:
        sales.cancel(order, shift, actor=actor(request))
    except TicketingError as error:
        return _bad(request, str(error.message), status=error.http_status)
    return redirect("box_office:cancelled", code=order.code)


@box_office_staff
@require_GET
def cancelled(request: HttpRequest, code: str) -> HttpResponse:
    order = _order(code)
    if order.state != Order.State.CANCELLED:
        return redirect("box_office:order", code=order.code)
    return render(request, "box_office/cancelled.html", _summary(order))


# --- After the sale -----------------------------------------------------------------------------


@box_office_staff
@require_GET
def receipt(request: HttpRequest, code: str) -> HttpResponse:
    order = _order(code)
    if order.state != Order.State.PAID:
        return redirect("box_office:order", code=order.code)
    cash = order.till_movements.filter(kind="sale").first()
    tz = box_office_time_zone()
    return render(
        request,
        "box_office/receipt.html",
        {
            **_summary(order),
            "payment": order.payment if cash is None else None,
            "cash": cash,
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
    counter_refund = CounterRefund.objects.filter(order=order).first()
    context = {
        **_summary(order),
        "form": form,
        "refundable": orders.can_refund_at_counter(order),
        "in_cash": sales.paid_in_cash(order),
        "counter_refund": counter_refund,
        "shift": shifts.current_shift(request.user),
        **extra,
    }
    return render(request, "box_office/order.html", context, status=status)


@box_office_staff
@require_http_methods(["GET", "POST"])
def order_detail(request: HttpRequest, code: str) -> HttpResponse:
    """An order found by its code; a paid one can be refunded with a supervisor's approval, in
    cash from the drawer for a cash sale, else to Alipay. After a refund: redirect (PRG)."""
    orders.end_hold_if_overdue(_order(code))
    order = _order(code)
    if request.method == "GET":
        return _order_page(request, order, RefundForm())
    shift = shifts.current_shift(request.user)
    if shift is None:
        return _no_shift(request)
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
    approval = supervisor_approval(
        request,
        form.cleaned_data["supervisor"],
        form.cleaned_data["password"],
        what=f"refund of {order.code}",
        refused=_("A box office supervisor's username and password are needed to refund."),
    )
    if approval.supervisor is None:
        response = _order_page(
            request,
            order,
            RefundForm(initial={"reason": form.cleaned_data["reason"]}),
            status=approval.status,
            error=approval.error,
        )
        if approval.retry_after:
            response["Retry-After"] = str(approval.retry_after)
        return response
    try:
        counter_refund = sales.refund(
            order,
            shift,
            actor=actor(request),
            supervisor=approval.supervisor,
            reason=form.cleaned_data["reason"],
        )
    except TicketingError as error:
        return _order_page(
            request, _order(code), RefundForm(), status=error.http_status, error=str(error.message)
        )
    if counter_refund.method == "cash":
        done = _("The order is cancelled: pay the refund out of the drawer.")
    else:
        done = _("The order is cancelled and its payment is being refunded.")
    messages.success(request, done)
    return redirect("box_office:order", code=order.code)
