"""The only code that writes an order's state: compare-and-set, audit record and signal together.

A move is `UPDATE ... WHERE pk = id AND state IN (old)` inside one transaction with its
OrderEvent; it returns whether it happened, so two workers or two requests can never both make
it, and every caller decides what a refusal means. `order_changed` is sent on commit, so it is
announced once and only for what was committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

from payments import clock, rows

from ..models import Order, OrderEvent
from ..reports import ledger
from ..signals import order_changed

logger = logging.getLogger(__name__)

State = Order.State


def record_event(
    order: Order, kind: str, from_state: str, to_state: str, actor: str, **detail
) -> None:
    """An audit record; on its own only for what changes no state (a mismatch, a duplicate)."""
    rows.insert(  # one per state change: the statement is built once (payments/rows.py)
        OrderEvent(
            order_id=order.pk,
            at=clock.now(),
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            actor=actor[:120],
            detail=detail,
        )
    )


def move_order(
    order: Order,
    *,
    to: str,
    from_states: str | Iterable[str],
    kind: str,
    actor: str,
    fields: dict | None = None,
    where: dict | None = None,
    detail: dict | None = None,
) -> bool:
    """Move `order` from one of `from_states` to `to`; True when this call made the move.

    `fields` are written in the same UPDATE; `where` narrows it further (a hold still running,
    the payment attempt the caller means). The audit event `kind` (with `detail`) is written
    in the same transaction, with the sales report's daily rows when `fields` set `paid_at`,
    and `order_changed` is sent once it commits.
    """
    olds = [from_states] if isinstance(from_states, str) else list(from_states)
    with transaction.atomic():
        rows = Order.objects.filter(pk=order.pk, **(where or {}))
        if len(olds) == 1:
            current = olds[0]
        else:
            # The event records the state actually left: read it, then compare-and-set on it.
            current = rows.filter(state__in=olds).values_list("state", flat=True).first()
            if current is None:
                return False
        updated = rows.filter(state=current).update(
            state=to, updated_at=clock.now(), **(fields or {})
        )
        if not updated:
            return False
        record_event(order, kind, current, to, actor, **(detail or {}))
        if (fields or {}).get("paid_at") is not None:
            # An order is paid once (nothing moves a paid order back to a hold): its sale
            # counts in the sales report's daily rows from this transaction on.
            ledger.order_paid(order.pk)
        # Queued only when someone listens: no receiver, no commit hook to run (or count).
        if order_changed.has_listeners(Order):
            announce = {"order_id": order.pk, "from_state": current, "to_state": to}
            transaction.on_commit(lambda: _announce(**announce, kind=kind, actor=actor))
    return True


def _announce(**kwargs) -> None:
    for receiver, response in order_changed.send_robust(sender=Order, **kwargs):
        if isinstance(response, Exception):
            logger.error("order signal receiver %r failed: %r", receiver, response)
