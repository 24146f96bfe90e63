"""A change of time slot that costs more than the buyer paid: its new places held while the
buyer pays the difference with Alipay, and what became of it.

A change to tickets that cost the same or less is made at once (ticketing.orders.rebooking). A
dearer one first holds the new places, counted in the new slot's `held` like an order's hold,
and moves the tickets only once the difference is paid (ticketing.orders.slot_changes):

    awaiting_payment             -> to_slot.held   (kept while its payment is in flight)
    changed, released, refunded  -> nothing        (sold to the order, or given back)

State fields are written only by ticketing.orders.slot_changes, always as a compare-and-set on
the old state, with an OrderEvent in the order's history.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .orders import Order
from .slots import TimeSlot


class SlotChange(models.Model):
    class State(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment of the difference")
        CHANGED = "changed", _("Changed")
        RELEASED = "released", _("Not paid: places given back")
        REFUNDED = "refunded", _("Paid but not made: difference refunded")

    class Outcome(models.TextChoices):
        """Why a change ended without moving the tickets (blank while pending or once made)."""

        PAYMENT_NOT_COMPLETED = "payment_not_completed", _("The difference was not paid in time")
        GIVEN_UP = "given_up", _("The buyer kept the current time")
        PAID_TOO_LATE = "paid_too_late", _("Paid after the new places were given back")
        ORDER_CHANGED = "order_changed", _("The order changed before the payment arrived")

    HOLDING_STATES = (State.AWAITING_PAYMENT,)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="slot_changes")
    from_slot = models.ForeignKey(
        TimeSlot, on_delete=models.PROTECT, related_name="+", verbose_name=_("from")
    )
    to_slot = models.ForeignKey(
        TimeSlot, on_delete=models.PROTECT, related_name="+", verbose_name=_("to")
    )
    # Places held on to_slot: the order's admissions when the change was asked for.
    admissions = models.PositiveIntegerField(_("admissions"))
    # Today's price of each ticket moved, by its number ({"1": "90.00"}): the new tickets carry
    # the prices the buyer was charged for, even if the catalogue changes meanwhile.
    prices = models.JSONField(default=dict)
    amount = models.DecimalField(_("difference"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.AWAITING_PAYMENT
    )
    outcome = models.CharField(_("outcome"), max_length=30, blank=True, choices=Outcome.choices)
    # The idempotency key of the request that asked for it (also in the order's history).
    key = models.CharField(max_length=255, blank=True, default="")
    hold_expires_at = models.DateTimeField(_("places held until"))
    # Claimed by whoever starts the payment, so two requests never start two.
    payment_started_at = models.DateTimeField(null=True, blank=True)
    # The difference's payment: written in the transaction that inserts it (payments' on_record),
    # which is how its outcome finds this change.
    payment = models.OneToOneField(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="slot_change",
        verbose_name=_("payment"),
    )
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        ordering = ["order", "created_at", "id"]
        constraints = [
            # One change at a time: a second one waits until the first is paid or given up.
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(state="awaiting_payment"),
                name="slotchange_one_pending_per_order",
            )
        ]
        indexes = [
            models.Index(fields=["state", "hold_expires_at"], name="slotchange_state_expiry"),
        ]
        verbose_name = _("time slot change")
        verbose_name_plural = _("time slot changes")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_slot_id} -> {self.to_slot_id}"

    @property
    def numbers(self) -> list[int]:
        return sorted(int(n) for n in self.prices)
