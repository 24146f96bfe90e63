"""What an attraction sells: the attraction, its ticket types and the rules its slots come from.

Texts that buyers read exist in English and Simplified Chinese side by side (`name`, `name_zh`):
two languages are fixed by the design, and plain columns keep the shop's queries join-free.
`localized(obj, "name", language)` picks the right one with an English fallback.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

# ISO 4217 currencies without minor units that Alipay settles in (docs/alipay.md: JPY and KRW
# whole).
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW"})


def currency_exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def has_valid_minor_units(amount: Decimal, currency: str) -> bool:
    """True when `amount` has no more decimals than the currency allows (no 0.5 JPY)."""
    quantum = Decimal(1).scaleb(-currency_exponent(currency))
    return amount == amount.quantize(quantum)


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _known_timezones():
        raise ValidationError(
            _("%(value)s is not an IANA time zone name."), params={"value": value}
        )


def validate_languages(value: list) -> None:
    known = {code for code, _name in settings.LANGUAGES}
    if not isinstance(value, list) or not value or any(v not in known for v in value):
        raise ValidationError(
            _("Choose one or more of: %(known)s."), params={"known": ", ".join(sorted(known))}
        )


def default_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def localized(obj: models.Model, field: str, language: str | None) -> str:
    """The Chinese text when asked for Chinese and present, else the English one."""
    if language and language.lower().startswith("zh"):
        value = getattr(obj, f"{field}_zh", "")
        if value:
            return value
    return getattr(obj, field)


class Attraction(models.Model):
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    image = models.ImageField(_("image"), upload_to="attractions/", blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    address_zh = models.CharField(_("address (Chinese)"), max_length=300, blank=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        default="CNY",
        validators=[RegexValidator(r"^[A-Z]{3}$", _("Use an ISO 4217 code such as CNY."))],
    )
    languages = models.JSONField(
        _("languages"), default=default_languages, validators=[validate_languages]
    )
    active = models.BooleanField(_("on sale"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("attraction")
        verbose_name_plural = _("attractions")

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def display_name(self, language: str | None) -> str:
        return localized(self, "name", language)

    def display_description(self, language: str | None) -> str:
        return localized(self, "description", language)

    def display_address(self, language: str | None) -> str:
        return localized(self, "address", language)


class TicketType(models.Model):
    """A priced kind of ticket. `admissions` is what one unit takes from a slot's capacity.

    A family ticket counts 4; a free infant ticket counts 0 (it takes no place but is still
    issued, so the gate sees it). Each admission becomes one e-ticket (ticketing.orders).
    """

    attraction = models.ForeignKey(
        Attraction,
        on_delete=models.CASCADE,
        related_name="ticket_types",
        verbose_name=_("attraction"),
    )
    code = models.SlugField(_("code"), max_length=40, help_text=_("e.g. adult, child, family"))
    name = models.CharField(_("name"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    description_zh = models.CharField(_("description (Chinese)"), max_length=300, blank=True)
    price = models.DecimalField(
        _("price"), max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    admissions = models.PositiveSmallIntegerField(
        _("admissions"),
        default=1,
        validators=[MaxValueValidator(20)],
        help_text=_("Places one ticket takes from a time slot (family 4, infant 0)."),
    )
    active = models.BooleanField(_("on sale"), default=True)
    refundable = models.BooleanField(
        _("refundable"),
        default=True,
        help_text=_("Buyers may cancel it within the attraction's refund policy."),
    )
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["attraction", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["attraction", "code"], name="tickettype_unique_code"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="tickettype_price_gte_0"),
        ]
        verbose_name = _("ticket type")
        verbose_name_plural = _("ticket types")

    def __str__(self) -> str:
        return f"{self.attraction} / {self.name}"

    def clean(self) -> None:
        if (
            self.price is not None
            and self.attraction_id
            and not has_valid_minor_units(self.price, self.attraction.currency)
        ):
            raise ValidationError({"price": _("This currency has no such fractions.")})

    def display_name(self, language: str | None) -> str:
        return localized(self, "name", language)

    @property
    def tickets_per_unit(self) -> int:
        """E-tickets issued per unit bought: one per admission, and one for a free infant."""
        return max(self.admissions, 1)


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class SlotPattern(models.Model):
    """Hours, slot length and capacity: what both weekly rules and special days describe."""

    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))
    slot_minutes = models.PositiveSmallIntegerField(
        _("slot length (minutes)"), default=60, validators=[MinValueValidator(5)]
    )
    capacity = models.PositiveIntegerField(
        _("capacity per slot"), validators=[MinValueValidator(1)]
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValidationError({"closes": _("Closing time must be after opening time.")})


class OpeningRule(SlotPattern):
    """Weekly opening hours: on `weekday`, slots of `slot_minutes` from `opens` until `closes`."""

    attraction = models.ForeignKey(
        Attraction, on_delete=models.CASCADE, related_name="opening_rules"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["attraction", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="rule_closes_after_opens"
            ),
        ]
        verbose_name = _("opening rule")
        verbose_name_plural = _("opening rules")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def applies_on(self, day) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or day >= self.valid_from)
            and (self.valid_until is None or day <= self.valid_until)
        )


class SpecialOpening(SlotPattern):
    """An exception date with its own hours: replaces the weekly rules on that date."""

    attraction = models.ForeignKey(
        Attraction, on_delete=models.CASCADE, related_name="special_openings"
    )
    date = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["attraction", "date", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="special_closes_after_opens"
            ),
        ]
        verbose_name = _("special opening")
        verbose_name_plural = _("special openings")

    def __str__(self) -> str:
        return f"{self.date} {self.opens:%H:%M}-{self.closes:%H:%M}"


class ClosedDay(models.Model):
    """A date without slots (holiday, maintenance); wins over rules and special openings."""

    attraction = models.ForeignKey(Attraction, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["attraction", "date"]
        constraints = [
            models.UniqueConstraint(fields=["attraction", "date"], name="closedday_unique_date")
        ]
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")

    def __str__(self) -> str:
        return f"{self.attraction} closed {self.date}"
