"""Payment outcomes -> orders. Connected in TicketingConfig.ready.

payments sends each outcome signal once, after the commit of the transition, in the thread that
made it. Those receivers must not break the payment side: errors are logged with the ids and the
sweeper (ticketing.tasks.sweep) and check_capacity make them visible, never a silent loss.

`money_returning` is different: it comes inside the transaction that records money going back,
and its receiver lets any error through, so that the money movement rolls back with it rather
than leave tickets admitting for money the buyer got back. `money_recorded` is the same: the
sales report's daily rows (ticketing.reports.ledger) are written with the payment or refund they
count, or neither is.

A payment of a price difference (a dearer change of time) is its change's, not its order's: it
goes to ticketing.orders.slot_changes, found by the change's link to it.
"""

from __future__ import annotations

import logging

from payments import signals

from . import orders
from .orders import slot_changes
from .reports import ledger

logger = logging.getLogger(__name__)


def on_payment_paid(sender, payment, actor="system", **kwargs) -> None:
    try:
        if slot_changes.change_for_payment(payment) is not None:
            slot_changes.difference_paid(payment)
        else:
            orders.payment_paid(payment, actor=actor)
    except Exception:
        logger.exception("applying paid payment %s to its order failed", payment.uuid)


def on_payment_ended(sender, payment, actor="system", **kwargs) -> None:
    """failed or cancelled: the order's hold goes back to held, or ends if overdue; a paid
    order's reversal, now complete, ends the order cancelled."""
    if slot_changes.change_for_payment(payment) is not None:
        try:
            slot_changes.difference_ended(payment)
        except Exception:
            logger.exception("ending difference payment %s failed", payment.uuid)
        return
    order = orders.order_for_payment(payment)
    if order is None:
        return
    try:
        if order.state in (orders.State.PAID, orders.State.REFUND_PENDING):
            orders.payment_returned(payment)
        else:
            orders.payment_ended(order.pk, payment, actor=actor)
    except Exception:
        logger.exception("ending payment %s of order %s failed", payment.uuid, order.code)


def on_money_returning(sender, payment, refund, amount, in_full, **kwargs) -> None:
    # No try/except: an error here must roll back the refund or reversal being recorded.
    if slot_changes.change_for_payment(payment) is not None:
        slot_changes.difference_returning(payment, refund=refund, amount=amount)
    else:
        orders.money_returning(payment, refund=refund, amount=amount, in_full=in_full)


def on_payment_needs_attention(sender, payment, actor="system", **kwargs) -> None:
    """The lifecycle gave up on the payment: its order, if one awaits it, is under review."""
    try:
        orders.payment_under_review(payment, actor=actor)
    except Exception:
        logger.exception("putting the order of payment %s under review failed", payment.uuid)


def on_money_recorded(
    sender, payment_id, refund_id, reversed_at=None, undone=False, **kwargs
) -> None:
    # No try/except either: the daily rows and the money they count commit together.
    if reversed_at is not None:
        ledger.payment_reversed(payment_id, reversed_at, undone=undone)
    elif refund_id is None:
        ledger.payment_paid(payment_id)
    else:
        ledger.refund_succeeded(refund_id)


def on_payment_refunded(sender, payment, **kwargs) -> None:
    try:
        if slot_changes.change_for_payment(payment) is not None:
            slot_changes.difference_refunded(payment)
        else:
            orders.payment_refunded(payment)
    except Exception:
        logger.exception("applying refund of payment %s to its order failed", payment.uuid)


def connect() -> None:
    signals.payment_paid.connect(on_payment_paid, dispatch_uid="ticketing.paid")
    signals.payment_failed.connect(on_payment_ended, dispatch_uid="ticketing.failed")
    signals.payment_cancelled.connect(on_payment_ended, dispatch_uid="ticketing.cancelled")
    signals.payment_refunded.connect(on_payment_refunded, dispatch_uid="ticketing.refunded")
    signals.payment_needs_attention.connect(
        on_payment_needs_attention, dispatch_uid="ticketing.needs_attention"
    )
    signals.money_returning.connect(on_money_returning, dispatch_uid="ticketing.money_returning")
    signals.money_recorded.connect(on_money_recorded, dispatch_uid="ticketing.money_recorded")
