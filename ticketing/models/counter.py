"""The box office counter: tills, cashiers' shifts, and the cash drawer's ledger.

Cash is taken at the counter with no gateway, so it is not a payments.Payment (that table is the
Alipay lifecycle): each cash movement is a `TillMovement` row of the shift it happened in (the
opening float, a cash sale, a cash refund), written once and never changed, with who did it. An
order sold at the counter is tied to the shift that sold it by a `CounterSale`; the shift's Alipay
totals are read from those orders' payments, never typed in.

A till has at most one open shift and a cashier at most one open shift (database constraints), so
two tills' money never mixes. A shift moves open -> closed once, by compare-and-set, with its
`ShiftEvent`; ticketing.counter owns every write here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .orders import Order


class Till(models.Model):
    """A named device with a cash drawer (a counter PC or a phone used as mPOS)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("till")
        verbose_name_plural = _("tills")

    def __str__(self) -> str:
        return self.name


class Shift(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    till = models.ForeignKey(Till, on_delete=models.PROTECT, related_name="shifts")
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(_("currency"), max_length=3)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    opened_at = models.DateTimeField(_("opened at"))
    opening_float = models.DecimalField(_("opening float"), max_digits=12, decimal_places=2)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # {"100.00": 3, "0.50": 2}: how many of each note and coin were counted at the close.
    counted = models.JSONField(_("counted by denomination"), default=dict, blank=True)
    counted_cash = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    expected_cash = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    variance = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    # The supervisor who approved a variance over the threshold (username), blank if none needed.
    approved_by = models.CharField(_("approved by"), max_length=150, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["till"], condition=Q(state="open"), name="shift_one_open_per_till"
            ),
            models.UniqueConstraint(
                fields=["cashier"], condition=Q(state="open"), name="shift_one_open_per_cashier"
            ),
        ]
        indexes = [models.Index(fields=["till", "opened_at"], name="shift_till_opened")]
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")

    def __str__(self) -> str:
        return f"{self.till} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN


class TillMovement(models.Model):
    """Cash into or out of a shift's drawer; amounts are signed (a refund is negative)."""

    class Kind(models.TextChoices):
        FLOAT = "float", _("Opening float")
        SALE = "sale", _("Cash sale")
        REFUND = "refund", _("Cash refund")

    shift = models.ForeignKey(Shift, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    # A sale's cash handed over and change given back, for its receipt.
    tendered = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    change = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="till_movements"
    )
    at = models.DateTimeField(_("at"))
    actor = models.CharField(_("actor"), max_length=200)

    class Meta:
        ordering = ["shift", "at", "id"]
        constraints = [
            # One cash sale and one cash refund per order at most: a double click pays once.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(order__isnull=False),
                name="tillmovement_once_per_order",
            )
        ]
        verbose_name = _("till movement")
        verbose_name_plural = _("till movements")

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class CounterSale(models.Model):
    """An order booked at the counter, and the shift it belongs to."""

    class Method(models.TextChoices):
        ALIPAY = "alipay", _("Alipay")
        CASH = "cash", _("Cash")

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="counter_sale")
    shift = models.ForeignKey(Shift, on_delete=models.PROTECT, related_name="sales")
    # How it was paid; blank until it is.
    method = models.CharField(_("method"), max_length=10, choices=Method.choices, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["shift", "created_at", "id"]
        verbose_name = _("counter sale")
        verbose_name_plural = _("counter sales")

    def __str__(self) -> str:
        return f"{self.order_id} @ {self.shift_id}"


class CounterRefund(models.Model):
    """A refund made at the counter (cash from the drawer, or Alipay), in the shift it was made."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="counter_refund")
    shift = models.ForeignKey(Shift, on_delete=models.PROTECT, related_name="refunds")
    method = models.CharField(_("method"), max_length=10, choices=CounterSale.Method.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    supervisor = models.CharField(_("supervisor"), max_length=150)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["shift", "at", "id"]
        verbose_name = _("counter refund")
        verbose_name_plural = _("counter refunds")

    def __str__(self) -> str:
        return f"{self.order_id} refunded @ {self.shift_id}"


class ShiftEvent(models.Model):
    """The audit record of a shift: opened, cash sale, refund, closed, approved."""

    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=40)
    actor = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["shift", "at", "id"]
        verbose_name = _("shift event")
        verbose_name_plural = _("shift events")

    def __str__(self) -> str:
        return f"{self.shift_id} {self.kind}"
