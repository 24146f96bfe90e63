"""Orders, their lines, the e-tickets they issue and the audit trail of every transition.

An order holds places in one slot. Its state says what its admissions count as on the slot:

    held, awaiting_payment  -> slot.held      (awaiting_payment: a payment is in flight, the hold is
                                               kept past its expiry until that payment ends)
    paid                    -> slot.sold
    expired, cancelled,
    refund_pending, refunded -> nothing        (capacity went back when the state was entered)

State fields are written only by ticketing.orders.states.move_order, always as a compare-and-set
on the old state.
"""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .catalogue import Attraction, TicketType, localized
from .slots import TimeSlot

# Order codes: no 0/O, 1/I/L, so they survive being read aloud or typed from paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def new_order_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_order_token() -> str:
    """The secret that lets a buyer (or the API client that booked) read the order again."""
    return secrets.token_urlsafe(24)


class Order(models.Model):
    class State(models.TextChoices):
        HELD = "held", _("Reserved")
        AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        REFUND_PENDING = "refund_pending", _("Refund in progress")
        REFUNDED = "refunded", _("Refunded")

    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        BOX_OFFICE = "box_office", _("Box office")

    class OutcomeReason(models.TextChoices):
        """Why the order ended as it did (blank while nothing has ended it)."""

        HOLD_EXPIRED = "hold_expired", _("Reservation ended before payment")
        PAYMENT_NOT_COMPLETED = "payment_not_completed", _("Payment not completed in time")
        CANCELLED = "cancelled", _("Cancelled before payment")
        CANCELLED_REFUND = "cancelled_refund", _("Cancelled after payment and refunded")
        LATE_PAYMENT_HONOURED = "late_payment_honoured", _("Late payment honoured")
        LATE_PAYMENT_SOLD_OUT = "late_payment_sold_out", _("Late payment refunded: slot full")
        PAID_AFTER_CANCEL = "paid_after_cancel", _("Paid after cancellation and refunded")
        REFUNDED = "refunded", _("Refunded")
        PAYMENT_RETURNED = "payment_returned", _("Payment given back to the buyer")
        REVIEW_EXPIRED = "review_expired", _("Places given back: payment under review too long")
        REVIEW_REFUNDED = "review_refunded", _("Payment under review given back to the buyer")
        LATE_PAYMENT_SLOT_OVER = "late_payment_slot_over", _("Late payment refunded: slot over")

    HOLDING_STATES = (State.HELD, State.AWAITING_PAYMENT)
    SOLD_STATES = (State.PAID,)

    code = models.CharField(_("order code"), max_length=12, unique=True, default=new_order_code)
    token = models.CharField(max_length=64, default=new_order_token, editable=False)
    attraction = models.ForeignKey(Attraction, on_delete=models.PROTECT, related_name="orders")
    slot = models.ForeignKey(TimeSlot, on_delete=models.PROTECT, related_name="orders")
    buyer_name = models.CharField(_("buyer name"), max_length=120)
    # Empty only for a counter sale whose buyer gave no address (tickets printed, not sent).
    email = models.EmailField(_("e-mail"), blank=True)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.HELD)
    # Where it was sold: the shop or API (online) or the box office counter.
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.ONLINE
    )
    # Who booked online, as a keyed hash of their address (never the address itself): caps how
    # many unpaid holds one client may keep (ticketing/hold_limits.py). Empty at the box office.
    client_key = models.CharField(max_length=64, blank=True, default="", editable=False)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    # Places this order takes from its slot (sum of quantity x ticket type admissions).
    admissions = models.PositiveIntegerField(_("admissions"))
    hold_expires_at = models.DateTimeField(_("hold expires at"))
    # The payment currently in flight, or the one that paid. Every payment ticketing starts for
    # this order is also linked to it by an OrderPayment row, which is how payment signals find
    # their order (the payment's free-text reference is only a label for Alipay's reports).
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment"),
    )
    payment_started_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    # Claimed by ticketing.etickets.delivery when the ticket e-mail goes out (sent once).
    tickets_sent_at = models.DateTimeField(null=True, blank=True)
    # Set once a refund has been asked of the payment lifecycle (refund_pending orders).
    refund_requested_at = models.DateTimeField(null=True, blank=True)
    # While its payment needs attention (the lifecycle gave up, staff decide), an order awaiting
    # it keeps its places until this time, then gives them back (ticketing/orders/review.py).
    review_ends_at = models.DateTimeField(_("under review until"), null=True, blank=True)
    # Why the order ended as it did, for the buyer and staff.
    outcome_reason = models.CharField(max_length=60, blank=True, choices=OutcomeReason.choices)
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "hold_expires_at"], name="order_state_expiry"),
            models.Index(fields=["slot", "state"], name="order_slot_state"),
            models.Index(fields=["client_key", "state"], name="order_client_state"),
            # The sales report reads each time zone's attractions' orders by the time they were
            # paid (ticketing.reports): one index range per attraction, not the whole period.
            models.Index(fields=["attraction", "paid_at"], name="order_attraction_paid"),
        ]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        # Cancelling a paid order also refunds it: the admin asks for payments.refund_payment too.
        # Refunds within the support limit unless payments.refund_without_limit.
        permissions = [
            ("cancel_order", "Can cancel orders"),
            ("refund_order_amount", "Can refund part of an order by amount"),
            ("refund_order_tickets", "Can refund tickets of an order"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def payment_reference(self) -> str:
        return f"order:{self.code}"

    @property
    def is_holding(self) -> bool:
        return self.state in self.HOLDING_STATES

    def amount_charged(self) -> Decimal:
        """What the order cost the buyer in all: its total, and every price difference paid to
        change its time (its own payments: ticketing.orders.slot_changes)."""
        made = self.slot_changes.filter(state=self.slot_changes.model.State.CHANGED)
        return self.total + sum(made.values_list("amount", flat=True), Decimal("0"))


class OrderPayment(models.Model):
    """A payment ticketing started for an order, written in the transaction that inserts the
    payment: every attempt (a duplicate, a late one) finds its order by this link alone. A
    payment taken by anyone else (a partner API terminal) has none, so it never settles an order.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payment_links")
    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, related_name="order_link"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("order payment")
        verbose_name_plural = _("order payments")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.payment_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    # Copied at booking time: a later price change never alters an order.
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)
    admissions_each = models.PositiveSmallIntegerField(_("admissions each"))

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "ticket_type"], name="orderline_unique_type")
        ]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.quantity} x {self.ticket_type_id}"

    @property
    def line_total(self):
        return self.unit_price * self.quantity


class Ticket(models.Model):
    """One admission: what a gate scans. Issued when the order is paid, one per admission."""

    class State(models.TextChoices):
        VALID = "valid", _("Valid")
        USED = "used", _("Used")
        REVOKED = "revoked", _("Revoked")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tickets")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="tickets")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="+")
    slot = models.ForeignKey(TimeSlot, on_delete=models.PROTECT, related_name="tickets")
    # 1..n within the order: "ticket 3 of 7".
    number = models.PositiveSmallIntegerField()
    # A family ticket issues one ticket per admission: part 2 of 4 of the same unit.
    part = models.PositiveSmallIntegerField(default=1)
    parts = models.PositiveSmallIntegerField(default=1)
    # The unit's price (a family ticket's four parts each show the family price).
    price = models.DecimalField(max_digits=10, decimal_places=2)
    state = models.CharField(max_length=10, choices=State.choices, default=State.VALID)
    issued_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="ticket_unique_number")
        ]
        # The gates' incremental revocation list (ticketing.etickets.views) reads by these.
        indexes = [
            models.Index(fields=["state", "revoked_at"], name="ticket_state_revoked"),
            # The sales report counts admissions by the time of their gate scan.
            models.Index(fields=["used_at"], name="ticket_used_at"),
        ]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")

    def __str__(self) -> str:
        return f"{self.order_id}#{self.number}"

    def type_name(self, language: str | None) -> str:
        return localized(self.ticket_type, "name", language)


class OrderEvent(models.Model):
    """The audit record written in the same transaction as each order transition."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    actor = models.CharField(max_length=120, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order", "at", "id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"
