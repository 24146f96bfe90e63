"""Telling staff that a payment or refund needs a person: a mail to ADMINS, after commit.

The admin lists the same payments under the `needs_attention` filter and on its "Needs
attention" page (with refunds and the orders under review); the mail names ids and codes only
(never keys nor buyer codes) and points there. Ticketing sends its own notices about the orders
such a payment holds through `alert_staff` too (with a subject of its own).
"""

from __future__ import annotations

import logging

from django.core.mail import mail_admins
from django.db import transaction

from payments.models import Payment, Refund

logger = logging.getLogger(__name__)


def alert_staff(
    payment: Payment, reason: str, *, refund: Refund | None = None, subject: str = ""
) -> None:
    if not subject:
        subject = f"Payment {payment.partner_trans_id} needs attention"
        if refund is not None:
            subject = f"Refund {refund.partner_refund_id} needs attention"
    body = (
        f"{reason}\n\n"
        f"Payment: {payment.partner_trans_id} ({payment.uuid})\n"
        f"Amount: {payment.amount} {payment.currency}\n"
        f"Reference: {payment.reference or '-'}  Store: {payment.store_id or '-'}\n"
        + (f"Refund: {refund.partner_refund_id} {refund.amount}\n" if refund else "")
        + "\nOpen the admin's 'Needs attention' page (/admin/ticketing/needsattention/), or\n"
        "Payments filtered by state 'Needs attention', to resolve it: check with Alipay now,\n"
        "refund instead or mark failed, each with a note."
    )
    logger.error("%s: %s", subject, reason)

    def send() -> None:
        try:
            mail_admins(subject, body, fail_silently=False)
        except Exception:
            logger.exception("could not mail the admins about %s", payment.partner_trans_id)

    transaction.on_commit(send)


def alert_poller_lag(
    *, oldest_overdue: float, due: int, past_deadline: int, threshold: float
) -> None:
    """The pollers are behind: once per incident (payments.backlog decides), counts only."""
    subject = f"Payments poller lagging: oldest step {oldest_overdue:.0f} s overdue"
    body = (
        f"The oldest due payment step has waited {oldest_overdue:.1f} s "
        f"(alert threshold {threshold:.0f} s).\n"
        f"Steps due and not taken: {due}. "
        f"In-flight payments past their deadline: {past_deadline}.\n\n"
        "Queries then run less often than every 3-4 s (nearest deadline first; cancels at the\n"
        "deadline go first). Check `manage.py poller_status`: a shard without a lease holder\n"
        "means no poller runs (is the qcluster up?); all shards held means the pollers lack\n"
        "capacity: raise PAYMENTS_POLLER_SHARDS (and Q_WORKERS) or add worker hosts.\n"
        "No further mail until the lag has fallen under half the threshold."
    )
    logger.error("%s", subject)

    def send() -> None:
        try:
            mail_admins(subject, body, fail_silently=False)
        except Exception:
            logger.exception("could not mail the admins about the poller lag")

    transaction.on_commit(send)
