"""Where an order stands now, in the buyer's words: what the order page says at the top.

An order is found again days later (the e-mail's link, "Find my tickets"), so the page speaks to
its state and its outcome reason as they are now, never to the moment of payment: paid and when
the tickets went out, refund on its way or done and why, cancelled, expired, still reserved,
awaiting the payment, or a payment that staff are looking into.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from payments import clock
from payments.models import Payment
from ticketing import local_time
from ticketing.models import Order
from ticketing.templatetags.shop import money

State = Order.State
Reason = Order.OutcomeReason

# Just after paying the buyer is thanked; an order opened again later is simply described.
THANKS_FOR = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Standing:
    key: str  # paid, refund_pending, refunded, cancelled, expired, held, awaiting_payment,
    # payment_review
    tone: str  # success, info, warning, error: the notice's colour
    title: str
    lines: list[str] = field(default_factory=list)
    thanks: bool = False
    book_again: bool = False


def _when(value: dt.datetime, order: Order) -> str:
    return local_time.format_datetime(value, order.attraction.tz)


def _why_refunded(order: Order) -> str:
    reasons = {
        Reason.LATE_PAYMENT_SOLD_OUT: _(
            "Your payment arrived after the reservation had ended, and the time slot was full by "
            "then."
        ),
        Reason.PAID_AFTER_CANCEL: _("The order had been cancelled before your payment arrived."),
        Reason.CANCELLED_REFUND: _("The order was cancelled after payment."),
        Reason.PAYMENT_RETURNED: _(
            "Your payment was given back to you, so the order is cancelled and its e-tickets are "
            "no longer valid."
        ),
        Reason.REFUNDED: _("The payment was refunded."),
        Reason.REVIEW_REFUNDED: _(
            "We could not confirm your payment in time to complete your order, so it is "
            "cancelled and your payment is given back."
        ),
        Reason.LATE_PAYMENT_SLOT_OVER: _(
            "Your payment was confirmed only after your time slot had ended."
        ),
    }
    return str(reasons.get(order.outcome_reason, ""))


def standing(order: Order, status) -> Standing:
    """The order page's headline and explanation for `order` as `status` (just read) has it."""
    if status.under_review:
        lines = [
            _(
                "We are checking this payment with Alipay and our staff are looking into it. "
                "You will not be charged twice, and we will e-mail you when it is settled."
            )
        ]
        if order.state == State.REFUND_PENDING:
            lines.insert(0, _why_refunded(order))
        elif order.state == State.AWAITING_PAYMENT and order.review_ends_at:
            lines.append(
                _("Your places are kept for you until %(when)s while we check.")
                % {"when": _when(order.review_ends_at, order)}
            )
        elif order.outcome_reason == Reason.REVIEW_EXPIRED:
            lines.append(
                _(
                    "We could not settle it while your places were held, so they were given "
                    "back. If Alipay confirms that you paid, you get your e-tickets if places "
                    "are still free and your time slot has not ended; otherwise your money comes "
                    "back to you automatically."
                )
            )
        return Standing("payment_review", "warning", _("Your payment is under review"), lines)
    if order.state == State.PAID:
        lines = []
        if order.outcome_reason == Reason.LATE_PAYMENT_HONOURED:
            lines.append(
                _("Your payment arrived after the reservation ended, but places were still free.")
            )
        if order.tickets_sent_at and order.email:
            lines.append(
                _("The e-tickets were sent to %(email)s on %(when)s.")
                % {"email": order.email, "when": _when(order.tickets_sent_at, order)}
            )
        elif order.email:
            lines.append(_("The e-tickets are on their way to %(email)s.") % {"email": order.email})
        lines.append(
            _(
                "Show them at the entrance on your phone or on paper: every ticket has its "
                "own QR code."
            )
        )
        paid_at = order.paid_at
        thanks = paid_at is not None and clock.now() - paid_at < THANKS_FOR
        title = (
            _("Paid on %(when)s. Your tickets are ready.") % {"when": _when(paid_at, order)}
            if paid_at
            else _("Paid. Your tickets are ready.")
        )
        return Standing("paid", "success", title, lines, thanks=thanks)
    if order.state == State.REFUND_PENDING:
        lines = [
            _why_refunded(order),
            _("The full amount of %(amount)s is on its way back to your Alipay account.")
            % {"amount": money(order.amount_charged(), order.currency)},
            _("The tickets of this order are no longer valid."),
        ]
        return Standing("refund_pending", "warning", _("Refund in progress"), lines)
    if order.state == State.REFUNDED:
        lines = [
            _why_refunded(order),
            _("The full amount of %(amount)s has been refunded to your Alipay account.")
            % {"amount": money(order.amount_charged(), order.currency)},
            _("The tickets of this order are no longer valid."),
        ]
        return Standing("refunded", "info", _("Refunded"), lines)
    if order.state == State.CANCELLED:
        lines = [_("This order was cancelled before it was paid. Nothing was charged.")]
        return Standing("cancelled", "info", _("Order cancelled"), lines, book_again=True)
    if order.state == State.EXPIRED:
        if order.outcome_reason == Reason.PAYMENT_NOT_COMPLETED:
            why = _("The payment was not completed before the reservation ended.")
        elif order.outcome_reason == Reason.REVIEW_EXPIRED:
            why = _(
                "We could not confirm your payment while your places were held, so they were "
                "given back."
            )
        else:
            why = _("The reservation ended before it was paid.")
        lines = [why, _("Nothing was charged, and the places were given back.")]
        return Standing("expired", "info", _("Reservation expired"), lines, book_again=True)
    if order.state == State.HELD:
        lines = [
            _("Your places are reserved until %(when)s. Pay before then to get your tickets.")
            % {"when": _when(order.hold_expires_at, order)}
        ]
        if status.payment_state in (Payment.State.FAILED, Payment.State.CANCELLED):
            lines.insert(0, _("Your last payment was not completed. You can try again."))
        return Standing("held", "info", _("Reserved, awaiting payment"), lines)
    # Awaiting payment: a QR is out and Alipay has not said whether it was paid.
    lines = [
        _(
            "We are waiting for Alipay to confirm your payment. This page shows the result as "
            "soon as it arrives."
        )
    ]
    return Standing("awaiting_payment", "info", _("Waiting for your payment"), lines)
