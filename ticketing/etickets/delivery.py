"""E-mailing an order's e-tickets: the body of the task queued once the order is paid.

Idempotent and safe under duplicates (django-q's ORM broker delivers at least once): the order is
claimed with a compare-and-set on `Order.tickets_sent_at` before anything is sent, so two workers
running the same task send one e-mail. If sending fails the claim is given back and the error
raised, so the broker's retry (or a resend from the admin) can try again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import translation
from django.utils.translation import pgettext

from payments import clock
from ticketing import local_time
from ticketing.models import Order
from ticketing.orders import policy as refund_policy

from .faces import order_pdf

logger = logging.getLogger(__name__)


def attachment_name(order: Order) -> str:
    return f"entrada-tickets-{order.code}.pdf"


def build_message(order: Order, pdf: bytes) -> EmailMessage:
    """The ticket e-mail in the order's language, with the PDF attached."""
    attraction = order.attraction
    with translation.override(order.language):
        name = attraction.display_name(order.language)
        subject = pgettext("eticket", "Your tickets for %(attraction)s, order %(code)s") % {
            "attraction": name,
            "code": order.code,
        }
        lines = [
            pgettext("eticket", "Dear %(name)s,") % {"name": order.buyer_name}
            if order.buyer_name
            else pgettext("eticket", "Hello,"),
            pgettext(
                "eticket",
                "Thank you for your order %(code)s. Your e-tickets are attached as a PDF, "
                "one page and one QR code for each person.",
            )
            % {"code": order.code},
            pgettext("eticket", "%(attraction)s: %(when)s")
            % {
                "attraction": name,
                "when": local_time.format_slot(
                    order.slot.starts_at, order.slot.ends_at, attraction.tz
                ),
            },
            *([address] if (address := attraction.display_address(order.language)) else []),
            pgettext(
                "eticket",
                "Show the QR code at the entrance, on your phone or printed. Each code admits "
                "one person once.",
            ),
            pgettext(
                "eticket",
                "You can download your tickets again on our website with your order code and "
                "e-mail address.",
            ),
            *refund_policy.describe(
                refund_policy.policy_for(attraction),
                [line.ticket_type for line in order.lines.select_related("ticket_type")],
                order.language,
            ),
        ]
    message = EmailMessage(
        subject=subject,
        body="\n\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
    )
    message.attach(attachment_name(order), pdf, "application/pdf")
    return message


def send_order_tickets(order_id: int) -> str:
    """E-mail a paid order's tickets once. Returns what happened: sent, already_sent, not_paid."""
    order = Order.objects.select_related("attraction", "slot").filter(pk=order_id).first()
    if order is None or order.state != Order.State.PAID:
        return "not_paid"
    if order.tickets_sent_at is not None:
        return "already_sent"
    claimed_at = clock.now()
    claimed = Order.objects.filter(pk=order_id, tickets_sent_at__isnull=True).update(
        tickets_sent_at=claimed_at
    )
    if not claimed:
        return "already_sent"  # another worker got here first
    try:
        build_message(order, order_pdf(order)).send()
    except Exception:
        # Give the claim back (only ours: compare on the time we set) so a retry can send.
        Order.objects.filter(pk=order_id, tickets_sent_at=claimed_at).update(tickets_sent_at=None)
        logger.exception("Ticket e-mail for order %s failed", order.code)
        raise
    logger.info("Ticket e-mail for order %s sent", order.code)
    return "sent"
