"""Order services: book (hold), pay, learn of the payment's outcome, cancel, refund.

The shop, the public API, the admin and the tasks call these; they never write an order's state
themselves. Every transition is a compare-and-set on the old state inside one transaction, with
its capacity change (ticketing.inventory) and its audit record (OrderEvent); follow-up work
(e-mails, refunds) is queued on commit. No gateway call happens inside a transaction.

Payments are linked by reference "order:<code>"; payments never import ticketing and announce
outcomes through payments.signals (ticketing.receivers connects them to the functions below).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from payments import clock

from . import inventory
from .exceptions import (
    HoldExpired,
    InvalidBuyer,
    InvalidQuantity,
    OrderStateConflict,
    PaymentInProgress,
    PaymentUnavailable,
    SlotUnavailable,
    SoldOut,
)
from .models import Attraction, Order, OrderEvent, OrderLine, Ticket, TimeSlot

logger = logging.getLogger(__name__)

State = Order.State
REFERENCE_PREFIX = "order:"
PAYMENT_GRACE_SECONDS = 120


def hold_minutes() -> int:
    return int(getattr(settings, "TICKETING_HOLD_MINUTES", 15))


def max_admissions() -> int:
    return int(getattr(settings, "TICKETING_MAX_ADMISSIONS_PER_ORDER", 20))


def _event(order: Order, kind: str, from_state: str, to_state: str, actor: str, **detail) -> None:
    OrderEvent.objects.create(
        order=order,
        at=clock.now(),
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        actor=actor[:120],
        detail=detail,
    )


def _transition(order_id: int, from_states, to: str, **fields) -> bool:
    """Compare-and-set the state; True when this caller made the transition."""
    if isinstance(from_states, str):
        from_states = [from_states]
    return bool(
        Order.objects.filter(pk=order_id, state__in=list(from_states)).update(
            state=to, updated_at=clock.now(), **fields
        )
    )


# --- Booking ---------------------------------------------------------------------------------


def _clean_buyer(buyer_name, email, language, channel=Order.Channel.ONLINE) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    counter = channel == Order.Channel.BOX_OFFICE
    name = buyer_name.strip() if isinstance(buyer_name, str) else ""
    if not name and counter:
        name = _("Box office")
    if not name:
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
    # order_by(): the default ordering would join the attraction for nothing; `chosen` is
    # sorted below.
    types = {tt.id: tt for tt in attraction.ticket_types.filter(active=True).order_by()}
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
) -> Order:
    """Book: validate, then hold the places for the hold time, atomically; or raise.

    `channel` box_office (a counter sale): the e-mail may be empty (then no ticket e-mail) and
    the name defaults to "Box office".

    Raises SoldOut when the slot lacks the places (nothing is held), SlotUnavailable,
    InvalidQuantity, InvalidBuyer. Expired holds on the slot are returned first when the slot
    looks full, so an abandoned basket never blocks a real buyer for long.
    """
    if channel not in Order.Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    name, address, lang = _clean_buyer(buyer_name, email, language, channel)
    now = clock.now()
    if (
        not attraction.active
        or slot.attraction_id != attraction.id
        or not slot.is_open
        or slot.starts_at <= now
    ):
        raise SlotUnavailable()
    chosen = _clean_quantities(attraction, quantities)
    admissions = sum(tt.admissions * q for tt, q in chosen)
    total = sum((tt.price * q for tt, q in chosen), Decimal("0"))
    args = (attraction, slot, chosen, admissions, total, name, address, lang, channel, actor)
    try:
        return _book(*args)
    except SoldOut:
        # Return overdue holds, then try once more: the places may have been freed by us or,
        # concurrently, by another buyer's release (then ours found nothing left to expire).
        release_expired_holds(slot_id=slot.id)
    return _book(*args)


def _book(*args) -> Order:
    # A duplicate order code (31^8 of them) rolls the whole booking back, hold included, and
    # it is tried again with a new code: cheaper than a savepoint around every insert.
    for _attempt in range(5):
        try:
            return _book_once(*args)
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate an order code")  # pragma: no cover


def _book_once(
    attraction, slot, chosen, admissions, total, name, address, lang, channel, actor
) -> Order:
    now = clock.now()
    with transaction.atomic():
        inventory.take_hold(slot.id, admissions)
        order = Order.objects.create(
            attraction=attraction,
            slot=slot,
            buyer_name=name,
            email=address,
            language=lang,
            channel=channel,
            state=State.HELD,
            total=total,
            currency=attraction.currency,
            admissions=admissions,
            hold_expires_at=now + dt.timedelta(minutes=hold_minutes()),
            created_at=now,
            updated_at=now,
        )
        lines = OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    ticket_type=tt,
                    quantity=quantity,
                    unit_price=tt.price,
                    admissions_each=tt.admissions,
                )
                for tt, quantity in chosen
            ]
        )
        _event(
            order, "created", "", State.HELD, actor, admissions=admissions, slot=slot.id,
            channel=channel,
        )  # fmt: skip
    # The caller usually shows the lines at once: spare it a query (ticket types included).
    order.created_lines = lines
    return order


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


# --- Holds ending -------------------------------------------------------------------------------


def expire_order(order_id: int) -> bool:
    """End an overdue hold without a payment in flight; True if this call expired it."""
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.filter(pk=order_id).only("slot_id", "admissions", "state").first()
        if order is None or order.state != State.HELD:
            return False
        if not Order.objects.filter(pk=order_id, state=State.HELD, hold_expires_at__lte=now).update(
            state=State.EXPIRED, updated_at=now, outcome_reason="hold_expired"
        ):
            return False
        inventory.release_hold(order.slot_id, order.admissions)
        _event(order, "hold_expired", State.HELD, State.EXPIRED, "system")
    return True


def release_expired_holds(*, slot_id: int | None = None, limit: int = 500) -> int:
    """Expire overdue holds (the sweeper, and a sold-out slot before saying so)."""
    overdue = Order.objects.filter(state=State.HELD, hold_expires_at__lte=clock.now())
    if slot_id is not None:
        overdue = overdue.filter(slot_id=slot_id)
    ids = list(overdue.order_by("hold_expires_at").values_list("id", flat=True)[:limit])
    return sum(expire_order(order_id) for order_id in ids)


def cancel_order(
    order: Order, *, actor: str, reason: str = "", refund_if_paid: bool = True
) -> Order:
    """Cancel: a hold gives its places back; a paid order is refunded and its tickets revoked.

    With refund_if_paid=False a paid order raises OrderStateConflict instead: for callers that
    may only give back an unpaid hold (a cashier's "cancel sale"), decided in the same
    transaction as the cancel, so a payment landing meanwhile is never refunded by accident.
    """
    now = clock.now()
    with transaction.atomic():
        current = Order.objects.get(pk=order.pk)
        if current.state == State.HELD:
            if not _transition(current.pk, State.HELD, State.CANCELLED, outcome_reason="cancelled"):
                raise OrderStateConflict()
            inventory.release_hold(current.slot_id, current.admissions)
            _event(current, "cancelled", State.HELD, State.CANCELLED, actor, reason=reason)
        elif current.state == State.PAID and refund_if_paid:
            if not _transition(
                current.pk, State.PAID, State.REFUND_PENDING, outcome_reason="cancelled_refund"
            ):
                raise OrderStateConflict()
            inventory.release_sold(current.slot_id, current.admissions)
            _revoke_tickets(current.pk, now)
            _event(current, "cancelled", State.PAID, State.REFUND_PENDING, actor, reason=reason)
            transaction.on_commit(
                lambda: async_task("ticketing.tasks.refund_order", current.pk, reason)
            )
        elif current.state == State.AWAITING_PAYMENT:
            raise PaymentInProgress()
        else:
            raise OrderStateConflict()
    current.refresh_from_db()
    return current


def _revoke_tickets(order_id: int, now: dt.datetime) -> int:
    # Used tickets stay used (the visit happened); everything else stops admitting.
    return Ticket.objects.filter(order_id=order_id, state=Ticket.State.VALID).update(
        state=Ticket.State.REVOKED, revoked_at=now
    )


# --- Payment ------------------------------------------------------------------------------------


def _payment_model():
    from payments.models import Payment

    return Payment


def _describe(order: Order) -> str:
    local = order.slot.starts_at.astimezone(order.attraction.tz)
    return f"{order.attraction.name} {local:%Y-%m-%d %H:%M} x{order.admissions} ({order.code})"


def start_payment(order: Order):
    """Start (or return the in-flight) Alipay QR payment; the hold is kept while it runs.

    Returns the Payment (`qr_code`, `state`, `uuid`), or None for a free order (paid at once).
    Raises HoldExpired, OrderStateConflict, PaymentUnavailable (the hold is kept: retry later).
    """
    from payments import lifecycle

    def create(current: Order, remaining: int):
        # The QR lives as long as the hold plus a grace for a buyer who scanned at the last
        # moment and is still confirming; the hold in turn is kept while the payment is in flight.
        return lifecycle.create_qr_payment(
            amount=current.total,
            currency=current.currency,
            description=_describe(current),
            reference=current.payment_reference,
            deadline_seconds=min(max(remaining, 60), 7200),
            actor="ticketing",
        )

    return _start_order_payment(order, create, actor="buyer")


def start_counter_payment(order: Order, buyer_code: str, *, store_id: str, terminal_id: str,
                          actor: str):  # fmt: skip
    """At the box office: pay the order with the buyer's Alipay payment code (barcode flow).

    Returns the Payment as the first pay left it: paid (the order is paid, tickets issued),
    failed (the order is held again: scan another code while the hold lasts) or pending (the
    buyer is confirming with a PIN; the poller follows it to its end), or None for a free order.
    Raises payments.exceptions.InvalidBuyerCode for a code that is not an Alipay payment code
    (nothing changes), and what start_payment raises.
    """
    from payments import lifecycle

    # The lifecycle checks this too, but only once the order awaits its payment: check first so
    # a misread scan leaves the order held with nothing recorded.
    code = lifecycle.clean_buyer_code(buyer_code)

    def create(current: Order, remaining: int):
        return lifecycle.create_barcode_payment(
            amount=current.total,
            currency=current.currency,
            description=_describe(current),
            buyer_code=code,
            reference=current.payment_reference,
            store_id=store_id,
            terminal_id=terminal_id,
            actor=actor,
        )

    return _start_order_payment(order, create, actor=actor)


def _start_order_payment(order: Order, create, *, actor: str):
    """held -> awaiting_payment, then `create(order, seconds the hold has left + grace)` makes the
    payment; a payment that cannot start (or fails at once) gives the order back to held."""
    from payments.exceptions import PaymentError

    payment_model = _payment_model()
    now = clock.now()
    current = Order.objects.select_related("attraction", "slot", "payment").get(pk=order.pk)
    if current.state == State.AWAITING_PAYMENT:
        if current.payment is not None and current.payment.state in payment_model.ACTIVE_STATES:
            return current.payment
        raise PaymentInProgress()
    if current.state == State.EXPIRED:
        raise HoldExpired()
    if current.state != State.HELD:
        raise OrderStateConflict()
    if current.hold_expires_at <= now:
        expire_order(current.pk)
        raise HoldExpired()
    if current.total == 0:
        _settle_free_order(current)
        return None
    with transaction.atomic():
        if not Order.objects.filter(
            pk=current.pk, state=State.HELD, hold_expires_at__gt=now
        ).update(
            state=State.AWAITING_PAYMENT, payment=None, payment_started_at=now, updated_at=now
        ):
            # Someone else moved it first: a second click starting the same payment, or expiry.
            moved_to = Order.objects.filter(pk=current.pk).values_list("state", flat=True).first()
            if moved_to == State.AWAITING_PAYMENT:
                raise PaymentInProgress()
            raise HoldExpired() if moved_to in (State.HELD, State.EXPIRED) else OrderStateConflict()
        _event(current, "payment_started", State.HELD, State.AWAITING_PAYMENT, actor)
    remaining = int((current.hold_expires_at - now).total_seconds()) + PAYMENT_GRACE_SECONDS
    try:
        payment = create(current, remaining)
    except PaymentError as exc:
        logger.warning("order %s: payment could not start (%s)", current.code, exc.code)
        payment_ended(current.pk, None)
        raise PaymentUnavailable() from exc
    except Exception as exc:
        logger.exception("order %s: payment could not start", current.code)
        payment_ended(current.pk, None)
        raise PaymentUnavailable() from exc
    with transaction.atomic():
        Order.objects.filter(
            pk=current.pk, state=State.AWAITING_PAYMENT, payment__isnull=True
        ).update(payment=payment)
    # Its outcome may already be known (a precreate refused at once, a barcode pay declined or
    # even paid): its signal came before the order knew the payment, so apply it here. Both
    # paths are idempotent.
    payment.refresh_from_db()
    if payment.state in (payment_model.State.FAILED, payment_model.State.CANCELLED):
        payment_ended(current.pk, payment)
    return payment


def _settle_free_order(order: Order) -> None:
    with transaction.atomic():
        if not _transition(order.pk, State.HELD, State.PAID, paid_at=clock.now()):
            raise OrderStateConflict()
        inventory.confirm_hold(order.slot_id, order.admissions)
        _issue_tickets(order)
        _event(order, "paid", State.HELD, State.PAID, "system", free=True)
        transaction.on_commit(lambda: _queue_delivery(order.pk))


def payment_ended(order_id: int, payment) -> bool:
    """A payment failed or was cancelled: back to held while the hold lasts, else expired.

    Only the order's current attempt counts: `payment` must be the one the order points at
    (None while start_payment has not recorded it yet), so a stale failure is ignored.
    """
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.filter(pk=order_id).first()
        if order is None or order.state != State.AWAITING_PAYMENT:
            return False
        same = (order.payment_id is None) if payment is None else order.payment_id == payment.pk
        if not same:
            return False
        attempt = Order.objects.filter(
            pk=order_id, state=State.AWAITING_PAYMENT, payment=order.payment_id
        )
        if order.hold_expires_at > now:
            if not attempt.update(state=State.HELD, updated_at=now):
                return False
            _event(order, "payment_ended", State.AWAITING_PAYMENT, State.HELD, "system")
        else:
            if not attempt.update(
                state=State.EXPIRED, updated_at=now, outcome_reason="payment_not_completed"
            ):
                return False
            inventory.release_hold(order.slot_id, order.admissions)
            _event(order, "payment_ended", State.AWAITING_PAYMENT, State.EXPIRED, "system")
    return True


def order_for_payment(payment) -> Order | None:
    reference = payment.reference or ""
    if not reference.startswith(REFERENCE_PREFIX):
        return None
    return Order.objects.filter(code=reference[len(REFERENCE_PREFIX) :]).first()


def payment_paid(payment) -> str:
    """A payment for an order succeeded. Returns what happened (for logs and tests).

    Held (or awaiting) -> paid and tickets issued. Expired -> honoured when the places can be
    taken again, otherwise refunded and the buyer told. A second payment for an order already
    paid, or a payment for a cancelled order, is refunded. Repeated signals change nothing.
    """
    order = order_for_payment(payment)
    if order is None:
        logger.error("paid payment %s has no order (reference %r)", payment.uuid, payment.reference)
        return "no_order"
    now = clock.now()
    refund_reason = None
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if payment.amount != order.total or payment.currency != order.currency:
            outcome = "amount_mismatch"
            _event(
                order,
                "payment_mismatch",
                order.state,
                order.state,
                "system",
                payment=str(payment.uuid),
            )
            refund_reason = "amount_mismatch"
        elif order.state in Order.HOLDING_STATES:
            if not _transition(order.pk, order.state, State.PAID, payment=payment, paid_at=now):
                raise RuntimeError("order changed under a row lock")
            inventory.confirm_hold(order.slot_id, order.admissions)
            _issue_tickets(order)
            _event(order, "paid", order.state, State.PAID, "system", payment=str(payment.uuid))
            transaction.on_commit(lambda: _queue_delivery(order.pk))
            outcome = "paid"
        elif order.state == State.EXPIRED:
            if inventory.take_sold(order.slot_id, order.admissions):
                _transition(
                    order.pk,
                    State.EXPIRED,
                    State.PAID,
                    payment=payment,
                    paid_at=now,
                    outcome_reason="late_payment_honoured",
                )
                _issue_tickets(order)
                _event(
                    order,
                    "paid_late",
                    State.EXPIRED,
                    State.PAID,
                    "system",
                    payment=str(payment.uuid),
                )
                transaction.on_commit(lambda: _queue_delivery(order.pk))
                outcome = "paid_late"
            else:
                _transition(
                    order.pk,
                    State.EXPIRED,
                    State.REFUND_PENDING,
                    payment=payment,
                    paid_at=now,
                    outcome_reason="late_payment_sold_out",
                )
                _event(
                    order, "paid_late_sold_out", State.EXPIRED, State.REFUND_PENDING, "system",
                    payment=str(payment.uuid),
                )  # fmt: skip
                order_id = order.pk
                transaction.on_commit(
                    lambda: async_task("ticketing.tasks.refund_order", order_id, "sold_out")
                )
                outcome = "refund_sold_out"
        elif order.state == State.CANCELLED:
            _transition(
                order.pk,
                State.CANCELLED,
                State.REFUND_PENDING,
                payment=payment,
                paid_at=now,
                outcome_reason="paid_after_cancel",
            )
            _event(order, "paid_after_cancel", State.CANCELLED, State.REFUND_PENDING, "system")
            order_id = order.pk
            transaction.on_commit(
                lambda: async_task("ticketing.tasks.refund_order", order_id, "cancelled")
            )
            outcome = "refund_cancelled"
        elif order.payment_id == payment.pk:
            outcome = "already_applied"
        else:
            # Paid twice (two QR codes both scanned): keep the first, give this one back.
            _event(
                order,
                "duplicate_payment",
                order.state,
                order.state,
                "system",
                payment=str(payment.uuid),
            )
            refund_reason = "duplicate_payment"
            outcome = "refund_duplicate"
        if refund_reason:
            payment_id = payment.pk
            transaction.on_commit(
                lambda: async_task("ticketing.tasks.refund_payment", payment_id, refund_reason)
            )
    logger.info("order %s: payment %s paid -> %s", order.code, payment.uuid, outcome)
    return outcome


def payment_refunded(payment) -> str:
    """A refund of an order's payment succeeded: the order is refunded once fully repaid.

    A full refund made outside ticketing (payments admin, partner API) of a paid order cancels
    it: tickets revoked, places back.
    """
    payment_model = _payment_model()
    order = order_for_payment(payment)
    if order is None or order.payment_id != payment.pk:
        return "not_ours"
    fully = payment.state == payment_model.State.REFUNDED
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not fully:
            _event(order, "partial_refund", order.state, order.state, "system")
            return "partial"
        if order.state == State.REFUND_PENDING:
            _transition(order.pk, State.REFUND_PENDING, State.REFUNDED)
            _event(order, "refunded", State.REFUND_PENDING, State.REFUNDED, "system")
            return "refunded"
        if order.state == State.PAID:
            _transition(order.pk, State.PAID, State.REFUNDED, outcome_reason="refunded")
            inventory.release_sold(order.slot_id, order.admissions)
            _revoke_tickets(order.pk, now)
            _event(order, "refunded", State.PAID, State.REFUNDED, "system")
            return "refunded"
    return "unchanged"


def _issue_tickets(order: Order) -> list[Ticket]:
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


def _queue_delivery(order_id: int) -> None:
    # A counter sale without an e-mail address has its tickets printed, not sent.
    if Order.objects.filter(pk=order_id).exclude(email="").exists():
        async_task("ticketing.tasks.deliver_tickets", order_id)


# --- Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderStatus:
    code: str
    state: str
    state_label: str
    hold_expires_at: dt.datetime
    seconds_left: int
    payment_state: str | None
    qr_code: str
    paid: bool
    can_retry_payment: bool
    tickets_ready: bool
    outcome_reason: str
    message: str


def _status_message(order: Order) -> str:
    messages = {
        State.HELD: _("Your places are reserved. Please pay before the reservation ends."),
        State.AWAITING_PAYMENT: _("Scan the QR code with Alipay to pay."),
        State.PAID: _("Paid. Your e-tickets are ready."),
        State.EXPIRED: _("The reservation ended before payment; please book again."),
        State.CANCELLED: _("This order was cancelled."),
        State.REFUND_PENDING: _("Your payment is being refunded."),
        State.REFUNDED: _("Your payment has been refunded."),
    }
    if order.outcome_reason == "late_payment_sold_out":
        return _(
            "Your payment arrived after the reservation ended and the time slot is now full, "
            "so the payment is refunded in full."
        )
    if order.outcome_reason == "late_payment_honoured" and order.state == State.PAID:
        return _("Your payment arrived after the reservation ended, but places were still free.")
    return str(messages.get(order.state, ""))


def order_status(order: Order) -> OrderStatus:
    """What a buyer sees while waiting: state, time left, payment state, QR; expires lazily."""
    now = clock.now()
    if order.state == State.HELD and order.hold_expires_at <= now:
        expire_order(order.pk)
    order = Order.objects.select_related("payment").get(pk=order.pk)
    payment = order.payment
    payment_state = payment.state if payment is not None else None
    in_flight = order.state == State.AWAITING_PAYMENT
    seconds_left = max(int((order.hold_expires_at - now).total_seconds()), 0)
    return OrderStatus(
        code=order.code,
        state=order.state,
        state_label=str(order.get_state_display()),
        hold_expires_at=order.hold_expires_at,
        seconds_left=seconds_left if order.state in Order.HOLDING_STATES else 0,
        payment_state=payment_state,
        qr_code=payment.qr_code if (in_flight and payment is not None) else "",
        paid=order.state == State.PAID,
        can_retry_payment=order.state == State.HELD and seconds_left > 0,
        tickets_ready=order.state == State.PAID,
        outcome_reason=order.outcome_reason,
        message=_status_message(order),
    )
