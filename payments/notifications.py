"""Alipay's async notifications at /payments/alipay/notify/: a hint, checked before it counts.

The view verifies the signature (payments.alipay.notifications), finds our payment by
out_trade_no, refuses a notification whose trade id, amount or currency differ from our record,
and then lets the lifecycle confirm the claimed state by a query (lifecycle.refresh_from_gateway),
the same path the poller takes. So a repeated, late or out-of-order notification changes nothing
that a query would not, and a forged one changes nothing at all. The body `success` tells Alipay
to stop resending; anything we refuse gets a 4xx and `fail`, never a 500.

A notification is a form of a few hundred bytes: a body over MAX_NOTIFICATION_BYTES is refused
unread (413), much below Django's general upload limit.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import alipay_client, clock, lifecycle
from payments.alipay.exceptions import InvalidNotification
from payments.alipay.notifications import ACKNOWLEDGEMENT, Notification
from payments.exceptions import GatewayUnavailable
from payments.models import GatewayExchange, Payment

logger = logging.getLogger(__name__)

NOTIFY_SERVICE = "notify"
MAX_NOTIFICATION_BYTES = 64 * 1024
# Claims worth confirming: the trade was paid, or it closed without payment.
CONFIRMABLE = frozenset(lifecycle.PAID_STATUSES) | {"TRADE_CLOSED"}


def _answer(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def _matches(payment: Payment, note: Notification) -> bool:
    if note.currency and note.currency != payment.currency:
        return False
    amount = note.amount("trans_amount", "total_fee")
    if amount:
        try:
            if Decimal(amount) != payment.amount:
                return False
        except InvalidOperation:
            return False
    return not (
        payment.alipay_trans_id and note.trade_no and note.trade_no != payment.alipay_trans_id
    )


def handle_notification(note: Notification) -> str:
    """Apply a verified notification; returns what happened, for the log."""
    payment = Payment.objects.filter(partner_trans_id=note.out_trade_no).first()
    if payment is None:
        return "unknown"
    if not _matches(payment, note):
        return "mismatch"
    GatewayExchange.objects.create(
        payment=payment,
        service=NOTIFY_SERVICE,
        request_params=note.fields,
        signature="valid",
        outcome="received",
        code=note.trade_status[:64],
        message=note.notify_action_type[:500],
        believed=False,
        created_at=clock.now(),
    )
    if payment.state == Payment.State.PENDING and note.trade_status in CONFIRMABLE:
        lifecycle.refresh_from_gateway(payment, generation=None, actor="system:notify")
        return "confirmed by query"
    return "nothing to do"


@csrf_exempt
@require_POST
def alipay_notify(request: HttpRequest) -> HttpResponse:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = -1
    if not 0 <= declared <= MAX_NOTIFICATION_BYTES:
        logger.warning("notification refused unread: %s bytes declared", declared)
        return _answer("fail", 413)
    try:
        form = request.POST
    except (RequestDataTooBig, TooManyFieldsSent):
        return _answer("fail", 413)
    try:
        note = alipay_client.client().parse_notification(form)
    except InvalidNotification as exc:
        logger.warning("notification refused: %s", exc.message)
        return _answer("fail", 400)
    except GatewayUnavailable:
        logger.error("notification received while the Alipay configuration is unusable")
        return _answer("fail", 503)
    try:
        outcome = handle_notification(note)
    except Exception:  # Alipay resends; a 500 would only hide the cause
        logger.exception("notification %s for %s not handled", note.notify_id, note.out_trade_no)
        return _answer("fail", 503)
    logger.info("notification %s for %s: %s", note.notify_id, note.out_trade_no, outcome)
    if outcome == "unknown":
        return _answer("fail", 404)
    if outcome == "mismatch":
        return _answer("fail", 400)
    return _answer(ACKNOWLEDGEMENT)
