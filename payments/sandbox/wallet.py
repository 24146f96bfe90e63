"""The wallet: pages that play the buyer's phone (payment code, PIN confirmations, QR payments).

Thin views: the state changes are payments.sandbox.trades' buyer_confirms / buyer_declines.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from .barcode import barcode_svg_data_uri, new_buyer_code
from .models import SandboxTrade
from .returning import return_url_allowed
from .trades import buyer_confirms, buyer_declines, refresh, refresh_due_trades

ACTIONS = {"confirm", "decline"}


@require_http_methods(["GET"])
def wallet(request: HttpRequest) -> HttpResponse:
    """A fresh payment code on every visit, and the demo merchant's trades awaiting the buyer."""
    refresh_due_trades()
    code = new_buyer_code()
    waiting = (
        SandboxTrade.objects.filter(merchant__is_demo=True, state=SandboxTrade.State.WAIT_BUYER_PAY)
        .select_related("merchant")
        .order_by("-created_at")[:50]
    )
    return render(
        request,
        "sandbox/wallet.html",
        {"code": code, "barcode": barcode_svg_data_uri(code), "waiting": waiting},
    )


@require_POST
def buyer_action(request: HttpRequest, trade_id: int) -> HttpResponse:
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return HttpResponseBadRequest(_("Choose Confirm or Decline."))
    trade = get_object_or_404(SandboxTrade, pk=trade_id, merchant__is_demo=True)
    done = buyer_confirms(trade) if action == "confirm" else buyer_declines(trade)
    if done and action == "confirm":
        messages.success(request, _("Payment %(id)s confirmed.") % {"id": trade.partner_trans_id})
    elif done:
        messages.info(request, _("Payment %(id)s declined.") % {"id": trade.partner_trans_id})
    else:
        messages.warning(request, _("This payment is no longer waiting for you."))
    return redirect("sandbox:wallet")


@require_http_methods(["GET", "POST"])
def qr_pay(request: HttpRequest, token: str) -> HttpResponse:
    """What opens when the buyer scans a precreate QR: Pay or Decline.

    With `return_url` (an order page of the shop, see returning.py) the buyer is sent back there
    once they have paid or declined, as Alipay's app returns to the merchant.
    """
    trade = get_object_or_404(SandboxTrade.objects.select_related("merchant"), qr_token=token)
    source = request.POST if request.method == "POST" else request.GET
    return_url = source.get("return_url", "")
    if return_url and not return_url_allowed(return_url, request):
        return HttpResponseBadRequest(
            _(
                "This return address is not allowed: the wallet returns only to the shop's "
                "order pages."
            ),
            content_type="text/plain; charset=utf-8",
        )
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in {"pay", "decline"}:
            return HttpResponseBadRequest(_("Choose Pay or Decline."))
        done = buyer_confirms(trade, new_buyer_code()) if action == "pay" else buyer_declines(trade)
        if not done:
            messages.warning(request, _("This payment is no longer waiting for you."))
        if return_url:
            return redirect(return_url)
        return redirect("sandbox:qr", token=token)
    refresh(trade)
    return render(request, "sandbox/qr.html", {"trade": trade, "return_url": return_url})
