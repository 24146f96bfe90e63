"""The e-mail confirming each change a buyer made to their order themselves, and telling them how
a payment under review ended without money taken (ticketing/orders/review.py)."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import local_time
from ..models import Order
from ..templatetags.shop import money

logger = logging.getLogger(__name__)


def tell_buyer_of_change_on_commit(order_id: int, kind: str, detail: dict | None = None) -> None:
    """Sent once the change has committed; a mail error is logged and undoes nothing."""
    transaction.on_commit(lambda: _send(order_id, kind, detail or {}), robust=True)


def _visit(order: Order) -> str:
    return local_time.format_datetime(order.slot.starts_at, order.attraction.tz)


def _send(order_id: int, kind: str, detail: dict) -> None:
    order = Order.objects.select_related("attraction", "slot").get(pk=order_id)
    if not order.email:
        return
    currency = order.currency
    with translation.override(order.language):
        name = order.attraction.display_name(order.language)
        if kind == "hold_given_back":
            subject = _("Your reservation %(code)s is cancelled") % {"code": order.code}
            what = [_("You gave back your reserved places. Nothing was charged.")]
        elif kind == "tickets_cancelled":
            subject = _("Tickets of order %(code)s cancelled") % {"code": order.code}
            what = [
                ngettext(
                    "You cancelled %(count)s ticket; it no longer admits anyone.",
                    "You cancelled %(count)s tickets; they no longer admit anyone.",
                    len(detail.get("tickets", [])),
                )
                % {"count": len(detail.get("tickets", []))},
                _("Refund: %(refund)s (price %(amount)s, cancellation fee %(fee)s).")
                % {
                    "refund": money(detail.get("refund"), currency),
                    "amount": money(detail.get("amount"), currency),
                    "fee": money(detail.get("fee"), currency),
                },
            ]
        elif kind == "review_ended":
            subject = _("Your reservation %(code)s has ended") % {"code": order.code}
            what = [
                _(
                    "We could not confirm your payment while your places were held, so they "
                    "have been given back."
                ),
                _(
                    "If Alipay confirms later that you paid, you get your e-tickets if places "
                    "are still free and your time slot has not ended; otherwise your money comes "
                    "back to you automatically. You will not be charged twice."
                ),
            ]
        elif kind == "review_not_paid":
            subject = _("Your payment for order %(code)s did not go through") % {"code": order.code}
            what = [_("Alipay confirmed that the payment was not completed. Nothing was charged.")]
            if order.state == Order.State.HELD:
                until = local_time.format_datetime(order.hold_expires_at, order.attraction.tz)
                what.append(
                    _(
                        "Your places are reserved until %(when)s: you can pay again on the "
                        "order page."
                    )
                    % {"when": until}
                )
            else:
                what.append(_("The places were given back."))
        elif kind == "slot_change_refunded":
            subject = _("Time change for order %(code)s not made") % {"code": order.code}
            what = [
                _(
                    "Your payment of the price difference arrived after the new places were "
                    "given back, or after your order had changed, so your time was not changed."
                ),
                _("Refund of the difference: %(refund)s, to your Alipay account.")
                % {"refund": money(detail.get("refund"), currency)},
            ]
            if order.state == Order.State.PAID:
                what.append(_("Your tickets for %(when)s stay valid.") % {"when": _visit(order)})
        else:  # slot_changed
            subject = _("New time for order %(code)s") % {"code": order.code}
            what = [
                _("Your visit is now on %(when)s.") % {"when": _visit(order)},
                _("Your new e-tickets follow in a separate e-mail; the old ones no longer admit."),
            ]
            if detail.get("paid"):
                what.append(
                    _("Price difference paid with Alipay: %(amount)s.")
                    % {"amount": money(detail["paid"], currency)}
                )
            elif detail.get("refund") and Decimal(detail["refund"]) > 0:
                what.append(
                    _("Price difference refunded to your Alipay account: %(amount)s.")
                    % {"amount": money(detail["refund"], currency)}
                )
        greeting = (
            _("Dear %(name)s,") % {"name": order.buyer_name} if order.buyer_name else _("Hello,")
        )
        body = "\n\n".join([greeting, *what, name])
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [order.email])
    logger.info("order %s: %s confirmed to the buyer", order.code, kind)
