"""A time slot cancelled as a whole (the attraction closes for weather): every order of the slot
ended, refunded and told, by a background task whose progress staff watch.

`SlotCancellation` is one run: who asked and why, and the progress counters the admin's progress
bar reads (`total`, `done`, `failed`). `SlotCancellationOrder` is one order of it with its
outcome, claimed by compare-and-set before any work, so a task delivered twice or resumed after a
crash never works one order twice; a failure keeps its message for staff to see. Written only by
ticketing.orders.slot_cancelling.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .orders import Order
from .slots import TimeSlot


class SlotCancellation(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    slot = models.ForeignKey(
        TimeSlot, on_delete=models.PROTECT, related_name="cancellations", verbose_name=_("slot")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    reason = models.CharField(_("reason"), max_length=128)
    actor = models.CharField(_("by"), max_length=150)
    total = models.PositiveIntegerField(_("orders"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    created_at = models.DateTimeField(_("started at"))
    # Every order finished moves it: a run whose task was lost shows as stale (the sweeper).
    updated_at = models.DateTimeField(_("updated at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One run at a time per slot: asking again while it runs shows the same run.
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(state__in=["queued", "running"]),
                name="slotcancellation_one_active_per_slot",
            )
        ]
        verbose_name = _("slot cancellation")
        verbose_name_plural = _("slot cancellations")

    def __str__(self) -> str:
        return f"{self.slot} ({self.get_state_display()})"

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.state == self.State.DONE else 0
        return (self.done + self.failed) * 100 // self.total


class SlotCancellationOrder(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", _("Waiting")
        WORKING = "working", _("Working")
        CANCELLED = "cancelled", _("Reservation cancelled")
        REFUNDED = "refunded", _("Cancelled, refunded to Alipay")
        CASH_DUE = "cash_due", _("Cancelled, cash to pay back at the box office")
        ENDED = "ended", _("Already ended")
        FAILED = "failed", _("Failed")

    FINISHED = (Outcome.CANCELLED, Outcome.REFUNDED, Outcome.CASH_DUE, Outcome.ENDED)

    cancellation = models.ForeignKey(
        SlotCancellation, on_delete=models.CASCADE, related_name="orders"
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="+", verbose_name=_("order")
    )
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING
    )
    # Money going back for it (an Alipay refund, or cash owed at the box office).
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3)
    message = models.CharField(_("message"), max_length=500, blank=True)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        ordering = ["cancellation", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cancellation", "order"], name="slotcancellationorder_once"
            )
        ]
        indexes = [models.Index(fields=["cancellation", "outcome"], name="slotcancelorder_outcome")]
        verbose_name = _("order of a slot cancellation")
        verbose_name_plural = _("orders of a slot cancellation")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.outcome}"
