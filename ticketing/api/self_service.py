"""The public API's self-service: a buyer's app gives back a hold, cancels tickets under the
refund policy (after reading the refund it would get), and changes the time slot, paying the
price difference with an Alipay QR when the tickets cost more now (or keeping its current time).

Every call needs the order's token (body `token` or the `X-Order-Token` header): the e-mail
alone is enough to read an order, not to change it. Changes need an Idempotency-Key, kept per
client and order; the key is also written in the order's history, so a retry never does twice
what it did once. A wrong token answers 404 under the strict look-up rate.
"""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from payments.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from payments.api.idempotency import idempotent
from ticketing import orders
from ticketing.models import Order, SlotChange
from ticketing.orders import policy as refund_policy
from ticketing.orders import rebooking, self_service, slot_changes

from .serializers import ErrorSerializer, OrderStatusSerializer
from .throttles import PublicOrderThrottle, PublicReadThrottle
from .views import ERRORS, GuardedOrderView

MAX_TICKETS = 200


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(required=False, max_length=64)


class CancelRequestSerializer(TokenSerializer):
    tickets = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=MAX_TICKETS,
        help_text="Ticket numbers; any part of a family ticket cancels the whole unit.",
    )


class ChangeRequestSerializer(TokenSerializer):
    slot = serializers.IntegerField(min_value=1, help_text="The new time slot's id.")
    pay_difference = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="When the tickets cost more now: the difference the buyer was shown and "
        "agrees to pay (409 price_difference_due gives it in `fields.pay_difference`).",
    )


class SlotChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField(help_text="awaiting_payment, changed, released or refunded")
    outcome = serializers.CharField(
        allow_blank=True,
        help_text="Why it ended without moving the tickets: payment_not_completed, given_up, "
        "paid_too_late, order_changed",
    )
    to_slot = serializers.IntegerField(source="to_slot_id")
    starts_at = serializers.DateTimeField(source="to_slot.starts_at")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    hold_expires_at = serializers.DateTimeField()
    payment_state = serializers.SerializerMethodField()
    qr_code = serializers.SerializerMethodField(
        help_text="The Alipay QR to show while the difference waits to be paid."
    )

    def get_payment_state(self, change) -> str | None:
        return change.payment.state if change.payment is not None else None

    def get_qr_code(self, change) -> str:
        payment = change.payment
        if change.state != SlotChange.State.AWAITING_PAYMENT or payment is None:
            return ""
        return payment.qr_code if payment.state in payment.IN_FLIGHT_STATES else ""


class UnitSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    numbers = serializers.ListField(child=serializers.IntegerField())
    ticket_type = serializers.CharField(source="ticket_type.code")
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    refundable = serializers.BooleanField(source="ticket_type.refundable")


class QuoteSerializer(serializers.Serializer):
    tickets = serializers.ListField(child=serializers.IntegerField(), source="numbers")
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    refund = serializers.DecimalField(max_digits=12, decimal_places=2)
    whole_order = serializers.BooleanField()


class OptionsSerializer(serializers.Serializer):
    can_give_back = serializers.BooleanField()
    can_cancel = serializers.BooleanField()
    can_change = serializers.BooleanField()
    cancel_until = serializers.DateTimeField(allow_null=True)
    change_until = serializers.DateTimeField(allow_null=True)
    policy = serializers.ListField(child=serializers.CharField())
    tickets = UnitSerializer(many=True)
    quote = QuoteSerializer(allow_null=True)
    slots = serializers.ListField(child=serializers.DictField())
    difference = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="Changing the time now costs this much more (negative: refunded).",
    )
    pending_change = SlotChangeSerializer(allow_null=True)


class CancelledSerializer(serializers.Serializer):
    tickets = serializers.ListField(child=serializers.IntegerField())
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    refund = serializers.DecimalField(max_digits=12, decimal_places=2)


class ChangedSerializer(serializers.Serializer):
    order = OrderStatusSerializer()
    cancelled = CancelledSerializer(required=False)
    change = SlotChangeSerializer(required=False)


def _token(request, source) -> str:
    proof = TokenSerializer(data={"token": source.get("token")} if source.get("token") else {})
    proof.is_valid(raise_exception=True)
    return proof.validated_data.get("token") or request.headers.get("X-Order-Token") or ""


def _order(request, code: str, source) -> Order:
    order = orders.find_order(code, token=_token(request, source)) if source is not None else None
    if order is None:
        raise NotFound()
    return order


def _scope(request) -> str:
    # Per client and order: one client's key can never replay another's change.
    code = request.parser_context["kwargs"].get("code", "").upper()
    return f"public-order-actions:{PublicOrderThrottle().get_ident(request)}:{code}"


def _status(order: Order) -> dict:
    return OrderStatusSerializer(asdict(orders.order_status(order))).data


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError({"token": ["Send a JSON object with the order token."]})
    return request.data


KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="A unique key per change (e.g. a UUID); reuse it to retry.",
)
CONFLICTS = OpenApiResponse(
    ErrorSerializer,
    description="not_cancellable, not_refundable, not_changeable, sold_out, slot_unavailable, "
    "price_difference_due (with fields.pay_difference), change_pending, order_state_conflict",
)


class OrderOptionsView(GuardedOrderView):
    generous_throttle = PublicReadThrottle

    @extend_schema(
        operation_id="orders_options",
        parameters=[
            OpenApiParameter(
                "token", OpenApiTypes.STR, description="the token returned at booking"
            ),
            OpenApiParameter(
                "tickets",
                OpenApiTypes.INT,
                many=True,
                description="ticket numbers to quote a cancellation for",
            ),
        ],
        responses={200: OptionsSerializer, **ERRORS},
        tags=["self-service"],
    )
    def get(self, request, code: str):
        """What the buyer may do now, the refund policy, and the refund for `tickets` if given."""
        order = _order(request, code, request.query_params)
        try:
            numbers = [int(n) for n in request.query_params.getlist("tickets")]
        except ValueError:
            raise ValidationError({"tickets": ["Ticket numbers are whole numbers."]}) from None
        rules = refund_policy.policy_for(order.attraction)
        actions = self_service.available_actions(order, order.language)
        paid = order.state == Order.State.PAID
        body = {
            "can_give_back": actions["give_back"],
            "can_cancel": actions["cancel"],
            "can_change": actions["change"],
            "cancel_until": refund_policy.cancel_deadline(rules, order.slot.starts_at),
            "change_until": refund_policy.change_deadline(rules, order.slot.starts_at),
            "policy": actions["policy_lines"],
            "tickets": self_service.valid_units(order) if paid else [],
            "quote": self_service.quote_cancel(order, numbers) if numbers else None,
            "slots": [
                {"id": slot.pk, "starts_at": slot.starts_at, "places_left": slot.places_left}
                for slot in (rebooking.slots_to_change_to(order) if actions["change"] else [])
            ],
            "difference": rebooking.price_difference(order) if actions["change"] else None,
            "pending_change": actions["pending_change"],
        }
        return Response(OptionsSerializer(body).data)


class ActionView(GuardedOrderView):
    generous_throttle = PublicOrderThrottle

    def proof_source(self):
        return self.request.data


class GiveBackView(ActionView):
    @extend_schema(
        operation_id="orders_give_back",
        parameters=[KEY_PARAMETER],
        request=TokenSerializer,
        responses={200: ChangedSerializer, 409: CONFLICTS, **ERRORS},
        tags=["self-service"],
    )
    @idempotent(scope=_scope)
    def post(self, request, code: str):
        """Give back an unpaid hold: the places return at once; a payment in progress is
        cancelled, and one landing meanwhile is refunded automatically."""
        order = _order(request, code, _body(request))
        order = self_service.give_back_hold(order, key=request.headers.get(IDEMPOTENCY_HEADER))
        return Response({"order": _status(order)})


class CancelView(ActionView):
    @extend_schema(
        operation_id="orders_cancel_tickets",
        parameters=[KEY_PARAMETER],
        request=CancelRequestSerializer,
        responses={200: ChangedSerializer, 409: CONFLICTS, **ERRORS},
        tags=["self-service"],
    )
    @idempotent(scope=_scope)
    def post(self, request, code: str):
        """Cancel some or all tickets under the refund policy; the refund after the fee goes
        back to the buyer's Alipay account (quote it first with GET .../options/?tickets=)."""
        data = CancelRequestSerializer(data=_body(request))
        data.is_valid(raise_exception=True)
        order = _order(request, code, request.data)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        order = self_service.cancel_tickets(order, data.validated_data["tickets"], key=key)
        # What was decided, as recorded in the order's history under this key.
        done = order.events.filter(detail__key=key).values_list("detail", flat=True).first()
        quote = {
            "tickets": done["tickets"],
            "currency": order.currency,
            "amount": done["amount"],
            "fee": done["fee"],
            "refund": done["refund"],
        }
        return Response({"order": _status(order), "cancelled": quote})


class ChangeView(ActionView):
    @property
    def generous_throttle(self):
        # Reading the change is polled while its difference is paid: the read rate, not the
        # rate of changes.
        return PublicReadThrottle if self.request.method == "GET" else PublicOrderThrottle

    def proof_source(self):
        return self.request.query_params if self.request.method == "GET" else self.request.data

    @extend_schema(
        operation_id="orders_change_slot",
        parameters=[KEY_PARAMETER],
        request=ChangeRequestSerializer,
        responses={
            200: ChangedSerializer,
            202: OpenApiResponse(
                ChangedSerializer,
                description="The difference is due: `change.qr_code` is the Alipay QR to pay it",
            ),
            409: CONFLICTS,
            503: OpenApiResponse(
                ErrorSerializer,
                description="payment_unavailable: the new places stay held; retry with the "
                "same Idempotency-Key",
            ),
            **ERRORS,
        },
        tags=["self-service"],
    )
    @idempotent(scope=_scope)
    def post(self, request, code: str):
        """Move the order's tickets to another slot of the same attraction (GET .../options/
        lists them): new tickets are issued and e-mailed, the old ones stop admitting.

        Cheaper now: done at once (200), the difference refunded. Dearer: 409
        `price_difference_due` says how much (`fields.pay_difference`); send it back as
        `pay_difference` to hold the new places and get the difference's Alipay QR (202, in
        `change`). The tickets move once it is paid; follow it with GET .../change/."""
        data = ChangeRequestSerializer(data=_body(request))
        data.is_valid(raise_exception=True)
        order = _order(request, code, request.data)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        order = rebooking.change_slot(
            order,
            data.validated_data["slot"],
            key=key,
            pay_difference=data.validated_data.get("pay_difference"),
        )
        change = slot_changes.change_asked_with(order, key)
        if change is not None and change.state == SlotChange.State.AWAITING_PAYMENT:
            body = {"order": _status(order), "change": SlotChangeSerializer(change).data}
            return Response(body, status=status.HTTP_202_ACCEPTED)
        return Response({"order": _status(order)})

    @extend_schema(
        operation_id="orders_change_status",
        parameters=[
            OpenApiParameter("token", OpenApiTypes.STR, description="the token returned at booking")
        ],
        responses={200: SlotChangeSerializer, **ERRORS},
        tags=["self-service"],
    )
    def get(self, request, code: str):
        """The order's latest change of time that needed a difference paid: poll it while
        `state` is awaiting_payment (changed, released and refunded are final)."""
        order = _order(request, code, request.query_params)
        change = (
            SlotChange.objects.filter(order_id=order.pk)
            .select_related("to_slot", "payment")
            .order_by("-created_at", "-id")
            .first()
        )
        if change is None:
            raise NotFound()
        return Response(SlotChangeSerializer(change).data)


class GiveUpChangeView(ActionView):
    @extend_schema(
        operation_id="orders_change_give_up",
        parameters=[KEY_PARAMETER],
        request=TokenSerializer,
        responses={200: ChangedSerializer, **ERRORS},
        tags=["self-service"],
    )
    @idempotent(scope=_scope)
    def post(self, request, code: str):
        """Keep the current time: the difference's payment in progress is cancelled and the new
        places go back at once; a payment landing anyway is refunded automatically."""
        order = _order(request, code, _body(request))
        order = slot_changes.give_up(order, key=request.headers.get(IDEMPOTENCY_HEADER))
        return Response({"order": _status(order)})
