"""The public booking API (/api/v1/): thin views over ticketing.inventory and ticketing.orders.

JSON in, JSON out; every error is `{"code", "message", "fields"}`: ticketing's domain errors
here, everything else through the project-wide handler (payments.api.errors). Anonymous, so
throttled per client address; reading an order needs its token or the buyer's e-mail, and an
unknown code and a wrong proof answer the same 404, so codes cannot be enumerated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import clock, rows
from payments.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from payments.api.idempotency import idempotent
from ticketing import hold_limits, inventory, orders
from ticketing.exceptions import InvalidQuantity
from ticketing.models import Attraction, Order, TimeSlot

from .serializers import (
    AttractionDetailSerializer,
    AttractionSerializer,
    DaySerializer,
    ErrorSerializer,
    OrderAccessSerializer,
    OrderCreatedSerializer,
    OrderCreateSerializer,
    OrderStatusSerializer,
    PaymentStartedSerializer,
    SlotSerializer,
    TicketTypeSerializer,
)
from .throttles import PublicLookupThrottle, PublicOrderThrottle, PublicReadThrottle

MAX_RANGE_DAYS = 92
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    404: OpenApiResponse(ErrorSerializer, description="Not found"),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests"),
}


class PublicView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [PublicReadThrottle]


def _attraction(slug: str) -> Attraction:
    attraction = Attraction.objects.filter(slug=slug, active=True).first()
    if attraction is None:
        raise NotFound()
    return attraction


def _parse_date(value: str | None, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: ["Use a date like 2026-05-01."]}) from None


class AttractionListView(PublicView):
    @extend_schema(
        operation_id="attractions_list",
        responses={200: AttractionSerializer(many=True), 429: ERRORS[429]},
        tags=["booking"],
    )
    def get(self, request):
        """Attractions on sale."""
        return Response(
            AttractionSerializer(Attraction.objects.filter(active=True), many=True).data
        )


class AttractionDetailView(PublicView):
    @extend_schema(
        operation_id="attractions_retrieve",
        responses={200: AttractionDetailSerializer, 404: ERRORS[404], 429: ERRORS[429]},
        tags=["booking"],
    )
    def get(self, request, slug: str):
        """One attraction with its ticket types."""
        attraction = _attraction(slug)
        return Response(AttractionDetailSerializer(attraction).data)


class TicketTypeListView(PublicView):
    @extend_schema(
        operation_id="attractions_ticket_types",
        responses={200: TicketTypeSerializer(many=True), 404: ERRORS[404], 429: ERRORS[429]},
        tags=["booking"],
    )
    def get(self, request, slug: str):
        """Ticket types on sale (admissions: places one ticket takes; family 4, infant 0)."""
        attraction = _attraction(slug)
        types = attraction.ticket_types.filter(active=True)
        return Response(TicketTypeSerializer(types, many=True).data)


class AvailabilityView(PublicView):
    @extend_schema(
        operation_id="attractions_availability",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="first local date (today)"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="last local date (+30 days)"),
        ],
        responses={200: DaySerializer(many=True), **ERRORS},
        tags=["booking"],
    )
    def get(self, request, slug: str):
        """Places left per day and per slot, in the attraction's local dates (at most 92 days)."""
        attraction = _attraction(slug)
        today = clock.now().astimezone(attraction.tz).date()
        date_from = _parse_date(request.query_params.get("from"), "from") or today
        date_to = _parse_date(request.query_params.get("to"), "to")
        if date_to is None:
            date_to = min(date_from, dt.date.max - dt.timedelta(days=30)) + dt.timedelta(days=30)
        if date_to < date_from or (date_to - date_from).days >= MAX_RANGE_DAYS:
            raise ValidationError({"to": [f"Choose 'to' within {MAX_RANGE_DAYS} days of 'from'."]})
        days = inventory.availability(attraction, date_from, date_to)
        # The serializers read the dataclasses' attributes: asdict() would deep-copy each slot.
        return Response(DaySerializer(days, many=True).data)


class SlotListView(PublicView):
    @extend_schema(
        operation_id="attractions_slots",
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, required=True)],
        responses={200: SlotSerializer(many=True), **ERRORS},
        tags=["booking"],
    )
    def get(self, request, slug: str):
        """The slots of one local date with their places left."""
        attraction = _attraction(slug)
        day = _parse_date(request.query_params.get("date"), "date")
        if day is None:
            raise ValidationError({"date": ["This parameter is required."]})
        days = inventory.availability(attraction, day, day)
        slots = days[0].slots if days else []
        return Response(SlotSerializer(slots, many=True).data)


def _order_scope(request) -> str:
    # Keys are per client address: one client's key can never replay another's order.
    return f"public-orders:{PublicOrderThrottle().get_ident(request)}"


class OrderCreateView(PublicView):
    throttle_classes = [PublicOrderThrottle]

    @extend_schema(
        operation_id="orders_create",
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="A unique key per order attempt (e.g. a UUID); reuse it to retry.",
            )
        ],
        request=OrderCreateSerializer,
        responses={
            201: OrderCreatedSerializer,
            409: OpenApiResponse(ErrorSerializer, description="sold_out, slot_unavailable"),
            **ERRORS,
            429: OpenApiResponse(
                ErrorSerializer, description="throttled, too_many_holds (unpaid orders per client)"
            ),
        },
        tags=["booking"],
    )
    @idempotent(scope=_order_scope, atomic=True)
    def post(self, request):
        """Book: holds the places for the hold time. Keep `token` to read and pay the order."""
        data = OrderCreateSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationError(_every_problem(data, request.data))
        values = data.validated_data
        # One query for both: the slot must belong to this attraction, which must be on sale.
        # rows.select: this query, built once instead of by the ORM for every booking.
        found = rows.select(
            TimeSlot,
            {"id": values["slot"]},
            join="attraction",
            join_where={"slug": values["attraction"]},
        )
        slot = found[0] if found else None
        if slot is None or not slot.attraction.active:
            if not Attraction.objects.filter(slug=values["attraction"], active=True).exists():
                raise NotFound()
            raise ValidationError({"slot": ["No such time slot for this attraction."]})
        hold_limits.ensure_room(request, session=False)
        order = orders.create_order(
            attraction=slot.attraction,
            slot=slot,
            quantities=values["quantities"],
            buyer_name=values["buyer_name"],
            email=values["email"],
            language=values["language"],
            client_key=hold_limits.client_key(request),
        )
        body = created_body(order, slot)
        return Response(body, status=status.HTTP_201_CREATED)


def _every_problem(data: OrderCreateSerializer, raw) -> dict:
    """The serializer's errors, and the quantities' own problems too when their shape was fine:
    a client that sent a bad e-mail and no tickets learns both in one answer."""
    errors = dict(data.errors)
    if "quantities" in errors or "attraction" in errors or not isinstance(raw, dict):
        return errors
    attraction = Attraction.objects.filter(slug=raw.get("attraction"), active=True).first()
    if attraction is None:
        return errors
    try:
        items = data.fields["quantities"].run_validation(raw.get("quantities"))
        orders.check_quantities(attraction, data.validate_quantities(items))
    except serializers.ValidationError:
        return errors
    except InvalidQuantity as error:
        errors.update(error.public_fields())
    return errors


def _money(value) -> str:
    return f"{value:.2f}"


def created_body(order: Order, slot: TimeSlot) -> dict:
    """OrderCreatedSerializer's shape, built from the objects in hand (the hot path: no queries,
    no serializer construction; test_api checks it against the serializer)."""
    return {
        "code": order.code,
        "state": order.state,
        "attraction": slot.attraction.slug,
        "slot": slot.pk,
        "slot_starts_at": drf_datetime(slot.starts_at),
        "buyer_name": order.buyer_name,
        "email": order.email,
        "language": order.language,
        "total": _money(order.total),
        "currency": order.currency,
        "admissions": order.admissions,
        "hold_expires_at": drf_datetime(order.hold_expires_at),
        "lines": [
            {
                "ticket_type": line.ticket_type_id,
                "code": line.ticket_type.code,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "admissions_each": line.admissions_each,
            }
            for line in order.created_lines
        ],
        "token": order.token,
    }


_DATETIME = serializers.DateTimeField()


def drf_datetime(value) -> str:
    return _DATETIME.to_representation(value)


def _access_parameters():
    return [
        OpenApiParameter("token", OpenApiTypes.STR, description="the token returned at booking"),
        OpenApiParameter("email", OpenApiTypes.EMAIL, description="or the buyer's e-mail"),
    ]


def _order_for(request, code: str, source) -> Order:
    proof = OrderAccessSerializer(data={k: v for k, v in source.items() if k in ("token", "email")})
    proof.is_valid(raise_exception=True)
    token = proof.validated_data.get("token") or request.headers.get("X-Order-Token")
    order = orders.find_order(code, email=proof.validated_data.get("email"), token=token)
    if order is None:
        raise NotFound()
    return order


class GuardedOrderView(PublicView):
    """Reads of one order. With the token (192 random bits) a wrong guess learns nothing, so the
    ordinary rate (`generous_throttle`) applies and clients may poll; by e-mail, the strict
    look-up rate does. The rate follows the proof that works, not the parameters sent: a wrong
    token next to an e-mail would otherwise guess e-mails at the generous rate."""

    generous_throttle = PublicReadThrottle

    def proof_source(self):
        return self.request.query_params

    def get_throttles(self):
        source = self.proof_source()
        token = source.get("token") if hasattr(source, "get") else None
        token = token or self.request.headers.get("X-Order-Token")
        code = self.kwargs.get("code", "")
        if isinstance(token, str) and orders.find_order(code, token=token) is not None:
            return [self.generous_throttle()]
        return [PublicLookupThrottle()]


class OrderStatusView(GuardedOrderView):
    @extend_schema(
        operation_id="orders_status",
        parameters=_access_parameters(),
        responses={200: OrderStatusSerializer, **ERRORS},
        tags=["booking"],
    )
    def get(self, request, code: str):
        """The order's state, time left on its hold and its payment (QR while in flight)."""
        order = _order_for(request, code, request.query_params)
        return Response(OrderStatusSerializer(asdict(orders.order_status(order))).data)


class OrderPaymentView(GuardedOrderView):
    generous_throttle = PublicOrderThrottle

    def proof_source(self):
        return self.request.data

    @extend_schema(
        operation_id="orders_payment",
        request=OrderAccessSerializer,
        responses={
            201: PaymentStartedSerializer,
            409: OpenApiResponse(ErrorSerializer, description="hold_expired, order state"),
            503: OpenApiResponse(ErrorSerializer, description="payment_unavailable"),
            **ERRORS,
        },
        tags=["booking"],
    )
    def post(self, request, code: str):
        """Start the Alipay QR payment (or return the one in flight): show `qr_code` to the buyer.

        Safe to repeat; after a failed or expired payment it starts a new one while the hold lasts.
        """
        if not isinstance(request.data, dict):
            raise ValidationError({"token": ["Send a JSON object with the order token."]})
        order = _order_for(request, code, request.data)
        payment = orders.start_payment(order)
        state = orders.order_status(order)
        body = {
            "payment": (
                {"uuid": payment.uuid, "state": payment.state, "qr_code": payment.qr_code}
                if payment is not None
                else None
            ),
            "order": asdict(state),
        }
        return Response(PaymentStartedSerializer(body).data, status=status.HTTP_201_CREATED)


class OrderTicketsPdfView(GuardedOrderView):
    @extend_schema(
        operation_id="orders_tickets_pdf",
        parameters=_access_parameters(),
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            409: OpenApiResponse(ErrorSerializer, description="no_tickets (not paid)"),
            **ERRORS,
        },
        tags=["booking"],
    )
    def get(self, request, code: str):
        """The order's e-tickets as one PDF, a page per admission."""
        # The PDF stack (reportlab, fonts) loads with the first download, not with every API worker.
        from ticketing.etickets.faces import order_pdf

        order = _order_for(request, code, request.query_params)
        pdf = order_pdf(order)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="entrada-{order.code}.pdf"'
        return response
