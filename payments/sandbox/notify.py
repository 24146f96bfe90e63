"""Async notifications from the sandbox to the merchant's notify_url, as Alipay sends them.

A state change writes a SandboxNotification in the same transaction and, on commit, kicks
`deliver_due_notifications` through django-q2; a Schedule runs it every minute as the safety net
(it also applies buyer actions the clock made due, so a PIN confirmed in 10 s is announced even if
nobody queries). Delivery is retried with Alipay's back-off until the merchant answers exactly
`success`, 8 tries at most (ALIPAY.md "Async notifications").
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import requests
from django.db import transaction
from django.db.models import F

from payments import clock
from payments.alipay import transport

from .beijing import stamp
from .models import SandboxNotification, SandboxRefund, SandboxTrade
from .replies import reply_signer

logger = logging.getLogger(__name__)

PAID = "payByAccountAction"
CLOSED = "closeTradeAction"
REVERSED = "reverseAction"
REFUNDED = "refundFPAction"
MAX_ATTEMPTS = 8
# Wait after the n-th failed try (1-based): Alipay spreads its 8 tries over about 25 hours.
BACKOFF = (
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=15),
)
# A delivery claimed by a runner is not handed to another one before this.
CLAIM_LEASE = timedelta(minutes=1)
TIMEOUT = (3.0, 10.0)
# The merchant's whole answer must come within this, and only its first bytes are read: the
# expected body is the word `success`.
DEADLINE = 15.0
MAX_ANSWER_BYTES = 1024
TASK = "payments.sandbox.notify.deliver_due_notifications"
SCHEDULE_NAME = "sandbox: deliver due notifications"


def queue_trade_notification(
    trade: SandboxTrade, action: str, refund: SandboxRefund | None = None, url: str = ""
) -> SandboxNotification | None:
    """Record the notification for a state change (call inside its transaction)."""
    url = url or trade.notify_url
    if not url:
        return None
    now = clock.now()
    notify_id = secrets.token_hex(16)
    payload = {
        "notify_time": stamp(now),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "notify_action_type": action,
        "partner": trade.merchant.partner_id,
        "out_trade_no": trade.partner_trans_id,
        "trade_no": trade.alipay_trans_id,
        "trade_status": trade.state,
        "currency": trade.currency,
        "total_fee": f"{trade.amount:f}" if trade.amount is not None else "",
        "buyer_id": _buyer_id(trade),
        "gmt_create": stamp(trade.created_at),
        "gmt_payment": stamp(trade.paid_at),
        "gmt_close": stamp(trade.closed_at),
    }
    if refund is not None:
        payload.update(
            partner_refund_id=refund.partner_refund_id,
            refund_amount=f"{refund.amount:f}",
            refund_currency=refund.currency,
        )
    elif action == REVERSED:
        payload["refund_amount"] = f"{trade.amount:f}"
    payload = _signed(trade, {k: v for k, v in payload.items() if v})
    notification = SandboxNotification.objects.create(
        trade=trade,
        notify_id=notify_id,
        url=url,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(_kick)
    return notification


def _buyer_id(trade: SandboxTrade) -> str:
    from .trades import buyer_user_id

    return buyer_user_id(trade) if trade.paid_at else ""


def _signed(trade: SandboxTrade, payload: dict[str, str]) -> dict[str, str]:
    merchant = trade.merchant
    signature = reply_signer(merchant).sign(payload)
    return {**payload, "sign": signature, "sign_type": merchant.sign_type}


def _kick() -> None:
    from django_q.tasks import async_task

    async_task(TASK)


def deliver_due_notifications(limit: int = 100) -> int:
    """Deliver every notification whose next try is due; returns how many were delivered now."""
    from .trades import refresh_due_trades

    refresh_due_trades()
    now = clock.now()
    due = SandboxNotification.objects.filter(
        delivered_at__isnull=True, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    delivered = 0
    for notification in list(due[:limit]):
        if deliver(notification):
            delivered += 1
    return delivered


def deliver(notification: SandboxNotification) -> bool:
    """One try, claimed by compare-and-set so two runners never post the same try twice."""
    claimed = SandboxNotification.objects.filter(
        pk=notification.pk, attempts=notification.attempts, delivered_at__isnull=True
    ).update(attempts=F("attempts") + 1, next_attempt_at=clock.now() + CLAIM_LEASE)
    if not claimed:
        return False
    attempt = notification.attempts + 1
    try:
        # Bounded and never redirected: a redirect is an answer other than `success`.
        with transport.bounded_session() as session:
            response = transport.post(
                session,
                notification.url,
                data=notification.payload,
                connect_timeout=TIMEOUT[0],
                read_timeout=TIMEOUT[1],
                deadline=DEADLINE,
                max_bytes=MAX_ANSWER_BYTES,
            )
        body = response.content.decode("utf-8", "replace")[:200]
        ok = response.status == 200 and response.complete and body.strip() == "success"
        answer = f"{response.status} {body}"
    except requests.RequestException as exc:
        ok, answer = False, f"{type(exc).__name__}"
    now = clock.now()
    if ok:
        changes = {"delivered_at": now, "next_attempt_at": None}
    elif attempt >= MAX_ATTEMPTS:
        changes = {"next_attempt_at": None}
    else:
        changes = {"next_attempt_at": now + BACKOFF[attempt - 1]}
    SandboxNotification.objects.filter(pk=notification.pk).update(last_response=answer, **changes)
    logger.info(
        "sandbox notify %s try %s for trade %s: %s",
        notification.notify_id,
        attempt,
        notification.trade_id,
        "delivered" if ok else "not accepted",
    )
    return ok


def ensure_schedule() -> None:
    """The every-minute Schedule (also created by migration 0002; load_demo re-asserts it)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": TASK, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
    )


def was_issued(partner_id: str, notify_id: str) -> bool:
    """notify_verify: did the sandbox send this notify_id to this partner?"""
    return SandboxNotification.objects.filter(
        notify_id=notify_id, trade__merchant__partner_id=partner_id
    ).exists()
