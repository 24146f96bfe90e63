"""Payment outcomes -> orders. Connected in TicketingConfig.ready.

payments sends each signal once, after the commit of the transition, in the thread that made it.
A receiver must not break the payment side: errors are logged with the ids and the sweeper
(ticketing.tasks.sweep) and check_capacity make them visible, never a silent loss.
"""

from __future__ import annotations

import logging

from payments import signals

from . import orders

logger = logging.getLogger(__name__)


def on_payment_paid(sender, payment, **kwargs) -> None:
    try:
        orders.payment_paid(payment)
    except Exception:
        logger.exception("applying paid payment %s to its order failed", payment.uuid)


def on_payment_ended(sender, payment, **kwargs) -> None:
    """failed or cancelled: the order's hold goes back to held, or ends if overdue."""
    order = orders.order_for_payment(payment)
    if order is None:
        return
    try:
        orders.payment_ended(order.pk, payment)
    except Exception:
        logger.exception("ending payment %s of order %s failed", payment.uuid, order.code)


def on_payment_refunded(sender, payment, **kwargs) -> None:
    try:
        orders.payment_refunded(payment)
    except Exception:
        logger.exception("applying refund of payment %s to its order failed", payment.uuid)


def connect() -> None:
    signals.payment_paid.connect(on_payment_paid, dispatch_uid="ticketing.paid")
    signals.payment_failed.connect(on_payment_ended, dispatch_uid="ticketing.failed")
    signals.payment_cancelled.connect(on_payment_ended, dispatch_uid="ticketing.cancelled")
    signals.payment_refunded.connect(on_payment_refunded, dispatch_uid="ticketing.refunded")
