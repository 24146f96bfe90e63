"""An order's e-tickets: issued once with the order paid, revoked when it is undone, e-mailed."""

from __future__ import annotations

import datetime as dt

from django_q.tasks import async_task

from payments import clock

from ..models import Order, OrderLine, Ticket


def issue_tickets(order: Order) -> list[Ticket]:
    """One ticket per admission (one for a free infant); created once, with the order paid."""
    if Ticket.objects.filter(order_id=order.pk).exists():
        return []
    now = clock.now()
    tickets = []
    number = 0
    for line in OrderLine.objects.filter(order_id=order.pk).select_related("ticket_type"):
        parts = max(line.admissions_each, 1)
        for _unit in range(line.quantity):
            for part in range(1, parts + 1):
                number += 1
                tickets.append(
                    Ticket(
                        order_id=order.pk,
                        line=line,
                        ticket_type_id=line.ticket_type_id,
                        slot_id=order.slot_id,
                        number=number,
                        part=part,
                        parts=parts,
                        price=line.unit_price,
                        issued_at=now,
                    )
                )
    return Ticket.objects.bulk_create(tickets)


def queue_delivery(order_id: int) -> None:
    # A counter sale without an e-mail address has its tickets printed, not sent.
    if Order.objects.filter(pk=order_id).exclude(email="").exists():
        async_task("ticketing.tasks.deliver_tickets", order_id)


def revoke_tickets(order_id: int, now: dt.datetime) -> int:
    # Used tickets stay used (the visit happened); everything else stops admitting.
    return Ticket.objects.filter(order_id=order_id, state=Ticket.State.VALID).update(
        state=Ticket.State.REVOKED, revoked_at=now
    )
