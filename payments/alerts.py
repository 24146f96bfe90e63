"""Telling staff that a payment or refund needs a person: a mail to ADMINS, after commit.

The admin lists the same payments under the `needs_attention` filter; the mail names ids and
codes only (never keys nor buyer codes) and points there.
"""

from __future__ import annotations

import logging

from django.core.mail import mail_admins
from django.db import transaction

from payments.models import Payment, Refund

logger = logging.getLogger(__name__)


def alert_staff(payment: Payment, reason: str, *, refund: Refund | None = None) -> None:
    subject = f"Payment {payment.partner_trans_id} needs attention"
    if refund is not None:
        subject = f"Refund {refund.partner_refund_id} needs attention"
    body = (
        f"{reason}\n\n"
        f"Payment: {payment.partner_trans_id} ({payment.uuid})\n"
        f"Amount: {payment.amount} {payment.currency}\n"
        f"Reference: {payment.reference or '-'}  Store: {payment.store_id or '-'}\n"
        + (f"Refund: {refund.partner_refund_id} {refund.amount}\n" if refund else "")
        + "\nOpen the admin, Payments, filter 'Needs attention', to resolve it."
    )
    logger.error("%s: %s", subject, reason)

    def send() -> None:
        try:
            mail_admins(subject, body, fail_silently=False)
        except Exception:
            logger.exception("could not mail the admins about %s", payment.partner_trans_id)

    transaction.on_commit(send)
