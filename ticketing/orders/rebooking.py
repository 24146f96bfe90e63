"""Changing a paid order's time slot: same attraction, same tickets.

A change to tickets that cost the same or less now is made at once: one transaction takes the
new places, releases the old, revokes the old tickets and issues new ones (ticketing.orders.
moving), and records the refund of any difference (sent by the poller) across the order's
payments. A dearer one needs the buyer to confirm the difference (`pay_difference`, the amount
they were shown); its new places are then held while they pay it with Alipay, and the tickets
move once it is paid (ticketing.orders.slot_changes).

Both run under the order's payments' and the order's row locks (ticketing.orders.self_service),
so a cancel from another device waits and then sees the order as the change left it.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock

from ..exceptions import OrderStateConflict, PriceDifferenceDue
from ..models import Order, TimeSlot
from . import money, policy, slot_changes
from .buyer_notices import tell_buyer_of_change_on_commit
from .moving import ChangeQuote, move_tickets, quote_change
from .refunding import TICKET_CANCEL_SUFFIX
from .self_service import (
    BUYER,
    already_done,
    clean_key,
    locked,
    refuse_while_changing,
    valid_units,
)
from .states import record_event

logger = logging.getLogger(__name__)

__all__ = ["ChangeQuote", "change_slot", "price_difference", "quote_change", "slots_to_change_to"]

REFUND_REASON = "Time slot changed: price difference"


def slots_to_change_to(order: Order) -> list[TimeSlot]:
    """Open slots of the same attraction the order's tickets would fit in, soonest first."""
    now = clock.now()
    rules = policy.policy_for(order.attraction)
    return [
        slot
        for slot in TimeSlot.objects.filter(
            attraction_id=order.attraction_id, is_open=True, starts_at__gt=now
        )
        .exclude(pk=order.slot_id)
        .order_by("starts_at")[:200]
        if slot.places_left >= order.admissions and policy.may_change(rules, slot.starts_at, now)
    ]


def price_difference(order: Order) -> Decimal:
    """Today's prices of the order's valid tickets less what was paid for them (+: more due)."""
    units = valid_units(order)
    return sum((unit.ticket_type.price - unit.price for unit in units), Decimal("0"))


def change_slot(
    order: Order,
    slot_id: int,
    *,
    key: str = "",
    actor: str = BUYER,
    pay_difference: Decimal | None = None,
) -> Order:
    """Move the order's valid tickets to another slot; the order afterwards.

    Dearer now: without `pay_difference` equal to the difference, raises PriceDifferenceDue
    (saying how much); with it, holds the new places and starts the difference's Alipay QR
    payment (slot_changes.pending: its `payment.qr_code`), and the tickets move once it is paid.
    Raises PaymentUnavailable when that payment cannot start: the places stay held, and the
    same request (same key) tries again.
    """
    key = clean_key(key)
    change = None
    with transaction.atomic():
        current = locked(order)
        if already_done(current, key):
            change = slot_changes.change_asked_with(current, key)
            if change is None or change.state != change.State.AWAITING_PAYMENT:
                return current
            # Asked before: its payment may not have started then (gateway down). Try again.
        else:
            refuse_while_changing(current)
            now = clock.now()
            quote = quote_change(current, slot_id, now)
            if quote.difference > 0:
                if pay_difference is None or Decimal(pay_difference) != quote.difference:
                    raise PriceDifferenceDue(quote.difference, quote.currency)
                change = slot_changes.hold_places(current, quote, key=key, actor=actor)
            else:
                _change_now(current, quote, key=key, actor=actor, now=now)
    if change is not None:
        slot_changes.start_payment(change)
    current.refresh_from_db()
    return current


def _change_now(order: Order, quote: ChangeQuote, *, key: str, actor: str, now) -> None:
    """Same price or cheaper: the tickets move in this transaction, the difference refunded."""
    old_slot_id = move_tickets(
        order, quote.slot, quote.numbers, quote.prices, places_held=False, now=now
    )
    if quote.difference < 0 and order.payment is None:
        # Paid in cash at the box office: the difference can only be given back there.
        raise OrderStateConflict(
            _("The difference for this order can only be refunded at the box office.")
        )
    refund = min(-quote.difference, money.refundable(order))
    record_event(
        order,
        "slot_changed",
        order.state,
        order.state,
        actor,
        key=key,
        from_slot=old_slot_id,
        to_slot=quote.slot.pk,
        refund=str(refund),
    )
    if refund > 0:
        # Marked as a ticket change ("TCS"): the tickets were already dealt with here.
        money.record_order_refund(
            order,
            refund,
            reason=REFUND_REASON,
            suffix=f"{TICKET_CANCEL_SUFFIX}S{quote.units[0].number}",
        )
    tell_buyer_of_change_on_commit(order.pk, "slot_changed", {"refund": str(refund)})
    logger.info("order %s: moved from slot %s to %s", order.code, old_slot_id, quote.slot.pk)
