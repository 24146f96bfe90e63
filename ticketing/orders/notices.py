"""What the buyer is told when their money comes back: never a silent refund."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from ..models import Order

Reason = Order.OutcomeReason


def send_refund_notice(order_id: int) -> None:
    """Tell the buyer why their payment comes back (never a silent refund)."""
    order = Order.objects.select_related("attraction").get(pk=order_id)
    if not order.email:  # a counter sale without an address: the cashier tells the buyer
        return
    with translation.override(order.language):
        subject = _("Your payment for order %(code)s is being refunded") % {"code": order.code}
        if order.outcome_reason == Reason.LATE_PAYMENT_SOLD_OUT:
            why = _(
                "Your payment arrived after your reservation had ended, and in the meantime the "
                "time slot sold out."
            )
        elif order.outcome_reason == Reason.LATE_PAYMENT_SLOT_OVER:
            why = _("Your payment was confirmed only after your time slot had ended.")
        elif order.outcome_reason == Reason.REVIEW_REFUNDED:
            why = _(
                "We could not confirm your payment in time to complete your order, so it is "
                "cancelled and your payment is given back."
            )
        elif order.outcome_reason == Reason.CANCELLED_REFUND:
            why = _("Your order has been cancelled; its e-tickets are no longer valid.")
        elif order.outcome_reason == Reason.PAYMENT_RETURNED:
            why = _(
                "Your payment has been given back to you, so your order is cancelled and its "
                "e-tickets are no longer valid."
            )
        else:
            why = _("The order had been cancelled before the payment arrived.")
        body = "\n\n".join(
            [
                (_("Dear %(name)s,") % {"name": order.buyer_name})
                if order.buyer_name
                else _("Hello,"),
                why,
                _("The full amount of %(amount)s %(currency)s is being refunded to your Alipay "
                  "account. We are sorry for the inconvenience.")
                % {"amount": order.amount_charged(), "currency": order.currency},
                order.attraction.display_name(order.language),
            ]
        )  # fmt: skip
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [order.email])
