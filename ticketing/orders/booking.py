"""Booking: check the buyer and the tickets chosen, hold the places, find an order again."""

from __future__ import annotations

import datetime as dt
import hmac
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock, rows

from .. import inventory
from ..exceptions import InvalidBooking, InvalidBuyer, InvalidQuantity, SlotUnavailable, SoldOut
from ..models import Attraction, Order, OrderLine, TicketType, TimeSlot
from ..models.orders import new_order_code
from .holds import release_expired_holds
from .states import State, record_event


def hold_minutes() -> int:
    return int(getattr(settings, "TICKETING_HOLD_MINUTES", 15))


def max_admissions() -> int:
    return int(getattr(settings, "TICKETING_MAX_ADMISSIONS_PER_ORDER", 20))


def _clean_buyer(buyer_name, email, language, channel=Order.Channel.ONLINE) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    counter = channel == Order.Channel.BOX_OFFICE
    name = buyer_name.strip() if isinstance(buyer_name, str) else ""
    # A walk-in at the counter need not give a name: it stays empty (receipts and e-mails then
    # address nobody by name), never a placeholder printed as if it were one.
    if not name and not counter:
        errors["buyer_name"] = [_("Please enter your name.")]
    elif len(name) > 120:
        errors["buyer_name"] = [_("Please use at most 120 characters.")]
    address = email.strip() if isinstance(email, str) else ""
    try:
        if len(address) > 254:
            raise ValidationError("too long")
        if address or not counter:  # at the counter the e-mail is optional
            validate_email(address)
    except ValidationError:
        errors["email"] = [_("Please enter a valid e-mail address.")]
    known = {code.lower(): code for code, _name in settings.LANGUAGES}
    lang = known.get(language.strip().lower()) if isinstance(language, str) else None
    if lang is None:
        errors["language"] = [_("Choose one of: %(codes)s.") % {"codes": ", ".join(known)}]
    if errors:
        raise InvalidBuyer(fields=errors)
    return name, address, lang


def _clean_quantities(attraction: Attraction, quantities) -> list[tuple[object, int]]:
    """[(ticket type, quantity)] for quantities above zero, or InvalidQuantity."""
    if not isinstance(quantities, dict) or not quantities:
        raise InvalidQuantity(fields={"quantities": [_("Choose at least one ticket.")]})
    # Unordered (`chosen` is sorted below), and built once rather than per booking (rows.select).
    types = {
        tt.id: tt
        for tt in rows.select(TicketType, {"attraction_id": attraction.id, "active": True})
    }
    chosen = []
    for raw_id, raw_quantity in quantities.items():
        try:
            type_id = int(raw_id)
        except (TypeError, ValueError):
            type_id = None
        ticket_type = types.get(type_id)
        if ticket_type is None:
            raise InvalidQuantity(
                _("This ticket type is not on sale."),
                fields={"quantities": [_("Unknown ticket type %(id)s.") % {"id": raw_id}]},
            )
        if isinstance(raw_quantity, bool) or not isinstance(raw_quantity, int):
            raise InvalidQuantity(fields={"quantities": [_("Quantities must be whole numbers.")]})
        if raw_quantity < 0 or raw_quantity > max_admissions():
            raise InvalidQuantity(
                fields={
                    "quantities": [
                        _("Choose between 0 and %(max)s tickets of each type.")
                        % {"max": max_admissions()}
                    ]
                }
            )
        if raw_quantity:
            chosen.append((ticket_type, raw_quantity))
    chosen.sort(key=lambda pair: (pair[0].sort_order, pair[0].id))
    admissions = sum(tt.admissions * q for tt, q in chosen)
    tickets = sum(tt.tickets_per_unit * q for tt, q in chosen)
    if admissions < 1:
        raise InvalidQuantity(
            _("Choose at least one ticket that admits a visitor."),
            fields={"quantities": [_("Free tickets need an accompanying paid ticket.")]},
        )
    if admissions > max_admissions() or tickets > 2 * max_admissions():
        raise InvalidQuantity(
            _("At most %(max)s visitors per order.") % {"max": max_admissions()},
            fields={"quantities": [_("At most %(max)s visitors.") % {"max": max_admissions()}]},
        )
    return chosen


def check_quantities(attraction: Attraction, quantities) -> None:
    """Raise InvalidQuantity when `quantities` could not be booked (the checks of create_order),
    for an edge that found other problems first and reports them all together."""
    _clean_quantities(attraction, quantities)


def _clean_booking(attraction, quantities, buyer_name, email, language, channel, slot_unavailable):
    """The buyer's details and the tickets, both checked before either is reported: a buyer who
    left everything empty learns every problem at once. A slot not on sale is said after the
    buyer's details and before the tickets, whose types may belong to another attraction."""
    problems: list[InvalidBuyer | InvalidQuantity] = []
    buyer = chosen = None
    try:
        buyer = _clean_buyer(buyer_name, email, language, channel)
    except InvalidBuyer as error:
        problems.append(error)
    if slot_unavailable:
        raise problems[0] if problems else SlotUnavailable()
    try:
        chosen = _clean_quantities(attraction, quantities)
    except InvalidQuantity as error:
        problems.append(error)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        fields = {name: list(messages) for p in problems for name, messages in p.fields.items()}
        raise InvalidBooking(fields=fields)
    return buyer, chosen


def create_order(
    *,
    attraction: Attraction,
    slot: TimeSlot,
    quantities: dict[int, int],
    buyer_name: str,
    email: str,
    language: str,
    channel: str = Order.Channel.ONLINE,
    actor: str = "buyer",
    client_key: str = "",
) -> Order:
    """Book: validate, then hold the places for the hold time, atomically; or raise.

    `channel` box_office (a counter sale): the e-mail and the name may be empty (then no ticket
    e-mail), and the slot is sold until it ends (the visitor is at the door); online, until it
    starts. `client_key`: the booking client's hashed address (ticketing.hold_limits), counted
    against its cap of unpaid holds.

    Raises SoldOut when the slot lacks the places (nothing is held), SlotUnavailable,
    InvalidQuantity, InvalidBuyer, or InvalidBooking when both the buyer's details and the
    quantities are wrong (its `fields` has every problem). Expired holds on the slot are returned
    first when the slot looks full, so an abandoned basket never blocks a real buyer for long.
    """
    if channel not in Order.Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    now = clock.now()
    slot_unavailable = (
        not attraction.active
        or slot.attraction_id != attraction.id
        or not slot.is_open
        or not _on_sale(slot, channel, now)
    )
    (name, address, lang), chosen = _clean_booking(
        attraction, quantities, buyer_name, email, language, channel, slot_unavailable
    )
    admissions = sum(tt.admissions * q for tt, q in chosen)
    total = sum((tt.price * q for tt, q in chosen), Decimal("0"))
    args = (
        attraction, slot, chosen, admissions, total, name, address, lang, channel, actor, client_key
    )  # fmt: skip
    try:
        return _book(*args)
    except SoldOut:
        # Return overdue holds, then try once more: the places may have been freed by us or,
        # concurrently, by another buyer's release (then ours found nothing left to expire).
        release_expired_holds(slot_id=slot.id)
    return _book(*args)


def _book(
    attraction, slot, chosen, admissions, total, name, address, lang, channel, actor, client_key
) -> Order:
    now = clock.now()
    # savepoint=False: nothing in here raises for a reason anyone recovers from (a full slot is
    # said after the block, a taken order code is skipped below), so inside a caller's
    # transaction (the API's, with its idempotency record) no savepoint is needed: on PostgreSQL
    # two round trips fewer per booking.
    with transaction.atomic(savepoint=False):
        held = inventory.hold(slot.id, admissions)
        if held:
            # rows.insert: the statements Order.objects.create() would send, without building
            # them anew for every booking (payments/rows.py).
            order = Order(
                attraction=attraction,
                slot=slot,
                buyer_name=name,
                email=address,
                language=lang,
                channel=channel,
                client_key=client_key,
                state=State.HELD,
                total=total,
                currency=attraction.currency,
                admissions=admissions,
                hold_expires_at=now + dt.timedelta(minutes=hold_minutes()),
                created_at=now,
                updated_at=now,
            )
            # A code already taken (31^8 of them) is skipped, not an error: draw another.
            for _attempt in range(5):
                if rows.insert(order, skip_conflict=True) is not None:
                    break
                order.code = new_order_code()
            else:
                raise RuntimeError("could not allocate an order code")  # pragma: no cover
            lines = [
                rows.insert(
                    OrderLine(
                        order=order,
                        ticket_type=tt,
                        quantity=quantity,
                        unit_price=tt.price,
                        admissions_each=tt.admissions,
                    )
                )
                for tt, quantity in chosen
            ]
            # Booking creates the row in its first state: nothing to compare-and-set, only to
            # record.
            record_event(
                order, "created", "", State.HELD, actor, admissions=admissions, slot=slot.id,
                channel=channel,
            )  # fmt: skip
    if not held:
        inventory.raise_not_held(slot.id)
    # The caller usually shows the lines at once: spare it a query (ticket types included).
    order.created_lines = lines
    return order


def _on_sale(slot: TimeSlot, channel: str, now: dt.datetime) -> bool:
    if channel == Order.Channel.BOX_OFFICE:
        return slot.ends_at > now
    return slot.starts_at > now


def bookable_slots(attraction: Attraction, day: dt.date, channel: str = Order.Channel.ONLINE):
    """The day's slots on sale now, in time order: open and not started (online), or not ended
    (the box office's `channel`). Whether places are left is create_order's to say, under its
    lock."""
    slots = TimeSlot.objects.filter(attraction=attraction, local_date=day, is_open=True)
    if channel == Order.Channel.BOX_OFFICE:
        return slots.filter(ends_at__gt=clock.now()).order_by("starts_at")
    return slots.filter(starts_at__gt=clock.now()).order_by("starts_at")


def find_order(code: str, *, email: str | None = None, token: str | None = None) -> Order | None:
    """The order with this code, if the caller proves they booked it (e-mail or token)."""
    if not isinstance(code, str) or not 4 <= len(code.strip()) <= 12:
        return None
    order = (
        Order.objects.select_related("attraction", "slot", "payment")
        .filter(code=code.strip().upper())
        .first()
    )
    if order is None:
        return None
    if token and hmac.compare_digest(str(token).encode(), order.token.encode()):
        return order
    if email and isinstance(email, str) and email.strip().lower() == order.email.lower():
        return order
    return None
