"""Background work of ticketing: idempotent, taking ids, re-reading state first.

Queued with transaction.on_commit by ticketing.orders; `sweep` runs every minute and `daily`
once a day (django-q2 schedules created by migration 0010 from ticketing.schedules); the sweep
resumes anything overdue: holds past their expiry, and refunds a crash may have left unrequested.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, F, Q, Sum
from django.db.models.functions import Coalesce
from django_q.models import Schedule

from payments import clock
from payments.models import Payment

from . import orders
from .inventory import check_capacity
from .models import Order
from .orders import money, release_expired_holds, slot_cancelling, slot_changes
from .orders.notices import send_refund_notice
from .orders.refunding import REFUND_REASONS, TICKET_CANCEL_SUFFIX, record_refund_of
from .schedules import write_schedules
from .slot_generation import generate_slots

__all__ = [
    "REFUND_REASONS",
    "cancel_slot",
    "daily",
    "deliver_tickets",
    "notify_refund",
    "refund_order",
    "sweep",
]

logger = logging.getLogger(__name__)

Reason = Order.OutcomeReason


def refund_order(order_id: int, reason: str = "") -> None:
    """Record the refund of a refund_pending order's payment that has none yet (the sweeper's
    resume: an older version queued it after commit, or payments refused it for a while)."""
    with transaction.atomic():
        order = Order.objects.select_related("payment").filter(pk=order_id).first()
        if order is None or order.state != Order.State.REFUND_PENDING or order.payment is None:
            return
        if order.refund_requested_at is not None:
            return
        if record_refund_of(order.payment, reason=reason or "cancelled", suffix="ORD"):
            money.refund_differences(order, reason="Order cancelled", suffix="ORD")
            Order.objects.filter(pk=order_id, refund_requested_at__isnull=True).update(
                refund_requested_at=clock.now()
            )


def refund_payment(payment_id: int, reason: str) -> None:
    """Record the refund of a payment no order keeps (a task an older version queued)."""
    with transaction.atomic():
        payment = Payment.objects.filter(pk=payment_id).first()
        if payment is not None and payment.state in Payment.REFUNDABLE_STATES:
            record_refund_of(payment, reason=reason, suffix="DUP")


def notify_refund(order_id: int) -> None:
    """Tell the buyer why their payment comes back (never a silent refund); queued form."""
    send_refund_notice(order_id)


def cancel_slot(cancellation_id: int) -> None:
    """Cancel the orders of a closed slot (ticketing.orders.slot_cancelling); queues its own
    successor when the slot has more orders than one task may take time for."""
    slot_cancelling.run(cancellation_id)


def deliver_tickets(order_id: int) -> None:
    """E-mail the paid order's e-tickets (the PDF is built by ticketing.etickets)."""
    order = Order.objects.filter(pk=order_id, state=Order.State.PAID).first()
    if order is None or not order.email:  # a counter sale without an address: printed only
        return
    if importlib.util.find_spec("ticketing.etickets.delivery") is None:
        logger.warning("order %s paid; ticket delivery is not installed", order.code)
        return
    # At call time, once found above: delivery brings in the PDF stack, which sweeps never need.
    from ticketing.etickets.delivery import send_order_tickets

    send_order_tickets(order_id)


def sweep() -> dict:
    """Every minute: return expired holds (an order's, or a change of time's) and the places of
    reviews past their bound; resume refunds never requested, e-mails never sent, payment
    outcomes never applied, slot cancellations whose task was lost."""
    expired = release_expired_holds()
    reviews = orders.sweep_reviews()
    stale = clock.now() - dt.timedelta(minutes=1)
    refunds = 0
    for order_id in Order.objects.filter(
        state=Order.State.REFUND_PENDING, refund_requested_at__isnull=True, updated_at__lte=stale
    ).values_list("id", flat=True)[:100]:
        refund_order(order_id)
        refunds += 1
    resumed = resume_payment_outcomes(stale)
    slot_runs = slot_cancelling.resume_stale()
    changes = slot_changes.resume_changes()
    deliveries = 0
    for order_id in (
        Order.objects.filter(
            state=Order.State.PAID, tickets_sent_at__isnull=True, paid_at__lte=stale
        )
        .exclude(email="")
        .values_list("id", flat=True)[:100]
    ):
        deliver_tickets(order_id)
        deliveries += 1
    if expired or reviews or refunds or deliveries or resumed or slot_runs or changes:
        logger.info(
            "ticketing sweep: %s holds expired, %s reviews ended, %s refunds, %s deliveries, "
            "%s payments resumed, %s slot cancellations resumed, %s changes of time settled",
            expired,
            reviews,
            refunds,
            deliveries,
            resumed,
            slot_runs,
            changes,
        )
    return {
        "expired": expired,
        "reviews_ended": reviews,
        "refunds": refunds,
        "deliveries": deliveries,
        "payments": resumed,
        "slot_cancellations": slot_runs,
        "changes": changes,
    }


def resume_payment_outcomes(stale) -> int:
    """Apply payment outcomes a receiver missed: orders still awaiting a payment that has ended
    (a crash between payments' commit and its signal), an attempt that never got its payment
    (a crash inside start_payment), and orders still paid, or still waiting for their refund or
    reversal, whose payment's money has gone back (an older version recorded the reversal or
    refund in another transaction than the order's; a receiver error)."""
    resumed = 0
    waiting = Order.objects.filter(
        state=Order.State.AWAITING_PAYMENT, payment_started_at__lte=stale
    ).select_related("payment")[:100]
    for order in waiting:
        payment = order.payment
        if payment is None:
            resumed += orders.payment_ended(order.pk, None)
        elif payment.state in (Payment.State.PAID, *Payment.REFUNDABLE_STATES):
            resumed += orders.payment_paid(payment) in ("paid", "paid_late")
        elif payment.state in Payment.FINAL_STATES:
            resumed += orders.payment_ended(order.pk, payment)
    ended = Payment.State.CANCELLED, Payment.State.REFUNDED
    # A paid payment leaves for cancelling (and, if that fails, needs_attention) only reversed.
    reversed_ = Payment.State.CANCELLING, Payment.State.NEEDS_ATTENTION
    # A buyer's ticket cancels (refund ids "-TC...") revoked exactly what they refunded: however
    # much they add up to, the order's other tickets still admit.
    promised = Sum(
        "payment__refunds__amount",
        filter=~Q(payment__refunds__state="failed")
        & ~Q(payment__refunds__partner_refund_id__contains=f"-{TICKET_CANCEL_SUFFIX}"),
    )
    unwinding = (
        Order.objects.filter(
            updated_at__lte=stale, state__in=[Order.State.PAID, Order.State.REFUND_PENDING]
        )
        .annotate(promised=Coalesce(promised, Decimal("0"), output_field=DecimalField()))
        .filter(
            Q(state=Order.State.PAID, payment__state__in=[*ended, *reversed_])
            | Q(state=Order.State.PAID, promised__gte=F("payment__amount"))
            | Q(state=Order.State.REFUND_PENDING, payment__state__in=ended)
        )
        .select_related("payment")[:100]
    )
    for order in unwinding:
        payment = order.payment
        if payment.state == Payment.State.CANCELLED:
            resumed += orders.payment_returned(payment) == "cancelled"
        elif payment.state == Payment.State.REFUNDED:
            resumed += orders.payment_refunded(payment) == "refunded"
        else:  # reversed, or refunds asked for everything paid
            resumed += (
                orders.money_returning(payment, refund=None, amount=payment.amount, in_full=True)
                == "unwound"
            )
    return resumed


def daily() -> dict:
    """Once a day: keep 90 days of slots ahead, and check the capacity counters (alerting)."""
    created = generate_slots(90).created
    problems = check_capacity()
    for problem in problems:
        # ERROR reaches ADMINS by e-mail in production (Django's mail_admins handler).
        logger.error("capacity counters disagree with orders: %s", problem)
    return {"slots_created": created, "capacity_problems": len(problems)}


def ensure_schedules() -> None:
    """Create the ticketing schedules (idempotent): what migration 0010 wrote, re-asserted by
    load_demo."""
    write_schedules(Schedule)
