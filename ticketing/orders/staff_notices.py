"""The one e-mail a buyer gets when staff refund or cancel their order, in the order's language.

Queued in the transaction that makes the change (sent once it commits), so a change refused or
rolled back tells nobody, and a change made once is told once; a mail error is logged and undoes
nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from payments.models import Refund

from ..models import Order
from ..templatetags.shop import money
from .refunding import refund_id

logger = logging.getLogger(__name__)


def tell_buyer_on_commit(order_id: int, kind: str, detail: dict) -> None:
    """`kind`: amount_refunded, tickets_refunded or order_cancelled (detail["method"]: alipay,
    cash or none)."""
    transaction.on_commit(lambda: _send(order_id, kind, detail), robust=True)


def _cancel_refund(order: Order):
    """The cancel's refund (ticketing.orders.cancelling records it under a fixed id)."""
    if order.payment is None:
        return None
    return Refund.objects.filter(partner_refund_id=refund_id(order.payment, "ORD")).first()


def _send(order_id: int, kind: str, detail: dict) -> None:
    order = Order.objects.select_related("attraction", "payment").get(pk=order_id)
    if not order.email:  # a counter sale without an address: the box office tells the buyer
        return
    currency = order.currency
    reason = detail.get("reason", "")
    with translation.override(order.language):
        if kind == "amount_refunded":
            subject = _("A refund for your order %(code)s") % {"code": order.code}
            what = [
                _("We are refunding %(amount)s of your payment to your Alipay account.")
                % {"amount": money(detail.get("amount"), currency)},
                _("Your e-tickets remain valid."),
            ]
        elif kind == "tickets_refunded":
            count = len(detail.get("tickets", []))
            subject = _("Tickets of order %(code)s refunded") % {"code": order.code}
            what = [
                ngettext(
                    "%(count)s ticket of your order was cancelled; it no longer admits anyone.",
                    "%(count)s tickets of your order were cancelled; they no longer admit anyone.",
                    count,
                )
                % {"count": count},
                _("Refund: %(refund)s to your Alipay account.")
                % {"refund": money(detail.get("refund"), currency)},
                _("Your other e-tickets remain valid."),
            ]
        elif detail.get("method") == "none" and order.paid_at is None:
            subject = _("Your reservation %(code)s is cancelled") % {"code": order.code}
            what = [_("Your reservation has been cancelled. Nothing was charged.")]
        else:
            subject = _("Your order %(code)s is cancelled") % {"code": order.code}
            what = [_("Your order has been cancelled; its e-tickets are no longer valid.")]
            refund = _cancel_refund(order)
            if detail.get("method") == "cash":
                what.append(
                    _("You paid %(amount)s in cash: it is paid back to you at the box office.")
                    % {"amount": money(order.total, currency)}
                )
            elif refund is not None:
                what.append(
                    _("%(amount)s is being refunded to your Alipay account.")
                    % {"amount": money(refund.amount, currency)}
                )
        if reason:
            what.append(_("Reason: %(reason)s") % {"reason": reason})
        what.append(_("We are sorry for the inconvenience."))
        greeting = (
            _("Dear %(name)s,") % {"name": order.buyer_name} if order.buyer_name else _("Hello,")
        )
        body = "\n\n".join([greeting, *what, order.attraction.display_name(order.language)])
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [order.email])
    logger.info("order %s: staff's %s told to the buyer", order.code, kind)
