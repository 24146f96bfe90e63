"""Counter sales in a shift: book, pay in cash or with Alipay, cancel, refund.

A counter order is tied to the shift that booked it (CounterSale) and is paid only in that shift:
two tills' money never mixes. Cash needs no gateway: held -> paid through ticketing.orders'
move_order with the places confirmed and the tickets issued as for Alipay, and the cash goes into
the shift's ledger in the same transaction. A refund at the counter is recorded in the refunding
cashier's open shift: a cash sale is paid back from the drawer (paid -> refunded at once), an
Alipay or online sale goes back to the buyer's Alipay account through ticketing.orders.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock

from .. import inventory, orders
from ..exceptions import (
    HoldExpired,
    InvalidCash,
    OrderStateConflict,
    OtherShift,
    PaymentInProgress,
    SelfApproval,
    ShiftConflict,
)
from ..models import CounterRefund, CounterSale, Order, Shift, TillMovement
from .denominations import parse_amount
from .shifts import record

State = Order.State
Method = CounterSale.Method


def _check_open(shift: Shift) -> None:
    if not Shift.objects.filter(pk=shift.pk, state=Shift.State.OPEN).exists():
        raise ShiftConflict(_("This shift is closed: open a new one."))


def book(shift: Shift, **order_fields) -> Order:
    """create_order at the counter (channel box_office), tied to `shift` in the same transaction."""
    _check_open(shift)
    attraction = order_fields["attraction"]
    if attraction.currency != shift.currency:
        raise ShiftConflict(
            _("This till's shift takes %(currency)s: open a shift in %(other)s to sell this.")
            % {"currency": shift.currency, "other": attraction.currency}
        )
    with transaction.atomic():
        order = orders.create_order(channel=Order.Channel.BOX_OFFICE, **order_fields)
        CounterSale.objects.create(order=order, shift=shift, created_at=clock.now())
    return order


def sale_of(order: Order) -> CounterSale | None:
    return CounterSale.objects.filter(order_id=order.pk).select_related("shift").first()


def check_same_shift(order: Order, shift: Shift) -> None:
    """A counter sale is paid or cancelled only in the shift that booked it."""
    sale = sale_of(order)
    if sale is None or sale.shift_id != shift.pk:
        raise OtherShift()


def start_alipay(order: Order, shift: Shift, buyer_code: str, *, store_id: str, actor: str):
    """Pay a counter sale with the buyer's Alipay payment code, the till as Alipay's terminal."""
    _check_open(shift)
    check_same_shift(order, shift)
    payment = orders.start_counter_payment(
        order, buyer_code, store_id=store_id, terminal_id=f"TILL-{shift.till_id}", actor=actor
    )
    CounterSale.objects.filter(order_id=order.pk).update(method=Method.ALIPAY)
    return payment


def pay_cash(order: Order, shift: Shift, tendered, *, actor: str) -> TillMovement:
    """Pay a held counter sale in cash: held -> paid, tickets issued, the cash in the drawer.

    Returns the ledger row (tendered, change). Raises InvalidCash (not an amount, or less than
    the total), OtherShift, HoldExpired, PaymentInProgress (an Alipay payment is running: cancel
    it or wait), OrderStateConflict.
    """
    _check_open(shift)
    check_same_shift(order, shift)
    if order.currency != shift.currency:
        raise OtherShift()
    cash = parse_amount(tendered, order.currency)
    if cash < order.total:
        raise InvalidCash(_("The cash handed over is less than the total."))
    now = clock.now()
    with transaction.atomic():
        current = Order.objects.select_for_update().get(pk=order.pk)
        if current.state == State.AWAITING_PAYMENT:
            raise PaymentInProgress()
        if current.state == State.EXPIRED or (
            current.state == State.HELD and current.hold_expires_at <= now
        ):
            raise HoldExpired()
        if current.state != State.HELD:
            raise OrderStateConflict()
        if not orders.move_order(
            current,
            to=State.PAID,
            from_states=State.HELD,
            kind="paid",
            actor=actor,
            fields={"paid_at": now},
            where={"hold_expires_at__gt": now},
            detail={"method": "cash"},
        ):
            raise HoldExpired()
        inventory.confirm_hold(current.slot_id, current.admissions)
        orders.issue_tickets(current)
        movement = TillMovement.objects.create(
            shift=shift,
            kind=TillMovement.Kind.SALE,
            amount=current.total,
            tendered=cash,
            change=cash - current.total,
            order=current,
            at=now,
            actor=actor,
        )
        CounterSale.objects.filter(order_id=current.pk).update(method=Method.CASH)
        record(shift, "cash_sale", actor, order=current.code, amount=str(current.total))
        transaction.on_commit(lambda: orders.queue_delivery(current.pk))
    return movement


def paid_in_cash(order: Order) -> bool:
    return TillMovement.objects.filter(order_id=order.pk, kind=TillMovement.Kind.SALE).exists()


def cancel(order: Order, shift: Shift, *, actor: str) -> Order:
    """A cashier's "cancel sale" of an unpaid counter sale of this shift (a void)."""
    _check_open(shift)
    check_same_shift(order, shift)
    cancelled = orders.cancel_counter_sale(order, actor=actor)
    record(shift, "void", actor, order=order.code, amount=str(order.total))
    return cancelled


def refund(order: Order, shift: Shift, *, actor: str, supervisor, reason: str) -> CounterRefund:
    """Refund a paid order at the counter, approved by `supervisor` (already authenticated and
    checked to be a box office supervisor by the caller), recorded in the open `shift`.

    A cash sale is paid back from the drawer at once (paid -> refunded, tickets revoked, places
    back); any other paid order is cancelled and refunded to Alipay (ticketing.orders). A cash
    sale staff already cancelled in the admin (refund_pending, its tickets revoked and places
    back, its cash owed) is paid out the same way. Raises SelfApproval when the supervisor is the
    shift's cashier, OrderStateConflict.
    """
    _check_open(shift)
    if supervisor.pk == shift.cashier_id:
        raise SelfApproval()
    approver = supervisor.get_username()
    now = clock.now()
    reason = (reason or "").strip()[:200]
    with transaction.atomic():
        current = Order.objects.select_for_update().get(pk=order.pk)
        owed = orders.cash_due(current) and paid_in_cash(current)
        if current.state != State.PAID and not owed:
            raise OrderStateConflict(_("Only a paid order can be refunded."))
        if paid_in_cash(current):
            if current.currency != shift.currency:
                raise OtherShift()
            method = Method.CASH
            if not orders.move_order(
                current,
                to=State.REFUNDED,
                from_states=current.state,
                kind="refunded",
                actor=f"{actor} approved by {approver}",
                fields={"outcome_reason": Order.OutcomeReason.CANCELLED_REFUND},
                detail={"method": "cash", "reason": reason},
            ):
                raise OrderStateConflict()
            if not owed:  # cancelled in the admin: its places and tickets went back then
                inventory.release_sold(current.slot_id, current.admissions)
                orders.revoke_tickets(current.pk, now)
            TillMovement.objects.create(
                shift=shift,
                kind=TillMovement.Kind.REFUND,
                amount=-current.total,
                order=current,
                at=now,
                actor=f"{actor} approved by {approver}",
            )
        else:
            method = Method.ALIPAY
            orders.refund_counter_sale(current, actor=actor, supervisor=approver, reason=reason)
        counter_refund = CounterRefund.objects.create(
            order=current,
            shift=shift,
            method=method,
            amount=current.total,
            supervisor=approver,
            reason=reason,
            at=now,
        )
        record(
            shift,
            "refund",
            actor,
            order=current.code,
            method=method,
            amount=str(current.total),
            supervisor=approver,
        )
    return counter_refund
