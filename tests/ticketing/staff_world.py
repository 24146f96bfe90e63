"""Helpers of the staff refund tests: orders sold online and at the box office (Alipay and cash)
over the sandbox's real HTTP, the admin's addresses, and what a buyer's mailbox holds.
"""

from __future__ import annotations

from django.core import mail

from ticketing.counter import sales
from ticketing.models import Order, Shift, Ticket, TimeSlot
from ticketing.views.box_office import BOX_OFFICE_GROUP

from ..box_office.helpers import member, on_shift
from ..payments.helpers import SUCCESS
from .helpers import Booking
from .money_world import paid_online_order

ORDERS = "/admin/ticketing/order/"
SLOTS = "/admin/ticketing/timeslot/"
PAYMENTS = "/admin/payments/payment/"


def order_url(order: Order, what: str = "change") -> str:
    return f"{ORDERS}{order.pk}/{what}/"


def paid_order(world: Booking, slot: TimeSlot, **counts):
    """An order paid online by QR (order, payment), its tickets e-mail already out of the way:
    the mailbox then holds only what staff's actions send."""
    order, payment = paid_online_order(world, slot, **counts)
    mail.outbox.clear()
    return order, payment


def mails_about(order: Order) -> list:
    """The e-mails sent to the order's buyer that name the order."""
    return [
        m
        for m in mail.outbox
        if order.email and order.email in m.to and (order.code in m.subject or order.code in m.body)
    ]


def valid_numbers(order: Order) -> list[int]:
    return sorted(order.tickets.filter(state=Ticket.State.VALID).values_list("number", flat=True))


def counter_shift() -> Shift:
    """A cashier with a shift open on a till of their own (CNY)."""
    cashier = on_shift(member(BOX_OFFICE_GROUP))
    return Shift.objects.get(cashier=cashier, state=Shift.State.OPEN)


def counter_sale(world: Booking, shift: Shift, slot: TimeSlot, *, email: str = "", **counts):
    return sales.book(
        shift,
        attraction=world.attraction,
        slot=slot,
        quantities=world.quantities(**(counts or {"adult": 1})),
        buyer_name="Walk In" if email else "",
        email=email,
        language="en",
        actor=f"box-office:{shift.cashier.username}",
    )


def counter_cash_sale(world: Booking, shift: Shift, slot: TimeSlot, **kwargs) -> Order:
    """A counter sale paid in cash; the mailbox then holds only what comes after."""
    order = counter_sale(world, shift, slot, **kwargs)
    sales.pay_cash(order, shift, str(order.total), actor=shift.cashier.username)
    mail.outbox.clear()  # the tickets e-mail
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.payment_id is None
    return order


def counter_alipay_sale(world: Booking, shift: Shift, slot: TimeSlot, **kwargs) -> Order:
    """A counter sale paid with the buyer's Alipay code; the mailbox then holds what follows."""
    order = counter_sale(world, shift, slot, **kwargs)
    sales.start_alipay(order, shift, SUCCESS, store_id="BOX-OFFICE", actor=shift.cashier.username)
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.payment_id is not None
    return order
