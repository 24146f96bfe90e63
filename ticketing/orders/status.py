"""The order as its buyer (or a cashier) sees it while waiting: state, time left, payment, QR."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from payments import clock
from payments.models import Payment, Refund

from .. import local_time
from ..models import Order
from .holds import end_hold_if_overdue
from .states import State

Reason = Order.OutcomeReason


@dataclass(frozen=True)
class OrderStatus:
    code: str
    state: str
    state_label: str
    hold_expires_at: dt.datetime
    seconds_left: int
    payment_state: str | None
    qr_code: str
    paid: bool
    can_retry_payment: bool
    tickets_ready: bool
    outcome_reason: str
    message: str
    # Its payment needs attention: staff are deciding it with Alipay (ticketing/orders/review.py).
    under_review: bool = False
    # Until when the order keeps its places while under review (None when not held for review).
    review_ends_at: dt.datetime | None = None


def under_review(order: Order) -> bool:
    """Staff are deciding this order's payment (or refund) with Alipay: the lifecycle could not
    finish it. `order.payment` must be loaded."""
    payment = order.payment
    if payment is None:
        return False
    if payment.state == Payment.State.NEEDS_ATTENTION:
        return True
    return (
        order.state == State.REFUND_PENDING
        and payment.refunds.filter(state=Refund.State.NEEDS_ATTENTION).exists()
    )


def _status_message(order: Order, reviewing: bool) -> str:
    messages = {
        State.HELD: _("Your places are reserved. Please pay before the reservation ends."),
        State.AWAITING_PAYMENT: _("Scan the QR code with Alipay to pay."),
        State.PAID: _("Paid. Your e-tickets are ready."),
        State.EXPIRED: _("The reservation ended before payment; please book again."),
        State.CANCELLED: _("This order was cancelled."),
        State.REFUND_PENDING: _("Your payment is being refunded."),
        State.REFUNDED: _("Your payment has been refunded."),
    }
    if reviewing:
        if order.state == State.AWAITING_PAYMENT and order.review_ends_at is not None:
            return _(
                "Your payment is under review: we are checking it with Alipay, and your places "
                "are kept until %(when)s. You will not be charged twice."
            ) % {"when": local_time.format_datetime(order.review_ends_at, order.attraction.tz)}
        return _(
            "Your payment is under review: we are checking it with Alipay. You will not be "
            "charged twice, and we will e-mail you when it is settled."
        )
    if order.outcome_reason == Reason.LATE_PAYMENT_SOLD_OUT:
        return _(
            "Your payment arrived after the reservation ended and the time slot is now full, "
            "so the payment is refunded in full."
        )
    if order.outcome_reason == Reason.LATE_PAYMENT_HONOURED and order.state == State.PAID:
        return _("Your payment arrived after the reservation ended, but places were still free.")
    return str(messages.get(order.state, ""))


def order_status(order: Order) -> OrderStatus:
    """What a buyer sees while waiting: state, time left, payment state, QR.

    Not a pure read: an overdue hold is ended first (end_hold_if_overdue), so what it reports
    is never a reservation that has already run out.
    """
    now = clock.now()
    end_hold_if_overdue(order, now=now)
    order = Order.objects.select_related("payment", "attraction").get(pk=order.pk)
    payment = order.payment
    payment_state = payment.state if payment is not None else None
    in_flight = order.state == State.AWAITING_PAYMENT
    reviewing = under_review(order)
    seconds_left = max(int((order.hold_expires_at - now).total_seconds()), 0)
    return OrderStatus(
        code=order.code,
        state=order.state,
        state_label=str(order.get_state_display()),
        hold_expires_at=order.hold_expires_at,
        seconds_left=seconds_left if order.state in Order.HOLDING_STATES else 0,
        payment_state=payment_state,
        qr_code=payment.qr_code if (in_flight and payment is not None) else "",
        paid=order.state == State.PAID,
        can_retry_payment=order.state == State.HELD and seconds_left > 0,
        tickets_ready=order.state == State.PAID,
        outcome_reason=order.outcome_reason,
        message=_status_message(order, reviewing),
        under_review=reviewing,
        review_ends_at=order.review_ends_at if order.state == State.AWAITING_PAYMENT else None,
    )


def payment_undecided(payment_state: str | None) -> bool:
    """The payment has not reached its end yet (the buyer may still be confirming with a PIN)."""
    return payment_state in Payment.ACTIVE_STATES


def payment_waiting(order: Order) -> bool:
    """The order waits on a payment that is still undecided."""
    payment = order.payment
    return order.state == State.AWAITING_PAYMENT and payment_undecided(
        payment.state if payment is not None else None
    )


def failed_attempt_message(order: Order) -> str:
    """Why the last payment of an order held again did not complete; empty if none failed."""
    payment = order.payment
    if (
        order.state == State.HELD
        and payment is not None
        and payment.state in (Payment.State.FAILED, Payment.State.CANCELLED)
    ):
        return payment.failure_message or _("The payment was not completed.")
    return ""
