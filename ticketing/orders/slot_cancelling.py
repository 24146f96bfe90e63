"""Cancel a whole time slot (the attraction closes for weather): close it for sale, then end every
order of it in a background task, each refunded or stopped and its buyer told.

`plan` is the dry run the admin shows first (orders, and the money going back per currency);
nothing changes until staff confirm. `start` then closes the slot and lists its orders in one
transaction, so no new hold can slip in after the list was taken (taking places needs an open
slot), and queues `run` on commit. `run` ends each order through ticketing.orders.staff.cancel,
the same service as the admin's cancel action: a reservation gives its places back (its payment
in progress stopped), a paid order is refunded in full through the payments lifecycle, or its
cash is owed at the box office for a cash sale.

Idempotent: each order is claimed by compare-and-set before any work, and every order service
decides on the order's state under its lock, so a task delivered twice, a run resumed after a
crash, or a second cancellation of the same slot refunds nothing twice. A failure is recorded with
its message and shown; starting again tries the orders still open. A run works at most
RUN_SECONDS and then queues its own successor, well inside django-q2's task timeout.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from payments import clock
from payments.exceptions import DomainError
from payments.refund_limits import refundable_amounts

from ..models import Order, SlotCancellation, SlotCancellationOrder, TimeSlot
from . import staff

logger = logging.getLogger(__name__)

Outcome = SlotCancellationOrder.Outcome
ACTIVE_ORDER_STATES = (*Order.HOLDING_STATES, Order.State.PAID)
RUN_SECONDS = 50.0  # django-q2 stops a task at 90 s (Q_CLUSTER timeout)
STALE = dt.timedelta(minutes=2)  # an order no run has finished in this long: its run was lost
OUTCOMES = {
    staff.CANCELLED: Outcome.CANCELLED,
    staff.REFUNDED: Outcome.REFUNDED,
    staff.CASH_DUE: Outcome.CASH_DUE,
    staff.ENDED: Outcome.ENDED,
}


@dataclass
class SlotPlan:
    """The dry run of one slot: its orders still open, and what cancelling each does."""

    slot: TimeSlot
    orders: list[tuple[Order, staff.MoneyBack]] = field(default_factory=list)

    @property
    def counts(self) -> Counter:
        return Counter(
            back.method if order.state == Order.State.PAID else order.state
            for order, back in self.orders
        )

    @property
    def sums(self) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        for order, back in self.orders:
            if back.amount > 0:
                sums[order.currency] = sums.get(order.currency, Decimal("0")) + back.amount
        return sums


def plan(slots) -> list[SlotPlan]:
    """What cancelling these slots does, read in three queries whatever their size."""
    slots = list(slots)
    orders = list(
        Order.objects.filter(slot__in=slots, state__in=ACTIVE_ORDER_STATES)
        .select_related("payment")
        .order_by("slot_id", "created_at", "id")
    )
    left = refundable_amounts(o.payment_id for o in orders if o.payment_id is not None)
    plans = {slot.pk: SlotPlan(slot) for slot in slots}
    for order in orders:
        plans[order.slot_id].orders.append((order, staff.money_back(order, left)))
    return [plans[slot.pk] for slot in slots]


def start(slot: TimeSlot, *, actor: str, reason: str) -> SlotCancellation:
    """Close `slot` for sale and queue the cancellation of every order still open on it.

    Asked again while a cancellation of the slot runs, returns that one (nothing queued twice).
    """
    reason = staff.clean_reason(reason, required=True)
    now = clock.now()
    try:
        with transaction.atomic():
            running = _active(slot)
            if running is not None:
                return running
            # Closed first, in this transaction: a hold racing it either committed before
            # (and is listed below) or finds the slot closed.
            TimeSlot.objects.filter(pk=slot.pk).update(is_open=False)
            cancellation = SlotCancellation.objects.create(
                slot=slot, reason=reason, actor=actor[:150], created_at=now, updated_at=now
            )
            orders = Order.objects.filter(slot=slot, state__in=ACTIVE_ORDER_STATES)
            SlotCancellationOrder.objects.bulk_create(
                SlotCancellationOrder(
                    cancellation=cancellation, order_id=pk, currency=currency, updated_at=now
                )
                for pk, currency in orders.values_list("pk", "currency")
            )
            total = cancellation.orders.count()
            SlotCancellation.objects.filter(pk=cancellation.pk).update(total=total)
            transaction.on_commit(lambda: queue(cancellation.pk))
    except IntegrityError:
        # Another request started it a moment earlier (one active run per slot).
        running = _active(slot)
        if running is None:
            raise
        return running
    logger.info(
        "slot %s: cancellation %s of %s orders by %s", slot.pk, cancellation.pk, total, actor
    )
    cancellation.refresh_from_db()
    return cancellation


def _active(slot: TimeSlot) -> SlotCancellation | None:
    return SlotCancellation.objects.filter(
        slot=slot, state__in=SlotCancellation.ACTIVE_STATES
    ).first()


def queue(cancellation_id: int) -> None:
    async_task("ticketing.tasks.cancel_slot", cancellation_id)


def run(cancellation_id: int, *, seconds: float = RUN_SECONDS) -> SlotCancellation | None:
    """Cancel the orders of the cancellation still waiting, for up to `seconds`; then the next
    task goes on (queued here). Safe to run twice at once, or again after a crash."""
    cancellation = SlotCancellation.objects.filter(pk=cancellation_id).first()
    if cancellation is None or cancellation.state == SlotCancellation.State.DONE:
        return cancellation
    now = clock.now()
    SlotCancellation.objects.filter(pk=cancellation_id, state=SlotCancellation.State.QUEUED).update(
        state=SlotCancellation.State.RUNNING, updated_at=now
    )
    # Orders a lost run had claimed: each service decides on the order's state, so again is safe.
    cancellation.orders.filter(outcome=Outcome.WORKING, updated_at__lte=now - STALE).update(
        outcome=Outcome.PENDING, updated_at=now
    )
    ends = clock.monotonic() + seconds
    actor = f"{cancellation.actor} (slot cancelled)"
    while True:
        item = cancellation.orders.filter(outcome=Outcome.PENDING).order_by("id").first()
        if item is None:
            break
        if not SlotCancellationOrder.objects.filter(pk=item.pk, outcome=Outcome.PENDING).update(
            outcome=Outcome.WORKING, updated_at=clock.now()
        ):
            continue  # another run took it
        _cancel_one(item, actor=actor, reason=cancellation.reason)
        _count(cancellation_id)
        if clock.monotonic() >= ends:
            queue(cancellation_id)
            return SlotCancellation.objects.get(pk=cancellation_id)
    if not cancellation.orders.filter(outcome=Outcome.WORKING).exists():
        SlotCancellation.objects.filter(pk=cancellation_id).exclude(
            state=SlotCancellation.State.DONE
        ).update(state=SlotCancellation.State.DONE, finished_at=clock.now(), updated_at=clock.now())
    _count(cancellation_id)
    return SlotCancellation.objects.get(pk=cancellation_id)


def _cancel_one(item: SlotCancellationOrder, *, actor: str, reason: str) -> None:
    order = Order.objects.select_related("payment").get(pk=item.order_id)
    back = staff.money_back(order)
    try:
        outcome = OUTCOMES[staff.cancel(order, actor=actor, reason=reason)]
        message = ""
    except DomainError as exc:
        outcome, message = Outcome.FAILED, str(exc.message)
    except Exception as exc:  # one order's bug must not stop the weather closing of the rest
        logger.exception("slot cancellation: order %s failed", order.code)
        outcome, message = Outcome.FAILED, _("Unexpected error: %(error)s") % {"error": repr(exc)}
    SlotCancellationOrder.objects.filter(pk=item.pk).update(
        outcome=outcome,
        amount=back.amount if outcome in (Outcome.REFUNDED, Outcome.CASH_DUE) else 0,
        message=message[:500],
        updated_at=clock.now(),
    )


def _count(cancellation_id: int) -> None:
    """The progress counters, recounted from the orders' outcomes (never drifts, never counts
    an order twice)."""
    counts = SlotCancellationOrder.objects.filter(cancellation_id=cancellation_id).aggregate(
        done=Count("pk", filter=Q(outcome__in=SlotCancellationOrder.FINISHED)),
        failed=Count("pk", filter=Q(outcome=Outcome.FAILED)),
    )
    SlotCancellation.objects.filter(pk=cancellation_id).update(**counts, updated_at=clock.now())


def resume_stale() -> int:
    """The sweeper's part: queue again the cancellations whose task was lost (nothing has
    moved them for STALE)."""
    lost = list(
        SlotCancellation.objects.filter(
            state__in=SlotCancellation.ACTIVE_STATES, updated_at__lte=clock.now() - STALE
        ).values_list("pk", flat=True)[:20]
    )
    for pk in lost:
        queue(pk)
    return len(lost)


def failures(cancellation: SlotCancellation) -> list[SlotCancellationOrder]:
    return list(
        cancellation.orders.filter(outcome=Outcome.FAILED).select_related("order").order_by("id")
    )
