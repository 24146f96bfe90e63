"""Refunds ticketing decides, recorded in the transaction that decides them, and the buyer told.

A refund decided here (a duplicate or mismatched payment, a late payment on a full slot, one
that arrived after a cancel, a cancelled paid order) is written as a payments Refund row, due
now, by payments.refunds.record_refund inside the caller's transaction: it commits or rolls
back with the decision, and the payments poller sends it (and retries it), so a crash after
the commit loses nothing. No gateway call happens inside the transaction.
"""

from __future__ import annotations

import logging

from django.db import transaction

from payments.exceptions import PaymentError
from payments.lifecycle import record_refund
from payments.models import Payment

from .notices import send_refund_notice

logger = logging.getLogger(__name__)

# The reason Alipay and staff see on the refund (at most 128 characters, no double quotes).
REFUND_REASONS = {
    "sold_out": "Paid after the reservation ended; slot full",
    "slot_over": "Paid after the reservation ended; slot over",
    "cancelled": "Order cancelled",
    "duplicate_payment": "Order already paid",
    "amount_mismatch": "Amount does not match the order",
}

# Refund ids ending "-TC<n>" are a ticket cancel (a buyer's, or staff refunding tickets): the
# tickets were revoked and their places released in the refund's own transaction
# (ticketing.orders.self_service). Ids ending "-ST<n>" are staff refunding part of an order's
# amount: its tickets stay valid, and staff's own audit record says so (ticketing.orders.staff).
TICKET_CANCEL_SUFFIX = "TC"
STAFF_AMOUNT_SUFFIX = "ST"


def is_decided_with_order(partner_refund_id: str) -> bool:
    """A refund whose order was already brought in line, in the refund's own transaction, by
    the ticketing service that recorded it: money_returning leaves the order alone."""
    return partner_refund_id.rpartition("-")[2].startswith(
        (TICKET_CANCEL_SUFFIX, STAFF_AMOUNT_SUFFIX)
    )


# The other refunds ticketing decides: a whole order ("ORD"), a payment it does not keep
# ("DUP"), a change of time's difference it could not apply ("DIF").
OWN_SUFFIXES = ("ORD", "DUP", "DIF")


def is_ticket_cancel(partner_refund_id: str) -> bool:
    return partner_refund_id.rpartition("-")[2].startswith(TICKET_CANCEL_SUFFIX)


def is_ticketings(partner_refund_id: str) -> bool:
    """A refund ticketing decided (and dealt with the tickets of) itself."""
    suffix = partner_refund_id.rpartition("-")[2]
    return suffix.startswith(TICKET_CANCEL_SUFFIX) or suffix in OWN_SUFFIXES


def refund_id(payment, suffix: str) -> str:
    """The refund's id at Alipay, fixed per payment and purpose: asking again finds the same."""
    return f"{payment.partner_trans_id[:56]}-{suffix}"


def record_refund_of(payment, *, reason: str, suffix: str) -> bool:
    """Record the refund of what is left of `payment` (inside the caller's transaction).

    True when the refund is recorded (or nothing is left to give back); False when payments
    refuses it (logged: the payment is being cancelled, which gives the money back, or it
    was never paid).
    """
    left = payment.refundable_amount
    if left <= 0:
        return True
    try:
        record_refund(
            payment,
            amount=left,
            reason=REFUND_REASONS.get(reason, reason)[:128],
            actor="ticketing",
            partner_refund_id=refund_id(payment, suffix),
        )
    except PaymentError as exc:
        logger.error("refund of payment %s refused: %s", payment.uuid, exc.code)
        return False
    return True


def lock_payment(payment_id: int | None) -> None:
    """Lock the payment's row before the order's: payments (a refund or a reversal being
    recorded, which then tells ticketing) lock the payment first, so taking them in the same
    order here leaves PostgreSQL nothing to deadlock on."""
    if payment_id is not None:
        list(Payment.objects.select_for_update().filter(pk=payment_id).values_list("pk"))


def tell_buyer_on_commit(order_id: int) -> None:
    """E-mail the buyer why their money comes back, once the decision has committed.

    Sent in the committing thread (not queued): the tickets stopped admitting in that
    transaction, and a buyer who learns it only from the gate would be worse off. A mail
    error is logged, never undoes what committed.
    """

    transaction.on_commit(lambda: send_refund_notice(order_id), robust=True)
