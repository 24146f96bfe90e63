"""Hand-made sales for the report tests: orders, payments, refunds and gate scans written row by row
at chosen moments, so every expected figure can be worked out by hand. Each is counted in the
report's daily rows as the services count theirs (ticketing.reports.ledger, in the transaction
that writes it), so the report reads them from its summary as well as from the raw rows."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from decimal import Decimal

from django.db import transaction

from payments import clock
from payments.models import Payment, Refund
from payments.transitions import transition_payment
from ticketing.models import (
    Attraction,
    Order,
    OrderLine,
    SlotChange,
    Ticket,
    TicketType,
    TimeSlot,
)
from ticketing.reports import ledger

_numbers = itertools.count(1)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def local(zone, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


class Shop:
    def __init__(self, slug: str, name: str, zone: str, currency: str, prices: dict[str, str]):
        self.attraction = Attraction.objects.create(
            slug=slug, name=name, timezone=zone, currency=currency
        )
        self.zone = zoneinfo.ZoneInfo(zone)
        self.types = {
            code: TicketType.objects.create(
                attraction=self.attraction, code=code, name=code.title(), price=Decimal(price)
            )
            for code, price in prices.items()
        }
        starts = local(self.zone, 2026, 11, 20, 10)
        self.slot = TimeSlot.objects.create(
            attraction=self.attraction,
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            local_date=starts.date(),
            capacity=100,
        )

    def order(self, **kwargs) -> Order:
        with transaction.atomic():
            return self._order(**kwargs)

    def _order(
        self,
        *,
        paid_at: dt.datetime | None,
        state: str = Order.State.PAID,
        channel: str = Order.Channel.ONLINE,
        refunds: tuple[tuple[str, str, dt.datetime | None], ...] = (),
        used_at: tuple[dt.datetime, ...] = (),
        **quantities: int,
    ) -> Order:
        """An order of `quantities` (ticket type code -> units), paid at `paid_at` (None: never
        paid), with `refunds` as (amount, refund state, succeeded_at) on its payment and one
        ticket per unit, the first ones scanned at the gate at `used_at`."""
        number = next(_numbers)
        currency = self.attraction.currency
        total = sum(
            (self.types[code].price * units for code, units in quantities.items()), Decimal(0)
        )
        created = (paid_at or local(self.zone, 2026, 11, 1)) - dt.timedelta(minutes=5)
        payment = None
        if paid_at is not None:
            refunded = sum(
                (Decimal(a) for a, s, _at in refunds if s == Refund.State.SUCCEEDED), Decimal(0)
            )
            payment = Payment.objects.create(
                reference=f"order:R{number:07d}",
                amount=total,
                currency=currency,
                description="report test",
                channel=Payment.Channel.QR,
                partner_trans_id=f"2R{number:010d}",
                state=(
                    Payment.State.PAID
                    if not refunded
                    else Payment.State.REFUNDED
                    if refunded == total
                    else Payment.State.PARTIALLY_REFUNDED
                ),
                paid_at=paid_at,
                created_at=created,
            )
            for index, (amount, refund_state, succeeded_at) in enumerate(refunds):
                Refund.objects.create(
                    payment=payment,
                    partner_refund_id=f"RF{number:07d}-{index}",
                    amount=Decimal(amount),
                    state=refund_state,
                    succeeded_at=succeeded_at,
                )
        order = Order.objects.create(
            code=f"R{number:07d}",
            attraction=self.attraction,
            slot=self.slot,
            buyer_name="Report Buyer",
            email="buyer@example.com",
            language="en",
            state=state,
            channel=channel,
            total=total,
            currency=currency,
            admissions=sum(quantities.values()),
            hold_expires_at=created + dt.timedelta(minutes=15),
            payment=payment,
            paid_at=paid_at,
            created_at=created,
            updated_at=created,
        )
        scans = list(used_at)
        ticket_number = itertools.count(1)
        for code, units in quantities.items():
            ticket_type = self.types[code]
            line = OrderLine.objects.create(
                order=order,
                ticket_type=ticket_type,
                quantity=units,
                unit_price=ticket_type.price,
                admissions_each=1,
            )
            if paid_at is None:
                continue
            for _unit in range(units):
                scanned = scans.pop(0) if scans else None
                ticket = Ticket.objects.create(
                    order=order,
                    line=line,
                    ticket_type=ticket_type,
                    slot=self.slot,
                    number=next(ticket_number),
                    price=ticket_type.price,
                    state=Ticket.State.USED if scanned else Ticket.State.VALID,
                    issued_at=paid_at,
                    used_at=scanned,
                )
                if scanned:
                    ledger.ticket_admitted(ticket.pk)
        if paid_at is not None:
            ledger.order_paid(order.pk)
        return order


def partner_payment(
    amount: str, currency: str, paid_at: dt.datetime, refunds: tuple[str, ...] = ()
) -> Payment:
    """A payment the partner API took (its partner_trans_id prefix) with no order behind it."""
    with transaction.atomic():
        return _partner_payment(amount, currency, paid_at, refunds)


def _partner_payment(amount, currency, paid_at, refunds) -> Payment:
    number = next(_numbers)
    payment = Payment.objects.create(
        reference=f"pos-{number}",
        amount=Decimal(amount),
        currency=currency,
        description="partner sale",
        channel=Payment.Channel.BARCODE,
        partner_trans_id=f"EK{number:010d}",
        store_id="store-1",
        state=Payment.State.PARTIALLY_REFUNDED if refunds else Payment.State.PAID,
        paid_at=paid_at,
        created_at=paid_at - dt.timedelta(seconds=30),
    )
    ledger.payment_paid(payment.pk)
    for index, amount in enumerate(refunds):
        refund = Refund.objects.create(
            payment=payment,
            partner_refund_id=f"EKR{number:07d}-{index}",
            amount=Decimal(amount),
            state=Refund.State.SUCCEEDED,
            succeeded_at=paid_at + dt.timedelta(hours=1),
        )
        ledger.refund_succeeded(refund.pk)
    return payment


def paid_difference(
    order: Order,
    amount: str,
    paid_at: dt.datetime,
    refunds: tuple[tuple[str, dt.datetime], ...] = (),
    *,
    made: bool = True,
) -> SlotChange:
    """A change of time of `order` whose price difference `amount` was paid at `paid_at` (its own
    payment), with `refunds` as (amount, succeeded_at) on that payment; `made=False` for a change
    not made (its difference refunded), which counts for nothing."""
    number = next(_numbers)
    payment = Payment.objects.create(
        reference=f"order:{order.code}:change",
        amount=Decimal(amount),
        currency=order.currency,
        description="report test difference",
        channel=Payment.Channel.QR,
        partner_trans_id=f"2D{number:010d}",
        state=Payment.State.PARTIALLY_REFUNDED if refunds else Payment.State.PAID,
        paid_at=paid_at,
        created_at=paid_at - dt.timedelta(minutes=1),
    )
    for index, (refund, succeeded_at) in enumerate(refunds):
        Refund.objects.create(
            payment=payment,
            partner_refund_id=f"2D{number:010d}-TC{index}",
            amount=Decimal(refund),
            state=Refund.State.SUCCEEDED,
            succeeded_at=succeeded_at,
        )
    with transaction.atomic():
        change = SlotChange.objects.create(
            order=order,
            from_slot=order.slot,
            to_slot=order.slot,
            admissions=order.admissions,
            amount=Decimal(amount),
            currency=order.currency,
            state=SlotChange.State.CHANGED if made else SlotChange.State.REFUNDED,
            hold_expires_at=paid_at,
            payment=payment,
            created_at=paid_at,
            updated_at=paid_at,
        )
        ledger.difference_paid(change.pk)
    return change


def reverse(payment: Payment, at: dt.datetime, *, undo_at: dt.datetime | None = None) -> None:
    """The paid `payment` reversed at `at` the way the lifecycle records it (paid, cancelling,
    cancelled, the clock frozen there; needs the `clock` fixture), and with `undo_at` found paid
    at Alipay after all at that moment. No outcome signal: these hand-made orders have no
    tickets to revoke."""
    clock.freeze(at)
    moves = [(Payment.State.PAID, Payment.State.CANCELLING)]
    moves.append((Payment.State.CANCELLING, Payment.State.CANCELLED))
    for current, to in moves:
        assert transition_payment(
            payment.pk, to=to, from_states=[current], actor="test", kick=False, announce=False
        )
    if undo_at is not None:
        clock.freeze(undo_at)
        assert transition_payment(
            payment.pk,
            to=Payment.State.PAID,
            from_states=[Payment.State.CANCELLED],
            actor="test",
            announce=False,
        )


def sample_sales() -> tuple[Shop, Shop]:
    """The month the figure tests read (November 2026), worked out by hand in their asserts."""
    museum = Shop("museum", "Museum", "Asia/Shanghai", "CNY", {"adult": "80.00", "child": "40.00"})
    tower = Shop("tower", "Tower", "Asia/Tokyo", "JPY", {"adult": "1500"})
    # Paid online, 2 adults + 1 child = 200.00, two of its tickets scanned at the gate.
    museum.order(
        paid_at=local(SHANGHAI, 2026, 11, 10, 10),
        used_at=(local(SHANGHAI, 2026, 11, 20, 10, 5), local(SHANGHAI, 2026, 11, 20, 10, 6)),
        adult=2,
        child=1,
    )
    # Refunded in full two days after it was paid.
    museum.order(
        paid_at=local(SHANGHAI, 2026, 11, 10, 12),
        state=Order.State.REFUNDED,
        refunds=(("80.00", Refund.State.SUCCEEDED, local(SHANGHAI, 2026, 11, 12, 9)),),
        adult=1,
    )
    # Partially refunded: 40.00 given back; a failed 30.00 refund gives back nothing.
    museum.order(
        paid_at=local(SHANGHAI, 2026, 11, 11, 9),
        refunds=(
            ("40.00", Refund.State.SUCCEEDED, local(SHANGHAI, 2026, 11, 11, 15)),
            ("30.00", Refund.State.FAILED, None),
        ),
        adult=2,
    )
    # Cancelled before payment: no sale at all.
    museum.order(paid_at=None, state=Order.State.CANCELLED, adult=3)
    # Sold at the box office.
    museum.order(
        paid_at=local(SHANGHAI, 2026, 11, 11, 16), channel=Order.Channel.BOX_OFFICE, child=1
    )
    # Yen have no minor units.
    tower.order(paid_at=local(TOKYO, 2026, 11, 10, 23, 30), adult=2)
    # The partner API: 55.00 taken, 5.00 given back, counted in the site's zone (UTC in tests).
    partner_payment("55.00", "CNY", dt.datetime(2026, 11, 10, 8, tzinfo=dt.UTC), ("5.00",))
    return museum, tower
