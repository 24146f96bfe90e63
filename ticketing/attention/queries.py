"""What needs a person, oldest first: payments and refunds the lifecycle gave up on, orders whose
payment is under review, and reconciliation differences still open.

Each queue costs a fixed number of queries whatever its length (a count and its oldest age in
one aggregate, then the oldest rows with what they show joined in), so the page and the index
line stay cheap with hundreds waiting. A queue is read only for staff who may view its model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from payments.models import Payment, Refund
from payments.reconciliation.models import Difference

from ..models import Order

# The oldest rows listed per queue on the page; the count is always the whole queue's.
ROWS = 50

PERMISSIONS = {
    "payments": "payments.view_payment",
    "refunds": "payments.view_refund",
    "orders": "ticketing.view_order",
    "differences": "reconciliation.view_difference",
}


@dataclass
class Queue:
    key: str
    title: str
    count: int
    # When the oldest row started waiting (a datetime), or its day for differences (a date).
    oldest: dt.datetime | dt.date | None
    url: str
    rows: list = field(default_factory=list)
    # Differences: open ones per severity.
    by_severity: dict[str, int] = field(default_factory=dict)


def may_see(user) -> list[str]:
    """The queues this staff user may see (by the view permission of each queue's model)."""
    return [key for key, perm in PERMISSIONS.items() if user.has_perm(perm)]


def _payments(rows: bool) -> Queue:
    waiting = Payment.objects.filter(state=Payment.State.NEEDS_ATTENTION)
    totals = waiting.aggregate(count=Count("id"), oldest=Min("updated_at"))
    queue = Queue(
        "payments",
        _("Payments needing attention"),
        totals["count"],
        totals["oldest"],
        reverse("admin:payments_payment_changelist") + "?state__exact=needs_attention",
    )
    if rows and queue.count:
        queue.rows = list(
            waiting.select_related("order_link__order").order_by("updated_at", "id")[:ROWS]
        )
    return queue


def _refunds(rows: bool) -> Queue:
    waiting = Refund.objects.filter(state=Refund.State.NEEDS_ATTENTION)
    totals = waiting.aggregate(count=Count("id"), oldest=Min("updated_at"))
    queue = Queue(
        "refunds",
        _("Refunds needing attention"),
        totals["count"],
        totals["oldest"],
        reverse("admin:payments_refund_changelist") + "?state__exact=needs_attention",
    )
    if rows and queue.count:
        queue.rows = list(waiting.select_related("payment").order_by("updated_at", "id")[:ROWS])
    return queue


def _orders(rows: bool) -> Queue:
    """Orders whose payment needs attention (held for review, or past it), or whose refund
    does; ages count from when their payment (or refund) started waiting."""
    refund_waiting = Refund.objects.filter(
        payment=OuterRef("payment"), state=Refund.State.NEEDS_ATTENTION
    )
    reviewing = Order.objects.filter(
        Q(payment__state=Payment.State.NEEDS_ATTENTION)
        | Q(Exists(refund_waiting), state=Order.State.REFUND_PENDING)
    )
    totals = reviewing.aggregate(count=Count("id"), oldest=Min("payment__updated_at"))
    queue = Queue(
        "orders",
        _("Orders with a payment under review"),
        totals["count"],
        totals["oldest"],
        reverse("admin:ticketing_order_changelist"),
    )
    if rows and queue.count:
        queue.rows = list(
            reviewing.select_related("payment", "attraction", "slot").order_by(
                "payment__updated_at", "id"
            )[:ROWS]
        )
    return queue


def _differences() -> Queue:
    totals = Difference.objects.filter(is_open=True).aggregate(
        count=Count("id"),
        oldest=Min("day"),
        **{
            severity: Count("id", filter=Q(severity=severity))
            for severity in Difference.Severity.values
        },
    )
    return Queue(
        "differences",
        _("Reconciliation differences open"),
        totals["count"],
        totals["oldest"],
        reverse("admin:reconciliation_difference_changelist") + "?is_open__exact=1",
        by_severity={
            Difference.Severity(severity).label: totals[severity]
            for severity in Difference.Severity.values
            if totals[severity]
        },
    )


def queues(user, *, rows: bool) -> list[Queue]:
    """The queues `user` may see, with their oldest rows when `rows` (the page) or counts and
    ages alone (the index)."""
    shown = may_see(user)
    readers = {
        "payments": lambda: _payments(rows),
        "refunds": lambda: _refunds(rows),
        "orders": lambda: _orders(rows),
        "differences": _differences,
    }
    return [readers[key]() for key in shown]
