"""What an attraction lets buyers undo themselves: cancelling, its fee, and changing the time.

A separate row rather than columns on Attraction: an attraction without one offers neither
(the safe default for money), and the rules can grow without widening the catalogue's table.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .catalogue import Attraction, has_valid_minor_units


class RefundPolicy(models.Model):
    attraction = models.OneToOneField(
        Attraction,
        on_delete=models.CASCADE,
        related_name="refund_policy",
        verbose_name=_("attraction"),
    )
    cancel_hours_before = models.PositiveIntegerField(
        _("cancellable up to (hours before the time slot)"),
        default=0,
        help_text=_("0 means tickets cannot be cancelled."),
    )
    fee_percent = models.DecimalField(
        _("cancellation fee (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    fee_fixed = models.DecimalField(
        _("cancellation fee (fixed amount)"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Charged once per cancellation, in the attraction's currency."),
    )
    change_allowed = models.BooleanField(_("buyer may change the time slot"), default=False)
    change_hours_before = models.PositiveIntegerField(
        _("changeable up to (hours before the time slot)"), default=0
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(fee_percent__gte=0, fee_percent__lte=100),
                name="refundpolicy_fee_percent_range",
            ),
            models.CheckConstraint(
                condition=models.Q(fee_fixed__gte=0), name="refundpolicy_fee_fixed_gte_0"
            ),
        ]
        verbose_name = _("refund policy")
        verbose_name_plural = _("refund policies")

    def __str__(self) -> str:
        return str(self.attraction)

    def clean(self) -> None:
        if (
            self.fee_fixed is not None
            and self.attraction_id
            and not has_valid_minor_units(self.fee_fixed, self.attraction.currency)
        ):
            raise ValidationError({"fee_fixed": _("This currency has no such fractions.")})
