"""Shapes of the public booking API: input validated here, rules enforced by the services."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from ticketing.models import Attraction, Order, TicketType


class TicketTypeSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=True)

    class Meta:
        model = TicketType
        fields = [
            "id",
            "code",
            "name",
            "name_zh",
            "description",
            "description_zh",
            "price",
            "admissions",
        ]


class AttractionSerializer(serializers.ModelSerializer):
    image = serializers.SerializerMethodField()

    class Meta:
        model = Attraction
        fields = [
            "slug",
            "name",
            "name_zh",
            "description",
            "description_zh",
            "image",
            "address",
            "timezone",
            "currency",
            "languages",
        ]

    def get_image(self, obj: Attraction) -> str | None:
        return obj.image.url if obj.image else None


class AttractionDetailSerializer(AttractionSerializer):
    ticket_types = serializers.SerializerMethodField()

    class Meta(AttractionSerializer.Meta):
        fields = [*AttractionSerializer.Meta.fields, "ticket_types"]

    def get_ticket_types(self, obj: Attraction) -> list[dict]:
        types = [tt for tt in obj.ticket_types.all() if tt.active]
        return TicketTypeSerializer(types, many=True).data


class SlotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    capacity = serializers.IntegerField()
    places_left = serializers.IntegerField()
    bookable = serializers.BooleanField()


class DaySerializer(serializers.Serializer):
    date = serializers.DateField()
    capacity = serializers.IntegerField()
    places_left = serializers.IntegerField()
    slots = SlotSerializer(many=True)


class AvailabilityQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)


# Ids are 64-bit: a larger number is refused here rather than overflowing the database driver.
MAX_ID = 2**63 - 1


class QuantitySerializer(serializers.Serializer):
    ticket_type = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.IntegerField(min_value=0, max_value=100)


class OrderCreateSerializer(serializers.Serializer):
    attraction = serializers.SlugField(max_length=80)
    slot = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantities = QuantitySerializer(many=True, allow_empty=False, max_length=50)
    buyer_name = serializers.CharField(max_length=120)
    email = serializers.EmailField(max_length=254)
    language = serializers.ChoiceField(
        choices=[code for code, _name in settings.LANGUAGES], default="en"
    )

    def validate_quantities(self, value: list[dict]) -> dict[int, int]:
        merged: dict[int, int] = {}
        for item in value:
            if item["ticket_type"] in merged:
                raise serializers.ValidationError("Each ticket type may appear once.")
            merged[item["ticket_type"]] = item["quantity"]
        return merged


class OrderAccessSerializer(serializers.Serializer):
    token = serializers.CharField(required=False, max_length=64)
    email = serializers.EmailField(required=False, max_length=254)


class OrderLineSerializer(serializers.Serializer):
    ticket_type = serializers.IntegerField(source="ticket_type_id")
    code = serializers.CharField(source="ticket_type.code")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    admissions_each = serializers.IntegerField()


class PaymentInfoSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    state = serializers.CharField()
    qr_code = serializers.CharField()


class OrderSerializer(serializers.ModelSerializer):
    slot_starts_at = serializers.DateTimeField(source="slot.starts_at")
    attraction = serializers.SlugField(source="attraction.slug")
    lines = OrderLineSerializer(many=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        model = Order
        fields = [
            "code",
            "state",
            "attraction",
            "slot",
            "slot_starts_at",
            "buyer_name",
            "email",
            "language",
            "total",
            "currency",
            "admissions",
            "hold_expires_at",
            "lines",
        ]


class OrderCreatedSerializer(OrderSerializer):
    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "token"]


class OrderStatusSerializer(serializers.Serializer):
    code = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    hold_expires_at = serializers.DateTimeField()
    seconds_left = serializers.IntegerField()
    payment_state = serializers.CharField(allow_null=True)
    qr_code = serializers.CharField(allow_blank=True)
    paid = serializers.BooleanField()
    can_retry_payment = serializers.BooleanField()
    tickets_ready = serializers.BooleanField()
    outcome_reason = serializers.CharField(allow_blank=True)
    message = serializers.CharField()
    under_review = serializers.BooleanField(
        help_text="Staff are checking the payment with Alipay (it needs attention)."
    )
    review_ends_at = serializers.DateTimeField(
        allow_null=True,
        help_text="While under review and awaiting payment: until when the places are kept.",
    )


class PaymentStartedSerializer(serializers.Serializer):
    payment = PaymentInfoSerializer(allow_null=True)
    order = OrderStatusSerializer()


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
