"""The box office's shifts, slips and Z reports: open a shift on a till, close it with a counted
drawer, print receipts and Z reports (80 mm print view and PDF), and the supervisors' view.

Services live in ticketing.counter; these views parse, call one, and present. Slips are built
once as rows (ticketing.counter.receipts) and rendered either as the print view or as the PDF.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from payments import clock
from ticketing.counter import receipts, reports, sales, shifts
from ticketing.counter.denominations import denominations
from ticketing.exceptions import TicketingError
from ticketing.models import Attraction, CounterRefund, Order, Shift, Till

from .approval import SUPERVISORS_GROUP, supervisor_approval
from .box_office import _bad, _language, _order, actor, box_office_staff
from .staff import in_group, staff_only

supervisors_only = staff_only(SUPERVISORS_GROUP, login_url=reverse_lazy("box_office:login"))


# --- Opening a shift -----------------------------------------------------------------------------


class OpenShiftForm(forms.Form):
    till = forms.ModelChoiceField(
        label=gettext_lazy("Till"), queryset=Till.objects.none(), empty_label=None
    )
    currency = forms.ChoiceField(label=gettext_lazy("Currency"), choices=())
    opening_float = forms.CharField(
        label=gettext_lazy("Opening float (cash in the drawer)"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        busy = Shift.objects.filter(state=Shift.State.OPEN).values("till_id")
        self.fields["till"].queryset = Till.objects.filter(active=True).exclude(pk__in=busy)
        currencies = sorted(
            set(Attraction.objects.filter(active=True).values_list("currency", flat=True))
        )
        self.fields["currency"].choices = [(c, c) for c in currencies]
        if len(currencies) == 1:
            self.fields["currency"].widget = forms.HiddenInput()
            self.fields["currency"].initial = currencies[0]


@box_office_staff
@require_http_methods(["GET", "POST"])
def shift_open(request: HttpRequest) -> HttpResponse:
    if shifts.current_shift(request.user) is not None:
        return redirect("box_office:sell")
    form = OpenShiftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            shifts.open_shift(
                till=form.cleaned_data["till"],
                cashier=request.user,
                currency=form.cleaned_data["currency"],
                opening_float=form.cleaned_data["opening_float"],
                actor=actor(request),
            )
        except TicketingError as error:
            form.add_error(None, str(error.message))
        else:
            return redirect("box_office:sell")
    status = 400 if request.method == "POST" else 200
    return render(request, "box_office/shift_open.html", {"form": form}, status=status)


# --- Closing it ----------------------------------------------------------------------------------


class CloseShiftForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note (why the drawer differs)"), max_length=500, required=False
    )
    supervisor = forms.CharField(
        label=gettext_lazy("Supervisor's username"), max_length=150, required=False
    )
    password = forms.CharField(
        label=gettext_lazy("Supervisor's password"),
        max_length=256,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )


def _counted(request: HttpRequest, shift: Shift) -> dict:
    table = denominations(shift.currency)
    if not table:
        return {"total": request.POST.get("total", "")}
    return {str(d): request.POST.get(f"d_{d}", "") for d in table}


def _close_context(shift: Shift, form, **extra) -> dict:
    counted = extra.pop("counted", {})
    return {
        "shift": shift,
        "form": form,
        "expected": shifts.expected_cash(shift),
        "threshold": shifts.variance_threshold(),
        "denominations": [
            {"value": d, "key": str(d), "count": counted.get(str(d), "")}
            for d in denominations(shift.currency)
        ],
        "total_count": counted.get("total", ""),
        **extra,
    }


@box_office_staff
@require_http_methods(["GET", "POST"])
def shift_close(request: HttpRequest) -> HttpResponse:
    """Count the drawer by denomination; a variance over the threshold needs a supervisor."""
    shift = shifts.current_shift(request.user)
    if shift is None:
        return redirect("box_office:shift_open")
    if request.method == "GET":
        return render(
            request, "box_office/shift_close.html", _close_context(shift, CloseShiftForm())
        )
    form = CloseShiftForm(request.POST)
    counted = _counted(request, shift)
    if not form.is_valid():
        context = _close_context(shift, form, counted=counted)
        return render(request, "box_office/shift_close.html", context, status=400)
    try:
        count = shifts.count_drawer(shift, counted)
    except TicketingError as error:
        context = _close_context(shift, form, counted=counted, error=str(error.message))
        return render(request, "box_office/shift_close.html", context, status=400)
    supervisor = None
    if count.over_threshold and form.cleaned_data["supervisor"]:
        approval = supervisor_approval(
            request,
            form.cleaned_data["supervisor"],
            form.cleaned_data["password"],
            what=f"close of shift {shift.pk}",
        )
        if approval.supervisor is None:
            context = _close_context(
                shift, form, counted=counted, count=count, error=approval.error
            )
            response = render(
                request, "box_office/shift_close.html", context, status=approval.status
            )
            if approval.retry_after:
                response["Retry-After"] = str(approval.retry_after)
            return response
        supervisor = approval.supervisor
    try:
        shifts.close_shift(
            shift,
            counted=counted,
            actor=actor(request),
            note=form.cleaned_data["note"],
            supervisor=supervisor,
        )
    except TicketingError as error:
        context = _close_context(
            shift, form, counted=counted, count=count, error=str(error.message)
        )
        return render(request, "box_office/shift_close.html", context, status=error.http_status)
    messages.success(request, _("The shift is closed. Print its Z report for the drawer."))
    return redirect("box_office:shift_z", shift_id=shift.pk)


# --- Slips: print view and PDF ------------------------------------------------------------------


def _slip(request, receipt, *, pdf_url: str, back_url: str, filename: str) -> HttpResponse:
    if request.GET.get("format") == "pdf":
        response = HttpResponse(receipts.pdf(receipt), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
        return response
    return render(
        request,
        "box_office/slip.html",
        {"receipt": receipt, "pdf_url": pdf_url, "back_url": back_url},
    )


def _shift(shift_id: int) -> Shift:
    shift = Shift.objects.select_related("till", "cashier").filter(pk=shift_id).first()
    if shift is None:
        raise Http404
    return shift


def _may_see_shift(request: HttpRequest, shift: Shift) -> bool:
    return shift.cashier_id == request.user.pk or in_group(request.user, SUPERVISORS_GROUP)


def _slip_order(code: str) -> Order:
    # _order fetches the lines with their ticket types, the attraction, slot and payment.
    return _order(code)


@box_office_staff
@require_GET
def sale_slip(request: HttpRequest, code: str) -> HttpResponse:
    order = _slip_order(code)
    if order.paid_at is None:
        return _bad(request, _("A sale receipt is printed only for a paid order."), status=409)
    cash = order.till_movements.filter(kind="sale").select_related("shift").first()
    sale = sales.sale_of(order)
    shift = cash.shift if cash else (sale.shift if sale else None)
    receipt = receipts.sale_receipt(order, shift=shift, cash=cash, language=_language())
    url = reverse("box_office:sale_slip", args=[order.code])
    return _slip(
        request,
        receipt,
        pdf_url=f"{url}?format=pdf",
        back_url=reverse("box_office:receipt", args=[order.code]),
        filename=f"receipt-{order.code}",
    )


@box_office_staff
@require_GET
def refund_slip(request: HttpRequest, code: str) -> HttpResponse:
    order = _slip_order(code)
    counter_refund = (
        CounterRefund.objects.select_related("shift__till", "shift__cashier")
        .filter(order=order)
        .first()
    )
    if counter_refund is None:
        return _bad(request, _("This order was not refunded at the box office."), status=404)
    receipt = receipts.refund_receipt(order, counter_refund, language=_language())
    url = reverse("box_office:refund_slip", args=[order.code])
    return _slip(
        request,
        receipt,
        pdf_url=f"{url}?format=pdf",
        back_url=reverse("box_office:order", args=[order.code]),
        filename=f"refund-{order.code}",
    )


@box_office_staff
@require_GET
def cancel_slip(request: HttpRequest, code: str) -> HttpResponse:
    order = _slip_order(code)
    if order.state != Order.State.CANCELLED:
        return _bad(request, _("This sale is not cancelled."), status=409)
    sale = sales.sale_of(order)
    receipt = receipts.cancel_receipt(
        order, shift=sale.shift if sale else None, language=_language()
    )
    url = reverse("box_office:cancel_slip", args=[order.code])
    return _slip(
        request,
        receipt,
        pdf_url=f"{url}?format=pdf",
        back_url=reverse("box_office:sell"),
        filename=f"cancelled-{order.code}",
    )


# --- Z reports -----------------------------------------------------------------------------------


@box_office_staff
@require_GET
def shift_z(request: HttpRequest, shift_id: int) -> HttpResponse:
    """A shift's Z report: its cashier's, or any for a supervisor (re-print)."""
    shift = _shift(shift_id)
    if not _may_see_shift(request, shift):
        return _bad(request, _("Only its cashier or a supervisor may print this report."), 403)
    report = reports.z_report([shift], _language())
    title = _("Z report: shift %(id)s") % {"id": shift.pk}
    receipt = receipts.z_receipt(report, title=title, language=_language())
    url = reverse("box_office:shift_z", args=[shift.pk])
    return _slip(
        request,
        receipt,
        pdf_url=f"{url}?format=pdf",
        back_url=reverse("box_office:sell"),
        filename=f"z-report-shift-{shift.pk}",
    )


@supervisors_only
@require_GET
def day_z(request: HttpRequest, till_id: int, day: str) -> HttpResponse:
    """A till's Z report for a day (all its shifts opened that day, box office time)."""
    till = Till.objects.filter(pk=till_id).first()
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        date = None
    if till is None or date is None:
        raise Http404
    day_shifts = reports.day_shifts(till, date)
    if not day_shifts:
        return _bad(request, _("This till had no shift on that day."), status=404)
    currencies = sorted({shift.currency for shift in day_shifts})
    currency = request.GET.get("currency") or currencies[0]
    chosen = [shift for shift in day_shifts if shift.currency == currency]
    if not chosen:
        raise Http404
    report = reports.z_report(chosen, _language())
    title = _("Z report: %(till)s, %(day)s") % {"till": till.name, "day": date.isoformat()}
    receipt = receipts.z_receipt(report, title=title, language=_language())
    url = reverse("box_office:day_z", args=[till.pk, date.isoformat()])
    query = f"currency={currency}&" if len(currencies) > 1 else ""
    return _slip(
        request,
        receipt,
        pdf_url=f"{url}?{query}format=pdf",
        back_url=reverse("box_office:shifts"),
        filename=f"z-report-{till.pk}-{date.isoformat()}",
    )


@supervisors_only
@require_GET
def shift_list(request: HttpRequest) -> HttpResponse:
    """Open and closed shifts, newest first, with their variances and reports to re-print."""
    try:
        date = dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        date = clock.now().astimezone(reports.box_office_time_zone()).date()
    tz = reports.box_office_time_zone()
    start = dt.datetime.combine(date, dt.time(0), tzinfo=tz)
    rows = list(
        Shift.objects.select_related("till", "cashier")
        .filter(opened_at__gte=start, opened_at__lt=start + dt.timedelta(days=1))
        .order_by("till__name", "opened_at")
    )
    open_elsewhere = list(
        Shift.objects.select_related("till", "cashier")
        .filter(state=Shift.State.OPEN, opened_at__lt=start)
        .order_by("opened_at")
    )
    threshold = shifts.variance_threshold()
    items = [
        {
            "shift": shift,
            "opened": f"{shift.opened_at.astimezone(tz):%Y-%m-%d %H:%M}",
            "closed": f"{shift.closed_at.astimezone(tz):%H:%M}" if shift.closed_at else "",
            "over": shift.variance is not None and abs(shift.variance) > threshold,
        }
        for shift in [*open_elsewhere, *rows]
    ]
    tills = sorted({(shift.till.pk, shift.till.name) for shift in rows}, key=lambda t: t[1])
    return render(
        request,
        "box_office/shifts.html",
        {
            "items": items,
            "date": date,
            "tz": tz.key,
            "tills": tills,
            "threshold": threshold,
        },
    )
