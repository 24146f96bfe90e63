"""The sandbox's outbox of async notifications: what a trade's state change has to announce.

A state change records its SandboxNotification here, inside its own transaction, and on commit
queues the delivery task; payments.sandbox.notify delivers them. Kept apart from delivery so the
trade transitions (which record) and the delivery sweep (which applies due trade changes first)
do not need each other.
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django_q.tasks import async_task

from payments import clock

from .beijing import stamp
from .buyers import buyer_user_id
from .models import SandboxNotification, SandboxRefund, SandboxTrade
from .replies import reply_signer

PAID = "payByAccountAction"
CLOSED = "closeTradeAction"
REVERSED = "reverseAction"
REFUNDED = "refundFPAction"
TASK = "payments.sandbox.notify.deliver_due_notifications"


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
    return buyer_user_id(trade) if trade.paid_at else ""


def _signed(trade: SandboxTrade, payload: dict[str, str]) -> dict[str, str]:
    merchant = trade.merchant
    signature = reply_signer(merchant).sign(payload)
    return {**payload, "sign": signature, "sign_type": merchant.sign_type}


def _kick() -> None:
    async_task(TASK)


def was_issued(partner_id: str, notify_id: str) -> bool:
    """notify_verify: did the sandbox send this notify_id to this partner?"""
    return SandboxNotification.objects.filter(
        notify_id=notify_id, trade__merchant__partner_id=partner_id
    ).exists()
