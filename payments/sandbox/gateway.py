"""/sandbox/gateway.do: Alipay's gateway endpoint, server to server (no CSRF, no session).

Checks in Alipay's order: the charset, the service (ILLEGAL_EXTERFACE), the partner
(ILLEGAL_PARTNER), the sign type and signature (ILLEGAL_SIGN_TYPE, ILLEGAL_SIGN), then the
service's parameters. Any refusal is the unsigned is_success=F shape; an unexpected error too
(SYSTEM_ERROR), never a 500 page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from payments.alipay.signing import SIGN_TYPES, KeyConfigError, Signer, Verifier

from . import outbox, params, paying, replies, reversing
from .answers import Answer
from .models import SandboxMerchant
from .params import Rejected

logger = logging.getLogger(__name__)


def notify_verify(merchant: SandboxMerchant, p: dict[str, str], request: HttpRequest) -> Answer:
    notify_id = params.require(p, "notify_id", 128)
    issued = outbox.was_issued(merchant.partner_id, notify_id)
    return Answer({}, plain_text="true" if issued else "false")


SERVICES: dict[str, Callable[[SandboxMerchant, dict[str, str], HttpRequest], Answer]] = {
    "alipay.acquire.overseas.spot.pay": paying.pay,
    "alipay.acquire.precreate": paying.precreate,
    "alipay.acquire.overseas.query": paying.query,
    "alipay.acquire.cancel": reversing.cancel,
    "alipay.acquire.overseas.spot.refund": reversing.refund,
    "alipay.acquire.refund.query": reversing.refund_query,
    "notify_verify": notify_verify,
}


def authenticate(p: dict[str, str]) -> SandboxMerchant:
    """The merchant a request comes from, once its signature verifies with that merchant's key."""
    merchant = SandboxMerchant.objects.filter(partner_id=p.get("partner", "")).first()
    if merchant is None:
        raise Rejected("ILLEGAL_PARTNER", "unknown partner")
    sign_type, signature = p.get("sign_type", ""), p.get("sign", "")
    if sign_type not in SIGN_TYPES:
        raise Rejected("ILLEGAL_SIGN_TYPE", f"sign_type {sign_type!r}")
    try:
        verifier = Verifier(
            sign_type=sign_type,
            md5_key=merchant.md5_key,
            public_key_pem=merchant.merchant_public_key_pem,
        )
    except KeyConfigError as exc:
        raise Rejected("ILLEGAL_SIGN_TYPE", "no key for this sign type") from exc
    if not verifier.verify(p, signature):
        raise Rejected("ILLEGAL_SIGN", "the signature does not verify")
    return merchant


def answer_signer(merchant: SandboxMerchant, sign_type: str) -> Signer:
    """The reply is signed in the request's sign type: refused before any business without a key."""
    try:
        return replies.reply_signer(merchant, sign_type)
    except KeyConfigError as exc:
        raise Rejected("ILLEGAL_SIGN_TYPE", "no sandbox key to answer in this sign type") from exc


@csrf_exempt
@require_http_methods(["GET", "POST"])
def gateway(request: HttpRequest) -> HttpResponse:
    response = _answer(request)
    latency = float(settings.SANDBOX_REPLY_LATENCY_MS)
    if latency > 0:
        # Alipay's gateway is a cross-border round trip away (about 200 ms): with it, a poller's
        # capacity is bound by its threads, not its CPU (bench/polling.py --gateway-latency).
        time.sleep(latency / 1000)
    return response


def _answer(request: HttpRequest) -> HttpResponse:
    charset = replies.DEFAULT_CHARSET
    try:
        charset, p = params.read_params(request)
        handler = SERVICES.get(p.get("service", ""))
        if handler is None:
            raise Rejected("ILLEGAL_EXTERFACE", "unknown service")
        merchant = authenticate(p)
        signer = answer_signer(merchant, p["sign_type"])
        answer = handler(merchant, p, request)
    except Rejected as refusal:
        logger.info("sandbox refused %s: %s %s", p_service(request), refusal.error, refusal.message)
        return replies.rejected(refusal.error, charset)
    except Exception:
        logger.exception("sandbox gateway failed on %s", p_service(request))
        return replies.rejected("SYSTEM_ERROR", charset)
    if answer.plain_text is not None:
        return HttpResponse(answer.plain_text, content_type="text/plain; charset=utf-8")
    response = replies.accepted(
        signer, p, answer.fields, charset=charset, break_signature=answer.break_signature
    )
    if answer.hold:
        # Network behaviour, not business time: the work is committed, the reply is just late,
        # so the client times out for real (README, buyer codes ...07 and ...11).
        time.sleep(float(settings.SANDBOX_SLOW_REPLY_SECONDS))
    return response


def p_service(request: HttpRequest) -> str:
    """The service name for a log line, read defensively (the request may be malformed)."""
    try:
        return (request.POST.get("service") or request.GET.get("service") or "?")[:64]
    except Exception:
        return "?"
