"""A payment under review: the order's places are held for a bounded time while staff decide.

When the payments lifecycle gives up on an order's payment (its cancel kept failing: Alipay's
outcome is unknown), the payment needs attention and only staff can decide it (payments/
attention.py: check with Alipay now, refund instead, mark failed). Its order, awaiting that
payment, would otherwise keep its places forever. Instead:

- the order is under review: it keeps its places until `review_ends_at`, set once to
  TICKETING_REVIEW_HOLD_HOURS after the payment needed attention (retries do not extend it);
  the buyer sees "payment under review" (order page, API status) and staff are mailed;
- decided within that time, the order follows the payment's outcome like any other (paid:
  tickets; failed or cancelled: the hold ends; refunded instead: cancelled and refunded);
- still undecided at `review_ends_at`, the order expires (REVIEW_EXPIRED), its places go back on
  sale and staff and buyer are told. A paid answer after that is a late payment
  (payment_outcomes.payment_paid): honoured while the slot has not ended and its places can be
  taken again, otherwise refunded automatically; a failed one changes nothing more.

The ticketing sweeper (tasks.sweep) ends overdue reviews every minute and starts any review whose
signal was missed. See docs/operations.md, Payments under review.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction

from payments import clock
from payments.alerts import alert_staff
from payments.models import Payment

from .. import inventory, local_time
from ..models import Order
from .buyer_notices import tell_buyer_of_change_on_commit
from .payment_outcomes import order_for_payment
from .refunding import lock_payment
from .states import State, move_order, record_event

logger = logging.getLogger(__name__)

Reason = Order.OutcomeReason
# A payment in these states is still undecided: needing attention, or sent to cancel again by
# staff (a retry, itself bounded). Anything else is decided and its own signal moves the order.
UNDECIDED = (Payment.State.NEEDS_ATTENTION, Payment.State.CANCELLING)


def review_hold() -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, "TICKETING_REVIEW_HOLD_HOURS", 2)))


def _ends(order: Order) -> str:
    return local_time.format_datetime(order.review_ends_at, order.attraction.tz)


def payment_under_review(payment, *, actor: str = "system") -> str:
    """The payment of an order awaiting it needs attention: the order is under review.

    Idempotent: the first call sets `review_ends_at` (and tells staff); later ones (the sweeper,
    a second needs-attention after a staff retry) change nothing, so the hold stays bounded.
    """
    order = order_for_payment(payment)
    if order is None:
        return "no_order"
    now = clock.now()
    with transaction.atomic():
        lock_payment(payment.pk)
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("attraction")
            .get(pk=order.pk)
        )
        # The order's attempt may not know its payment yet (a barcode pay gave up before
        # start_counter_payment returned): the link says whose payment it is.
        if order.state != State.AWAITING_PAYMENT or order.payment_id not in (None, payment.pk):
            return "not_awaiting"
        if order.review_ends_at is not None:
            return "already"
        ends = now + review_hold()
        Order.objects.filter(pk=order.pk, review_ends_at__isnull=True).update(
            review_ends_at=ends, updated_at=now
        )
        order.review_ends_at = ends
        record_event(
            order,
            "payment_under_review",
            order.state,
            order.state,
            "system",
            payment=str(payment.uuid),
            until=ends.isoformat(),
            by=actor,
        )
        alert_staff(
            payment,
            f"Order {order.code} is under review: its {order.admissions} place(s) are held until "
            f"{_ends(order)}, then given back. Decide the payment before then.",
            subject=f"Order {order.code}: payment under review",
        )
    logger.info("order %s: payment %s under review until %s", order.code, payment.uuid, ends)
    return "under_review"


def end_review_if_overdue(order_id: int) -> bool:
    """Expire an order whose review hold has run out while its payment is still undecided;
    True if this call did. Its places go back on sale; staff and the buyer are told."""
    now = clock.now()
    with transaction.atomic():
        row = Order.objects.filter(pk=order_id).values("payment_id", "state").first()
        if row is None or row["state"] != State.AWAITING_PAYMENT or row["payment_id"] is None:
            return False
        lock_payment(row["payment_id"])
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("payment", "attraction")
            .get(pk=order_id)
        )
        payment = order.payment
        if payment is None or payment.pk != row["payment_id"] or payment.state not in UNDECIDED:
            return False  # decided meanwhile: its own signal (or the sweeper's resume) moves it
        if not move_order(
            order,
            to=State.EXPIRED,
            from_states=State.AWAITING_PAYMENT,
            kind="review_hold_ended",
            actor="system",
            fields={"outcome_reason": Reason.REVIEW_EXPIRED},
            where={"review_ends_at__lte": now, "payment": payment.pk},
            detail={"payment": str(payment.uuid)},
        ):
            return False
        inventory.release_hold(order.slot_id, order.admissions)
        alert_staff(
            payment,
            f"Order {order.code}: the review hold ended at {_ends(order)} with the payment still "
            f"undecided; its {order.admissions} place(s) are back on sale. If Alipay shows it "
            "paid, check with Alipay now (the order is honoured as a late payment while the "
            "slot has not ended and places are free, else refunded) or refund instead.",
            subject=f"Order {order.code}: review hold ended, places released",
        )
        tell_buyer_of_change_on_commit(order.pk, "review_ended")
    logger.info("order %s: review hold ended, places released", order.code)
    return True


def sweep_reviews(*, limit: int = 100) -> int:
    """The sweeper's part: start reviews whose signal was missed, end those overdue."""
    now = clock.now()
    missed = Order.objects.filter(
        state=State.AWAITING_PAYMENT,
        review_ends_at__isnull=True,
        payment__state=Payment.State.NEEDS_ATTENTION,
    ).select_related("payment")[:limit]
    for order in missed:
        payment_under_review(order.payment)
    overdue = list(
        Order.objects.filter(
            state=State.AWAITING_PAYMENT,
            review_ends_at__lte=now,
            payment__state__in=UNDECIDED,
        )
        .order_by("review_ends_at")
        .values_list("id", flat=True)[:limit]
    )
    return sum(end_review_if_overdue(order_id) for order_id in overdue)
