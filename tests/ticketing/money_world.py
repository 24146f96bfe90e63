"""Shared helpers of the "money and tickets part ways" regression tests.

Orders are booked and paid through ticketing.orders and the sandbox over real HTTP; what a
reversal or a refund must leave behind is read back from the public surfaces that show it: the
order and its tickets, the slot's counters, the gate's revocation list (GET /tickets/revoked),
the gate's check-in page (POST /gate/) and the buyer's mailbox.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client

from payments import lifecycle
from payments.models import Payment
from payments.sandbox.models import SandboxTrade
from payments.sandbox.notify import deliver_due_notifications
from payments.sandbox.trades import buyer_confirms
from tests.helpers import no_worker
from tests.ticketing.helpers import Booking, make_attraction
from ticketing import inventory, orders
from ticketing.etickets.faces import order_faces
from ticketing.models import Order, SlotChange, Ticket, TimeSlot
from ticketing.orders import rebooking
from ticketing.views.gate import GATE_STAFF_GROUP

SUCCESS_CODE = "280000000000000001"
BUYER_EMAIL = "money@example.com"
# Where money has gone back, the order may end cancelled or refunded: both stop admitting.
UNWOUND_STATES = (Order.State.CANCELLED, Order.State.REFUNDED)


def set_up_world(alipay_gateway: dict, settings) -> Booking:
    """A bookable attraction and the sandbox over HTTP with a patient client.

    Each test module's fixture calls this with the shared fixtures it asked for (the clock frozen,
    the mailbox captured).
    """
    # A slow sandbox reply on a busy machine must not turn into an unknown outcome here.
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    return Booking(make_attraction())


def book(world: Booking, slot: TimeSlot, **counts) -> Order:
    return world.order(slot, email=BUYER_EMAIL, **(counts or {"adult": 2}))


def trade(payment: Payment) -> SandboxTrade:
    return SandboxTrade.objects.get(partner_trans_id=payment.partner_trans_id)


def start_qr(order: Order) -> Payment:
    """The shop's QR payment, with no worker chasing it to its deadline inline."""
    with no_worker():
        return orders.start_payment(order)


def wallet_pays(payment: Payment) -> None:
    """The buyer pays in the sandbox wallet; its notification reaches the site over HTTP."""
    assert buyer_confirms(trade(payment))
    deliver_due_notifications()
    payment.refresh_from_db()
    if payment.state != Payment.State.PAID:
        lifecycle.refresh_from_gateway(payment, generation=None, actor="test:wallet")


def paid_online_order(world: Booking, slot: TimeSlot, **counts) -> tuple[Order, Payment]:
    order = book(world, slot, **counts)
    payment = start_qr(order)
    wallet_pays(payment)
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.payment_id == payment.pk
    return order, Payment.objects.get(pk=payment.pk)


def dearer(world: Booking, price: str = "90.00") -> None:
    """The adult ticket costs more from now on: a change of time is a dearer one."""
    adult = world.types["adult"]
    adult.price = Decimal(price)
    adult.save()


def ask(order: Order, slot, amount: str | None = "20.00", key: str = "") -> SlotChange:
    """The buyer confirms the difference; the QR payment starts with no worker chasing it."""
    with no_worker():
        rebooking.change_slot(
            order, slot.pk, key=key, pay_difference=Decimal(amount) if amount else None
        )
    return SlotChange.objects.filter(order=order).latest("pk")


def tokens_of(order: Order) -> list[str]:
    """The QR tokens printed on the order's tickets (read before any revocation hides them)."""
    return [face.token for face in order_faces(order)]


def revoked_uuids(client: Client) -> set[str]:
    """What a gate learns from the published revocation list."""
    seen: set[str] = set()
    since = None
    while True:
        params = {"since": since} if since else {}
        answer = client.get("/tickets/revoked", params)
        assert answer.status_code == 200, answer.content[:500]
        body = answer.json()
        seen |= {row["uuid"] for row in body["revoked"]}
        if not body["more"]:
            return seen
        since = body["next_since"]


def gate_client() -> Client:
    user = User.objects.create_user("gate-money", password="pw-gate-money-1234")
    user.groups.add(Group.objects.get_or_create(name=GATE_STAFF_GROUP)[0])
    client = Client()
    client.force_login(user)
    return client


def sent_to_buyer_since(count_before: int, order: Order) -> list:
    return [
        m
        for m in mail.outbox[count_before:]
        if BUYER_EMAIL in m.to and (order.code in m.subject or order.code in m.body)
    ]


def assert_tickets_stop_admitting(order: Order, mails_before: int) -> None:
    """The rule: money went back, so the order is unwound in full and the buyer told."""
    order.refresh_from_db()
    assert order.state in UNWOUND_STATES, f"order still {order.state} after its money went back"
    states = set(order.tickets.values_list("state", flat=True))
    assert states == {Ticket.State.REVOKED}, f"tickets still {states}"
    slot = TimeSlot.objects.get(pk=order.slot_id)
    assert (slot.held, slot.sold) == (0, 0), "the places were not given back"
    assert inventory.check_capacity([slot.pk]) == []
    published = revoked_uuids(Client())
    assert {str(u) for u in order.tickets.values_list("uuid", flat=True)} <= published
    assert sent_to_buyer_since(mails_before, order), "the buyer was not told"
