"""Async notifications from the sandbox to the merchant's notify_url, as Alipay sends them.

A state change writes a SandboxNotification in the same transaction and, on commit, kicks
`deliver_due_notifications` through django-q2; a Schedule runs it every minute as the safety net
(it also applies buyer actions the clock made due, so a PIN confirmed in 10 s is announced even if
nobody queries). Delivery is retried with Alipay's back-off until the merchant answers exactly
`success`, 8 tries at most (docs/alipay.md "Async notifications").
"""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
from django.db.models import F
from django_q.models import Schedule

from payments import clock
from payments.alipay import transport

from .models import SandboxNotification
from .outbox import CLOSED, PAID, REFUNDED, REVERSED, TASK, queue_trade_notification, was_issued
from .trades import refresh_due_trades

# Recording lives in .outbox; the names stay importable from here for existing callers.
__all__ = [
    "CLOSED",
    "PAID",
    "REFUNDED",
    "REVERSED",
    "TASK",
    "deliver",
    "deliver_due_notifications",
    "ensure_schedule",
    "queue_trade_notification",
    "was_issued",
]

logger = logging.getLogger(__name__)

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
SCHEDULE_NAME = "sandbox: deliver due notifications"


def deliver_due_notifications(limit: int = 100) -> int:
    """Deliver every notification whose next try is due; returns how many were delivered now."""
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
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": TASK, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
    )
