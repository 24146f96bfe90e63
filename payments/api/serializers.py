"""What the partner API accepts and answers. Validation here is strict and complete, so bad input
gets a 400 naming the field before anything is stored or sent to Alipay; the lifecycle checks the
same rules again (it is also called by the shop, the POS and the admin).
"""

from __future__ import annotations

import copy
import re
from datetime import date
from decimal import Decimal

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from payments.alipay import validation
from payments.alipay.money import MAX_AMOUNT, SUPPORTED_CURRENCIES, exponent
from payments.api.models import id_validator
from payments.models import Payment, Refund

# Plain decimal text: no sign, exponent, spaces, leading zeros or bare "."; at most 2 decimals
# (fewer for currencies without minor units, checked against the currency in validate()).
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$"
BUYER_CODE_PATTERN = f"^{validation.BUYER_CODE_PATTERN}$"  # anchored, for the OpenAPI schema
# What Alipay refuses in any text value (docs/alipay.md "Common parameters"): double quotes and
# control characters.
_FORBIDDEN_TEXT = re.compile(r'["\x00-\x1f\x7f]')


def _amount_text(amount: Decimal, currency: str) -> str:
    return f"{amount:.{exponent(currency)}f}"


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a typo ("ammount") must not pass silently."""

    def validate(self, attrs):
        unknown = (
            sorted(set(self.initial_data) - set(self.fields))
            if isinstance(self.initial_data, dict)
            else []
        )
        if unknown:
            raise serializers.ValidationError(
                {name: [_("Unknown field.")] for name in unknown}, code="unknown_field"
            )
        return attrs


@extend_schema_field(
    {
        "type": "string",
        "pattern": AMOUNT_PATTERN,
        "example": "12.50",
        "description": "Decimal amount as a string, in the currency's units: at most 2 decimals, "
        "none for JPY and KRW; 0.01 to 100000000.",
    }
)
class AmountField(serializers.Field):
    default_error_messages = {
        "invalid_amount": _(
            'Send the amount as a string of digits with an optional decimal point, e.g. "12.50".'
        ),
    }

    def validate_empty_values(self, data):
        # null is a bad amount like any other, not a generic "may not be null".
        if data is None:
            self.fail("invalid_amount")
        return super().validate_empty_values(data)

    def to_internal_value(self, data) -> Decimal:
        if not isinstance(data, str) or not re.fullmatch(AMOUNT_PATTERN, data):
            self.fail("invalid_amount")
        return Decimal(data)

    def to_representation(self, value):
        return str(value)


class StrictCharField(serializers.CharField):
    """Text only: a JSON number is refused rather than turned into text (an 18-digit buyer code
    sent as a number has already lost digits in a JavaScript client)."""

    default_error_messages = {"not_text": _("Send this field as a JSON string.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


class CurrencyField(serializers.ChoiceField):
    default_error_messages = {
        "unsupported_currency": _(
            "Unsupported currency: use an uppercase ISO code Alipay settles in ({codes})."
        ),
    }

    def __init__(self, **kwargs):
        super().__init__(choices=sorted(SUPPORTED_CURRENCIES), **kwargs)

    def validate_empty_values(self, data):
        if data is None:
            self.fail("unsupported_currency", codes=", ".join(sorted(SUPPORTED_CURRENCIES)))
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str) or data not in SUPPORTED_CURRENCIES:
            self.fail("unsupported_currency", codes=", ".join(sorted(SUPPORTED_CURRENCIES)))
        return data


class AlipayTextField(StrictCharField):
    """Text that ends up in a signed Alipay parameter: no double quotes or control characters."""

    default_error_messages = {
        "forbidden_character": _("Must not contain double quotes or control characters."),
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if _FORBIDDEN_TEXT.search(value):
            self.fail("forbidden_character")
        return value


@extend_schema_field(
    {"type": "string", "pattern": BUYER_CODE_PATTERN, "example": "280000000000000001"}
)
class BuyerCodeField(StrictCharField):
    """The scanned code; any problem with it (blank, not text, wrong shape) is invalid_buyer_code,
    so a cashier's screen can always say "scan again"."""

    default_error_messages = {
        "invalid_buyer_code": _(
            "The scanned code is not an Alipay payment code (16 to 24 digits, starting 25 to 30)."
        ),
    }

    def run_validation(self, data=empty):
        # Before CharField's own blank/null checks, which would answer with generic codes.
        if data is not empty and (data is None or (isinstance(data, str) and not data.strip())):
            self.fail("invalid_buyer_code")
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not validation.is_buyer_code(data.strip()):
            self.fail("invalid_buyer_code")
        return data.strip()


def _check_amount(amount: Decimal, currency: str) -> None:
    places = exponent(currency)
    # Decimals as written: "1.00" is not a KRW amount even though it equals 1.
    if -amount.as_tuple().exponent > places:
        message = (
            _("%(currency)s amounts have no decimals.")
            if places == 0
            else _("%(currency)s amounts have at most %(places)d decimals.")
        )
        raise serializers.ValidationError(
            {"amount": [message % {"currency": currency, "places": places}]},
            code="invalid_amount",
        )
    floor = Decimal(1).scaleb(-places)
    if not floor <= amount <= MAX_AMOUNT:
        raise serializers.ValidationError(
            {
                "amount": [
                    _("The amount must be between %(floor)s and %(ceiling)s.")
                    % {"floor": floor, "ceiling": MAX_AMOUNT}
                ]
            },
            code="invalid_amount",
        )


class PaymentCreateSerializer(StrictSerializer):
    amount = AmountField()
    currency = CurrencyField(help_text=_("Uppercase ISO 4217 code, e.g. HKD, USD, JPY."))
    description = AlipayTextField(
        max_length=256, help_text=_("Shown on the buyer's Alipay bill (trans_name).")
    )
    buyer_code = BuyerCodeField(
        write_only=True, help_text=_("The payment code scanned from the buyer's Alipay app.")
    )
    reference = AlipayTextField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Your own reference (order or receipt number)."),
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        _check_amount(attrs["amount"], attrs["currency"])
        return attrs


class RefundCreateSerializer(StrictSerializer):
    amount = AmountField()
    reason = AlipayTextField(
        max_length=128, required=False, allow_blank=True, default="",
        help_text=_("Why the money goes back (sent to Alipay as refund_reason)."),
    )  # fmt: skip

    def validate(self, attrs):
        attrs = super().validate(attrs)
        _check_amount(attrs["amount"], self.context["payment"].currency)
        return attrs


class WaitQuerySerializer(serializers.Serializer):
    wait = serializers.IntegerField(
        min_value=0,
        max_value=30,
        required=False,
        default=0,
        help_text=_("Hold the request up to this many seconds until the state changes."),
    )
    state = serializers.ChoiceField(
        choices=Payment.State.choices,
        required=False,
        help_text=_(
            "The state you last saw: the wait ends as soon as the payment is in another one. "
            "Without it, the state when the request arrives."
        ),
    )


class FieldsBuiltOnce:
    """A ModelSerializer whose fields are built from the model once per process, then copied.

    DRF builds a ModelSerializer's fields afresh for every instance (model introspection, labels,
    validators): for the payment read, which a long-polling register gets serialized twice per
    request, that cost more than the database reads (bench/longpoll.py, profiled). A copy of
    fields built once is the same fields, unbound, as DRF's own.
    """

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built  # same value if two threads race here
        return copy.deepcopy(built)


class PaymentSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    amount = serializers.SerializerMethodField()
    amount_cny = serializers.SerializerMethodField()
    exchange_rate = serializers.SerializerMethodField()
    buyer_code = serializers.CharField(source="buyer_code_masked", read_only=True)
    buyer_login = serializers.CharField(source="buyer_login_masked", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "state",
            "amount",
            "currency",
            "description",
            "reference",
            "channel",
            "store_id",
            "terminal_id",
            "partner_trans_id",
            "alipay_trans_id",
            "buyer_code",
            "buyer_login",
            "exchange_rate",
            "amount_cny",
            "failure_code",
            "failure_message",
            "created_at",
            "paid_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "example": "12.50"})
    def get_amount(self, payment: Payment) -> str:
        return _amount_text(payment.amount, payment.currency)

    @extend_schema_field({"type": "string", "nullable": True, "example": "0.9102"})
    def get_exchange_rate(self, payment: Payment) -> str | None:
        return None if payment.exchange_rate is None else f"{payment.exchange_rate.normalize():f}"

    @extend_schema_field({"type": "string", "nullable": True, "example": "11.38"})
    def get_amount_cny(self, payment: Payment) -> str | None:
        return None if payment.amount_cny is None else f"{payment.amount_cny:.2f}"


class RefundSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    payment = serializers.UUIDField(source="payment.uuid", read_only=True)
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(source="payment.currency", read_only=True)
    amount_cny = serializers.SerializerMethodField()

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "state",
            "amount",
            "currency",
            "reason",
            "partner_refund_id",
            "amount_cny",
            "failure_code",
            "failure_message",
            "created_at",
            "succeeded_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "example": "5.00"})
    def get_amount(self, refund: Refund) -> str:
        return _amount_text(refund.amount, refund.payment.currency)

    @extend_schema_field({"type": "string", "nullable": True, "example": "4.55"})
    def get_amount_cny(self, refund: Refund) -> str | None:
        return None if refund.amount_cny is None else f"{refund.amount_cny:.2f}"


class ApiErrorSerializer(serializers.Serializer):
    """The body of every error answer."""

    code = serializers.CharField(help_text=_("Stable machine-readable code, e.g. invalid_amount."))
    message = serializers.CharField(help_text=_("Plain-language explanation for people."))
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_("Messages per invalid field, when the request had invalid fields."),
    )


# --- listing and end-of-day summary ------------------------------------------------------------
MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2999, 12, 31)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant with its UTC offset: without one, "10:00" would silently mean the
    server's zone, not the register's."""

    default_error_messages = {
        "naive": _("Give a date and time with its UTC offset, e.g. 2026-12-02T09:00:00+08:00."),
    }

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:
            parsed = None  # well-formed but impossible (month 13): DRF's own message below
        if parsed is not None and parsed.tzinfo is None:
            self.fail("naive")
        return super().to_internal_value(value)


class StateListField(serializers.Field):
    """Payment states, repeated (?state=paid&state=refunded) or comma-separated
    (?state=paid,refunded)."""

    default_error_messages = {
        "invalid_state": _("Unknown state %(states)s: use one of %(choices)s."),
    }

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist"):
            values = dictionary.getlist(self.field_name)
            return values if values else empty
        return dictionary.get(self.field_name, empty)

    def to_internal_value(self, data) -> list[str]:
        items = data if isinstance(data, list) else [data]
        states = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
        unknown = sorted(set(states) - set(Payment.State.values))
        if unknown or not states:
            self.fail(
                "invalid_state",
                states=", ".join(unknown) or '""',
                choices=", ".join(Payment.State.values),
            )
        return sorted(set(states))


class PaymentListQuerySerializer(StrictSerializer):
    """The listing's query string; unknown parameters are refused, so a misspelt filter cannot
    silently widen the list."""

    created_after = AwareDateTimeField(required=False)
    created_before = AwareDateTimeField(required=False)
    state = StateListField(required=False)
    terminal = serializers.CharField(required=False, max_length=32, validators=[id_validator])
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)
    cursor = serializers.CharField(required=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after >= before:
            raise serializers.ValidationError(
                {"created_before": [_("Must be later than created_after.")]}
            )
        return attrs


class DaySummaryQuerySerializer(serializers.Serializer):
    date = serializers.DateField(
        input_formats=["%Y-%m-%d"], help_text=_("The store's day, YYYY-MM-DD.")
    )

    def validate_date(self, value: date) -> date:
        if not MIN_DAY <= value <= MAX_DAY:
            raise serializers.ValidationError(
                _("Give a day between %(first)s and %(last)s.")
                % {"first": MIN_DAY.isoformat(), "last": MAX_DAY.isoformat()}
            )
        return value


class PaymentPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text=_("The next page, or null."))
    previous = serializers.URLField(allow_null=True, help_text=_("The previous page, or null."))
    results = PaymentSerializer(many=True)


class PaymentTotalSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Payment.State.choices)
    currency = serializers.CharField()
    count = serializers.IntegerField()
    amount = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "example": "125.00"})
    def get_amount(self, total) -> str:
        return _amount_text(total.amount, total.currency)


class RefundTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    count = serializers.IntegerField()
    amount = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "example": "12.50"})
    def get_amount(self, total) -> str:
        return _amount_text(total.amount, total.currency)


class DaySummarySerializer(serializers.Serializer):
    store_id = serializers.CharField()
    date = serializers.DateField()
    timezone = serializers.CharField(help_text=_("The time zone the day is counted in."))
    start = serializers.DateTimeField(help_text=_("The day's first instant (included)."))
    end = serializers.DateTimeField(help_text=_("The next day's first instant (excluded)."))
    payments = PaymentTotalSerializer(many=True)
    refunds = RefundTotalSerializer(many=True)


__all__ = [
    "AMOUNT_PATTERN",
    "BUYER_CODE_PATTERN",
    "ApiErrorSerializer",
    "DaySummaryQuerySerializer",
    "DaySummarySerializer",
    "PaymentCreateSerializer",
    "PaymentListQuerySerializer",
    "PaymentPageSerializer",
    "PaymentSerializer",
    "RefundCreateSerializer",
    "RefundSerializer",
    "WaitQuerySerializer",
]
