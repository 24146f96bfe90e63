"""Finding an order again by its code and e-mail address, limited against guessing (`throttle`)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from ticketing import orders
from ticketing.forms import LookupForm

from . import access
from .throttle import client_address, lookup_throttle, minutes_to_wait


def _limited(request: HttpRequest, form: LookupForm, seconds: int) -> HttpResponse:
    minutes = minutes_to_wait(seconds)
    message = ngettext(
        "Too many unsuccessful look-ups. For your security, please wait %(minutes)d minute "
        "and try again.",
        "Too many unsuccessful look-ups. For your security, please wait %(minutes)d minutes "
        "and try again.",
        minutes,
    ) % {"minutes": minutes}
    response = render(request, "shop/lookup.html", {"form": form, "limited": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response


@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "shop/lookup.html", {"form": LookupForm()})
    form = LookupForm(request.POST)
    if not form.is_valid():
        return render(request, "shop/lookup.html", {"form": form}, status=400)
    throttle = lookup_throttle(client_address(request), form.cleaned_data["code"])
    wait = throttle.retry_after()
    if wait:
        return _limited(request, form, wait)
    order = orders.find_order(form.cleaned_data["code"], email=form.cleaned_data["email"])
    if order is None:
        throttle.record_failure()
        form.add_error(
            None,
            _(
                "We found no order with this code and e-mail address. Please check both: the "
                "code is in your confirmation e-mail."
            ),
        )
        return render(request, "shop/lookup.html", {"form": form}, status=404)
    access.allow(request, order.code)
    return redirect("shop:confirmation", code=order.code)
