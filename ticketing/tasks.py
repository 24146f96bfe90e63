"""Background work of ticketing: idempotent, taking ids, re-reading state first.

Queued with transaction.on_commit by ticketing.orders; `sweep` runs every minute (a django-q2
schedule created by migration 0002) and resumes anything overdue: holds past their expiry, and
refunds a crash may have left unrequested.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from payments import clock

from . import orders
from .models import Order
from .orders import release_expired_holds

logger = logging.getLogger(__name__)

Reason = Order.OutcomeReason

REFUND_REASONS = {
    "sold_out": "Paid after the reservation ended; slot full",
    "cancelled": "Order cancelled",
    "duplicate_payment": "Order already paid",
    "amount_mismatch": "Amount does not match the order",
}


def _refund(payment, *, suffix: str, reason: str) -> bool:
    """Refund what is left of `payment`, once: the refund id is fixed per payment and purpose."""
    from payments.exceptions import PaymentError
    from payments.refunds import request_refund

    payment.refresh_from_db()
    left = payment.refundable_amount
    if left <= 0:
        return True
    try:
        request_refund(
            payment,
            amount=left,
            reason=REFUND_REASONS.get(reason, reason)[:128],
            actor="ticketing",
            partner_refund_id=f"{payment.partner_trans_id[:56]}-{suffix}",
        )
    except PaymentError as exc:
        logger.error("refund of payment %s refused: %s", payment.uuid, exc.code)
        return False
    return True


def refund_order(order_id: int, reason: str = "") -> None:
    """Ask the payment lifecycle to refund a refund_pending order's payment (once)."""
    order = Order.objects.select_related("payment").filter(pk=order_id).first()
    if order is None or order.state != Order.State.REFUND_PENDING or order.payment is None:
        return
    if order.refund_requested_at is not None:
        return
    if _refund(order.payment, suffix="ORD", reason=reason or order.outcome_reason):
        Order.objects.filter(pk=order_id, refund_requested_at__isnull=True).update(
            refund_requested_at=clock.now()
        )
        if order.outcome_reason in (
            Reason.LATE_PAYMENT_SOLD_OUT,
            Reason.PAID_AFTER_CANCEL,
            Reason.CANCELLED_REFUND,
        ):
            notify_refund(order_id)


def refund_payment(payment_id: int, reason: str) -> None:
    """Refund a payment no order keeps (a second payment of an order already paid)."""
    from payments.models import Payment

    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is not None and payment.state in Payment.REFUNDABLE_STATES:
        _refund(payment, suffix="DUP", reason=reason)


def notify_refund(order_id: int) -> None:
    """Tell the buyer why their payment comes back (never a silent refund)."""
    order = Order.objects.select_related("attraction").get(pk=order_id)
    with translation.override(order.language):
        subject = _("Your payment for order %(code)s is being refunded") % {"code": order.code}
        if order.outcome_reason == Reason.LATE_PAYMENT_SOLD_OUT:
            why = _(
                "Your payment arrived after your reservation had ended, and in the meantime the "
                "time slot sold out."
            )
        elif order.outcome_reason == Reason.CANCELLED_REFUND:
            why = _("Your order has been cancelled; its e-tickets are no longer valid.")
        else:
            why = _("The order had been cancelled before the payment arrived.")
        body = "\n\n".join(
            [
                _("Dear %(name)s,") % {"name": order.buyer_name},
                why,
                _("The full amount of %(amount)s %(currency)s is being refunded to your Alipay "
                  "account. We are sorry for the inconvenience.")
                % {"amount": order.total, "currency": order.currency},
                order.attraction.display_name(order.language),
            ]
        )  # fmt: skip
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [order.email])


def deliver_tickets(order_id: int) -> None:
    """E-mail the paid order's e-tickets (the PDF is built by ticketing.etickets)."""
    order = Order.objects.filter(pk=order_id, state=Order.State.PAID).first()
    if order is None or not order.email:  # a counter sale without an address: printed only
        return
    if importlib.util.find_spec("ticketing.etickets.delivery") is None:
        logger.warning("order %s paid; ticket delivery is not installed", order.code)
        return
    from ticketing.etickets.delivery import send_order_tickets

    send_order_tickets(order_id)


def sweep() -> dict:
    """Every minute: return expired holds; resume refunds never requested, e-mails never sent."""
    expired = release_expired_holds()
    stale = clock.now() - dt.timedelta(minutes=1)
    refunds = 0
    for order_id in Order.objects.filter(
        state=Order.State.REFUND_PENDING, refund_requested_at__isnull=True, updated_at__lte=stale
    ).values_list("id", flat=True)[:100]:
        refund_order(order_id)
        refunds += 1
    resumed = resume_payment_outcomes(stale)
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
    if expired or refunds or deliveries or resumed:
        logger.info(
            "ticketing sweep: %s holds expired, %s refunds, %s deliveries, %s payments resumed",
            expired,
            refunds,
            deliveries,
            resumed,
        )
    return {"expired": expired, "refunds": refunds, "deliveries": deliveries, "payments": resumed}


def resume_payment_outcomes(stale) -> int:
    """Orders still awaiting a payment that has already ended: apply the outcome a receiver
    missed (a crash between payments' commit and its signal), or end an attempt that never got
    its payment (a crash inside start_payment)."""
    from payments.models import Payment

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
    return resumed


SWEEPER_NAME = "ticketing-sweep"
DAILY_NAME = "ticketing-daily"


def daily() -> dict:
    """Once a day: keep 90 days of slots ahead, and check the capacity counters (alerting)."""
    from .inventory import check_capacity
    from .slot_generation import generate_slots

    created = generate_slots(90).created
    problems = check_capacity()
    for problem in problems:
        # ERROR reaches ADMINS by e-mail in production (Django's mail_admins handler).
        logger.error("capacity counters disagree with orders: %s", problem)
    return {"slots_created": created, "capacity_problems": len(problems)}


def ensure_schedules() -> None:
    """Create the ticketing schedules once (idempotent; load_demo and deploys call it)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SWEEPER_NAME,
        defaults={
            "func": "ticketing.tasks.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    Schedule.objects.update_or_create(
        name=DAILY_NAME,
        defaults={"func": "ticketing.tasks.daily", "schedule_type": Schedule.DAILY, "repeats": -1},
    )
