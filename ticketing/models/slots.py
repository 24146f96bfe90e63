"""Dated time slots and their capacity counters.

`held` and `sold` count admissions (not tickets, not orders). They change only in
ticketing.inventory, always by a compare-and-set UPDATE, so two buyers can never both take the last
place; `check_capacity` recomputes them from the orders. The database enforces the invariant too
(check constraints), as the last line of defence.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Coalesce, Greatest
from django.utils.translation import gettext_lazy as _

from ..local_time import format_datetime
from .catalogue import Attraction, OpeningRule


class TimeSlotQuerySet(models.QuerySet):
    def with_capacity(self) -> TimeSlotQuerySet:
        """Annotate `effective_capacity` and `places_left` (never below zero)."""
        effective = Coalesce("capacity_override", "capacity")
        return self.annotate(effective_capacity=effective).annotate(
            places_left=Greatest(
                models.F("effective_capacity") - models.F("held") - models.F("sold"),
                models.Value(0),
                output_field=models.IntegerField(),
            )
        )


class TimeSlot(models.Model):
    attraction = models.ForeignKey(Attraction, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    # The attraction-local date, stored so that per-day availability is a plain GROUP BY.
    local_date = models.DateField(_("date"))
    capacity = models.PositiveIntegerField(_("capacity"))
    capacity_override = models.PositiveIntegerField(
        _("capacity override"),
        null=True,
        blank=True,
        help_text=_("Replaces the rule's capacity for this slot only."),
    )
    held = models.PositiveIntegerField(_("held"), default=0, editable=False)
    sold = models.PositiveIntegerField(_("sold"), default=0, editable=False)
    is_open = models.BooleanField(
        _("open for sale"), default=True, help_text=_("Off for slots on a closed day.")
    )
    rule = models.ForeignKey(
        OpeningRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TimeSlotQuerySet.as_manager()

    class Meta:
        ordering = ["attraction", "starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["attraction", "starts_at"], name="slot_unique_start"),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="slot_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(held__gte=0, sold__gte=0), name="slot_counters_not_negative"
            ),
            # Never oversold, enforced by the database as well as by inventory's compare-and-set.
            models.CheckConstraint(
                condition=models.Q(
                    capacity_override__isnull=True,
                    held__lte=models.F("capacity") - models.F("sold"),
                )
                | models.Q(
                    capacity_override__isnull=False,
                    held__lte=models.F("capacity_override") - models.F("sold"),
                ),
                name="slot_not_oversold",
                violation_error_message=_(
                    "The capacity cannot be below the places already held or sold."
                ),
            ),
        ]
        indexes = [models.Index(fields=["attraction", "local_date"], name="slot_attraction_day")]
        verbose_name = _("time slot")
        verbose_name_plural = _("time slots")
        # Cancel every order of a slot and close it (ticketing.orders.slot_cancelling).
        permissions = [("cancel_slot", "Can cancel every order of a time slot")]

    def __str__(self) -> str:
        if not self.attraction_id:
            return f"{self.starts_at:%Y-%m-%d %H:%M}"
        return f"{self.attraction} {format_datetime(self.starts_at, self.attraction.tz)}"

    @property
    def effective_capacity(self) -> int:
        return self.capacity if self.capacity_override is None else self.capacity_override

    @property
    def places_left(self) -> int:
        return max(self.effective_capacity - self.held - self.sold, 0)
