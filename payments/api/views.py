"""The partner API's endpoints: parse, call one lifecycle function, present the result.

Every payment and refund is seen through the authenticated terminal's store: another store's
payment is "not found", exactly like one that does not exist. Money-moving POSTs require an
Idempotency-Key (payments/api/idempotency.py), so a register that lost a reply can safely resend.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import Q
from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import lifecycle, waiters
from payments.api.auth import IsTerminal, TerminalTokenAuthentication
from payments.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from payments.api.idempotency import idempotent, request_fingerprint
from payments.api.queries import API_TRANS_ID_PREFIX, day_summary, store_payments
from payments.api.serializers import (
    ApiErrorSerializer,
    DaySummaryQuerySerializer,
    DaySummarySerializer,
    PaymentCreateSerializer,
    PaymentListQuerySerializer,
    PaymentPageSerializer,
    PaymentSerializer,
    RefundCreateSerializer,
    RefundSerializer,
    WaitQuerySerializer,
)
from payments.api.throttling import TerminalRateThrottle
from payments.models import Payment, Refund
from payments.receipts import payment_receipt_pdf

TAG = "Partner API: payments"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    location=OpenApiParameter.HEADER,
    required=True,
    type=str,
    # Schema text is developer documentation (English), not user-facing: plain strings.
    description=(
        "A unique key per operation (e.g. a UUID), 1-255 printable ASCII characters. Resend "
        "the same key with the same body to retry safely: the first answer comes back with "
        "'Idempotent-Replayed: true'. The same key with another body answers 409."
    ),
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ApiErrorSerializer, description=description)


COMMON_ERRORS = {
    401: _error("No, unknown or disabled token (code not_authenticated)."),
    404: _error("No such payment in this terminal's store (code not_found)."),
    405: _error("Method not allowed (code method_not_allowed)."),
    406: _error("Only JSON is offered (code not_acceptable)."),
    429: _error("Too many requests from this terminal (code throttled)."),
}
WRITE_ERRORS = {
    **COMMON_ERRORS,
    400: _error(
        "Invalid request (codes invalid_request, invalid_amount, unsupported_currency, "
        "invalid_buyer_code, malformed_json, idempotency_key_required, idempotency_key_invalid)."
    ),
    409: _error(
        "Idempotency conflict (idempotency_in_progress, idempotency_key_reused) or a state that "
        "does not allow the operation (not_cancellable, not_refundable)."
    ),
    415: _error("The body must be JSON (code unsupported_media_type)."),
    503: _error("Payments are unavailable right now; retry later with the same key."),
}


def scope_of(request: Request) -> str:
    """Idempotency keys are per terminal."""
    return request.user.idempotency_scope


def actor_of(request: Request) -> str:
    return f"terminal:{request.user}"


def partner_refund_id_for(request: Request, payment: Payment) -> str:
    """The refund's id at Alipay, derived from the terminal's Idempotency-Key.

    A second line of defence behind the idempotency record: should a retry ever get past it (the
    record released after a 5xx), the lifecycle finds the refund by this id and returns it instead
    of refunding twice.
    """
    seed = f"{scope_of(request)}\n{request.headers[IDEMPOTENCY_HEADER]}\n{payment.uuid}"
    return "API" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:40].upper()


def partner_trans_id_for(request: Request) -> str:
    """The new payment's id at Alipay, derived from the terminal's Idempotency-Key and request.

    Should the request run again with the same key and body (its process died mid-request and a
    retry took the key over, or a 5xx released it), the lifecycle finds the payment by this id and
    returns it instead of charging the buyer twice; Alipay deduplicates on it as well. The body's
    fingerprint is part of it so that a key reused with another sale (another buyer code, once
    the key's record expired) is another payment, not an old one replayed.
    """
    fingerprint = request_fingerprint(request.method, request.path, request.data)
    return derive_partner_trans_id(
        scope_of(request), request.headers[IDEMPOTENCY_HEADER], fingerprint
    )


def derive_partner_trans_id(scope: str, key: str, fingerprint: str) -> str:
    """42 characters, A-Z and 0-9 (docs/alipay.md: <= 64, unique per merchant)."""
    seed = f"{scope}\n{key}\n{fingerprint}"
    return API_TRANS_ID_PREFIX + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:40].upper()


class PartnerView(APIView):
    authentication_classes = [TerminalTokenAuthentication]
    permission_classes = [IsTerminal]
    throttle_classes = [TerminalRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def get_payment(self, payment_id: str) -> Payment:
        """The payment if it belongs to the terminal's store; 404 otherwise (also for bad ids)."""
        try:
            public_id = uuid.UUID(payment_id)
        except ValueError:
            raise NotFound() from None
        # Only what this store's terminals took through this API (queries.store_payments): a shop
        # or box-office payment in a store of the same id is not the terminal's to read, cancel
        # or refund.
        payment = store_payments(self.request.user).filter(uuid=public_id).first()
        if payment is None:
            raise NotFound()
        return payment


class PaymentCreateView(PartnerView):
    @extend_schema(
        tags=[TAG],
        operation_id="payments_create",
        summary="Take a barcode payment",
        description=(
            "Sends the scanned payment code to Alipay and answers with the payment's state after "
            "that first call: `paid`, `failed` (see failure_code / failure_message) or `pending` "
            "(the buyer must confirm with a PIN, or the outcome is being checked): then follow it "
            "with `GET /api/v1/payments/{id}/?wait=20`."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=PaymentCreateSerializer,
        responses={201: PaymentSerializer, **WRITE_ERRORS},
    )
    @idempotent(scope=scope_of)
    def post(self, request: Request) -> Response:
        serializer = PaymentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        terminal = request.user
        payment = lifecycle.create_barcode_payment(
            amount=data["amount"],
            currency=data["currency"],
            description=data["description"],
            buyer_code=data["buyer_code"],
            reference=data["reference"],
            store_id=terminal.store.store_id,
            terminal_id=terminal.terminal_id,
            actor=actor_of(request),
            partner_trans_id=partner_trans_id_for(request),
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class PaymentDetailView(PartnerView):
    @extend_schema(
        tags=[TAG],
        operation_id="payments_retrieve",
        summary="Read a payment",
        description=(
            "With `wait=N` the request is held up to N seconds until the payment's state changes "
            "(then answers at once), so a POS needs no tight polling loop. A final payment "
            "(failed, cancelled, refunded) is answered at once. Waits are capped per terminal "
            "and per server process: past a cap the current state is answered at once with a "
            "`Retry-After` header (seconds) instead of waiting."
        ),
        parameters=[
            OpenApiParameter("payment_id", location=OpenApiParameter.PATH, type=uuid.UUID),
            OpenApiParameter(
                "wait",
                type=int,
                required=False,
                description="Seconds to hold until the state changes, 0 to 30.",
            ),
            OpenApiParameter(
                "state",
                type=str,
                enum=Payment.State.values,
                required=False,
                description=(
                    "The state the register last saw (e.g. `pending`): the wait ends at once if "
                    "the payment is already in another. Without it, the state when the request "
                    "arrives, so a change just before the request would be waited past."
                ),
            ),
        ],
        responses={
            200: PaymentSerializer,
            400: _error("Invalid wait or state (code invalid_request)."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request: Request, payment_id: str) -> Response:
        """The payment as of now; with `wait`, as of its change or the wait's end.

        Authentication, throttling, validation and the store check all happen here, once, before
        any wait. Under the site's ASGI handler (ticketing/asgi_handler.py) the wait is deferred:
        awaited on the event loop after this thread's work is done, so hundreds of registers
        waiting for their buyers' PINs hold no thread from a pool and no database connection.
        Elsewhere (WSGI, Django's test client) this thread waits.
        """
        query = WaitQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        payment = self.get_payment(payment_id)
        wait = query.validated_data["wait"]
        known = query.validated_data.get("state", payment.state)
        response = Response(PaymentSerializer(payment).data)
        # A final payment will not change, and one already past the state the register knows
        # is news: answer both at once rather than hold anything for nothing.
        if wait and not payment.is_final and payment.state == known:
            poll = LongPoll(
                payment_id=payment.pk,
                state=known,
                seconds=waiters.spread(wait),
                holder=f"terminal:{request.user.pk}",
            )
            if getattr(request, "deferrable", False):
                response.deferred = poll.finish
            else:
                async_to_sync(poll.finish)(response)
        return response


@dataclass(frozen=True)
class LongPoll:
    payment_id: int
    state: str
    seconds: float
    holder: str

    async def finish(self, response: Response) -> None:
        """Wait for the payment to leave `state`, then put it as it is then into `response`.

        Past a cap (waits per terminal, per process) the register gets the answer it has at once
        with Retry-After, never a place in a queue.
        """
        result = await waiters.wait_for_change(
            self.payment_id,
            state=self.state,
            seconds=self.seconds,
            holder=self.holder,
            read=_payment_data,
        )
        if result.outcome is waiters.WaitOutcome.REFUSED:
            response["Retry-After"] = str(waiters.conf("WAIT_RETRY_AFTER"))
            return
        # The payment as read at the wait's end (changed, or not: fields besides the state, such
        # as its times, may have moved), or, when the wait could not read it, read here.
        fresh = result.value or await sync_to_async(_payment_data_by_id)(self.payment_id)
        if fresh is None:  # the row is gone (never in use): the first answer stands
            return
        response.data = fresh
        if response.is_rendered:  # deferred: the handler rendered the first answer already
            response.content = response.rendered_content


def _payment_data(payment: Payment) -> dict:
    return PaymentSerializer(payment).data


def _payment_data_by_id(payment_id: int) -> dict | None:
    payment = Payment.objects.filter(pk=payment_id).first()
    return _payment_data(payment) if payment is not None else None


class PaymentCancelView(PartnerView):
    @extend_schema(
        tags=[TAG],
        operation_id="payments_cancel",
        summary="Cancel a payment",
        description=(
            "Cancels an unpaid or paid payment (a paid one is given back to the buyer). Answers "
            "with the payment, usually `cancelling` or `cancelled`. No body."
        ),
        parameters=[
            OpenApiParameter("payment_id", location=OpenApiParameter.PATH, type=uuid.UUID),
            IDEMPOTENCY_PARAMETER,
        ],
        request=None,
        responses={200: PaymentSerializer, **WRITE_ERRORS},
    )
    @idempotent(scope=scope_of)
    def post(self, request: Request, payment_id: str) -> Response:
        payment = self.get_payment(payment_id)
        payment = lifecycle.request_cancel(payment, actor=actor_of(request))
        return Response(PaymentSerializer(payment).data)


class RefundCollectionView(PartnerView):
    @extend_schema(
        tags=[TAG],
        operation_id="payments_refunds_list",
        summary="List a payment's refunds",
        parameters=[OpenApiParameter("payment_id", location=OpenApiParameter.PATH, type=uuid.UUID)],
        responses={200: RefundSerializer(many=True), **COMMON_ERRORS},
    )
    def get(self, request: Request, payment_id: str) -> Response:
        payment = self.get_payment(payment_id)
        refunds = Refund.objects.filter(payment=payment).select_related("payment")
        return Response(RefundSerializer(refunds, many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="payments_refunds_create",
        summary="Refund a payment, fully or in part",
        description=(
            "Several refunds may follow each other until the paid amount is used up; one larger "
            "than what is left answers 422 `refund_too_large`."
        ),
        parameters=[
            OpenApiParameter("payment_id", location=OpenApiParameter.PATH, type=uuid.UUID),
            IDEMPOTENCY_PARAMETER,
        ],
        request=RefundCreateSerializer,
        responses={
            201: RefundSerializer,
            **WRITE_ERRORS,
            422: _error("The refund is larger than what is left (code refund_too_large)."),
        },
    )
    @idempotent(scope=scope_of)
    def post(self, request: Request, payment_id: str) -> Response:
        payment = self.get_payment(payment_id)
        serializer = RefundCreateSerializer(data=request.data, context={"payment": payment})
        serializer.is_valid(raise_exception=True)
        refund = lifecycle.request_refund(
            payment,
            amount=serializer.validated_data["amount"],
            reason=serializer.validated_data["reason"],
            actor=actor_of(request),
            partner_refund_id=partner_refund_id_for(request, payment),
        )
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


class RefundDetailView(PartnerView):
    @extend_schema(
        tags=[TAG],
        operation_id="payments_refunds_retrieve",
        summary="Read a refund",
        parameters=[
            OpenApiParameter("payment_id", location=OpenApiParameter.PATH, type=uuid.UUID),
            OpenApiParameter("refund_id", location=OpenApiParameter.PATH, type=uuid.UUID),
        ],
        responses={200: RefundSerializer, **COMMON_ERRORS},
    )
    def get(self, request: Request, payment_id: str, refund_id: str) -> Response:
        payment = self.get_payment(payment_id)
        try:
            public_id = uuid.UUID(refund_id)
        except ValueError:
            raise NotFound() from None
        refund = Refund.objects.filter(payment=payment, uuid=public_id).first()
        if refund is None:
            raise NotFound()
        refund.payment = payment
        return Response(RefundSerializer(refund).data)


# --- listing and end-of-day summary ------------------------------------------------------------
class PaymentCursorPagination(CursorPagination):
    """Oldest first by (created_at, id): a payment created while a register pages through the
    list lands after the pages already read, so none is skipped or repeated.

    DRF's cursor holds the first ordering field only and steps over ties with an offset, which
    goes wrong going back through payments that share a created_at (a busy second, a batch). Here
    the cursor's position is the pair, unique, and the page starts strictly after it.
    """

    ordering = ("created_at", "id")
    page_size = 50
    max_page_size = 200  # also the serializer's limit on page_size
    invalid_cursor_message = _("Invalid cursor: pass back the 'next' or 'previous' link as given.")

    def __init__(self, page_size: int | None = None):
        self.requested_page_size = page_size

    def get_page_size(self, request: Request) -> int:
        return self.requested_page_size or self.page_size

    def _get_position_from_instance(self, instance: Payment, ordering) -> str:
        return f"{instance.created_at.isoformat()} {instance.pk}"

    def _parse_position(self, position: str) -> tuple[datetime, int]:
        try:
            created_text, pk_text = position.split(" ")
            created_at = parse_datetime(created_text)
            pk = int(pk_text)
        except ValueError:
            created_at = None
        if created_at is None or created_at.tzinfo is None:
            raise ValidationError({"cursor": [self.invalid_cursor_message]})
        return created_at, pk

    def decode_cursor(self, request: Request):
        # A bad cursor is bad input (400 naming the parameter), not a missing page (DRF's 404);
        # nor may a tampered position reach the database as a date it cannot read.
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from None
        if cursor is not None and cursor.position is not None:
            self._parse_position(cursor.position)
        return cursor

    def paginate_queryset(self, queryset, request: Request, view=None) -> list[Payment]:
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.cursor = self.decode_cursor(request)
        offset, reverse, position = self.cursor or (0, False, None)
        if position is not None:
            created_at, pk = self._parse_position(position)
            if reverse:
                keyset = Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk)
            else:
                keyset = Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=pk)
            queryset = queryset.filter(keyset)
        queryset = queryset.order_by(*(("-created_at", "-id") if reverse else self.ordering))
        # One more than a page tells whether another page follows.
        results = list(queryset[offset : offset + self.page_size + 1])
        self.page = results[: self.page_size]
        following = (
            self._get_position_from_instance(results[-1], self.ordering)
            if len(results) > len(self.page)
            else None
        )
        came_from_elsewhere = position is not None or offset > 0
        if reverse:
            self.page.reverse()
            self.has_next, self.next_position = came_from_elsewhere, position
            self.has_previous, self.previous_position = following is not None, following
        else:
            self.has_next, self.next_position = following is not None, following
            self.has_previous, self.previous_position = came_from_elsewhere, position
        return self.page


# The store's collections: nothing to be "not found".
READ_ERRORS = {code: answer for code, answer in COMMON_ERRORS.items() if code != 404}

LIST_PARAMETERS = [
    OpenApiParameter(
        "created_after",
        type={"type": "string", "format": "date-time"},
        required=False,
        description="Only payments created at or after this instant (ISO 8601 with offset).",
    ),
    OpenApiParameter(
        "created_before",
        type={"type": "string", "format": "date-time"},
        required=False,
        description="Only payments created before this instant (ISO 8601 with offset).",
    ),
    OpenApiParameter(
        "state",
        type={"type": "array", "items": {"type": "string", "enum": Payment.State.values}},
        required=False,
        explode=True,
        description=(
            "Only payments in these states: repeat the parameter (state=paid&state=refunded) "
            "or separate with commas (state=paid,refunded)."
        ),
    ),
    OpenApiParameter(
        "terminal",
        type=str,
        required=False,
        description="Only payments of this terminal of the store (its terminal id).",
    ),
    OpenApiParameter(
        "page_size",
        type={"type": "integer", "minimum": 1, "maximum": PaymentCursorPagination.max_page_size},
        required=False,
        description=f"Payments per page, default {PaymentCursorPagination.page_size}.",
    ),
    OpenApiParameter(
        "cursor",
        type=str,
        required=False,
        description="The page to read: pass the 'next' or 'previous' link as given.",
    ),
]


class PaymentCollectionView(PaymentCreateView):
    """/payments/: the listing (GET) beside taking a payment (POST, PaymentCreateView)."""

    @extend_schema(
        tags=[TAG],
        operation_id="payments_list",
        summary="List the store's payments",
        description=(
            "The payments that this terminal's store (any of its terminals) took through the "
            "partner API, oldest first by (created_at, id), a page at a time: follow `next` "
            "until it is null. Payments of other stores and of the shop or box office pages are "
            "never listed."
        ),
        parameters=LIST_PARAMETERS,
        responses={
            200: PaymentPageSerializer,
            400: _error("Invalid filter, page size or cursor (code invalid_request)."),
            **READ_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        query = PaymentListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        payments = store_payments(request.user)
        if "created_after" in filters:
            payments = payments.filter(created_at__gte=filters["created_after"])
        if "created_before" in filters:
            payments = payments.filter(created_at__lt=filters["created_before"])
        if "state" in filters:
            payments = payments.filter(state__in=filters["state"])
        if "terminal" in filters:
            payments = payments.filter(terminal_id=filters["terminal"])
        paginator = PaymentCursorPagination(page_size=filters.get("page_size"))
        page = paginator.paginate_queryset(payments, request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)


class PaymentDaySummaryView(PartnerView):
    @extend_schema(
        tags=[TAG],
        operation_id="payments_summary",
        summary="Totals of the store's day, for an end-of-day",
        description=(
            "For the store's payments created on `date`: count and sum per state (as it is "
            "now) and currency; "
            "and the refunds that succeeded on `date` (whenever their payment was made): count "
            "and sum per currency. The day runs from midnight to midnight in the site's time zone "
            "(settings TIME_ZONE; stores have no zone of their own), named in `timezone`, with "
            "its bounds in `start` and `end`."
        ),
        parameters=[
            OpenApiParameter(
                "date",
                type={"type": "string", "format": "date"},
                required=True,
                description="The day, YYYY-MM-DD.",
            )
        ],
        responses={
            200: DaySummarySerializer,
            400: _error("Missing or invalid date (code invalid_request)."),
            **READ_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        query = DaySummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        summary = day_summary(request.user, query.validated_data["date"])
        return Response(DaySummarySerializer(summary).data)


class PaymentReceiptView(PartnerView):
    """A payment's 80 mm receipt as PDF, for a terminal without printer logic of its own.

    Errors stay JSON like everywhere in the API: content negotiation is skipped, as the only
    successful answer is the PDF whatever the client's Accept header says.
    """

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        tags=[TAG],
        operation_id="payments_receipt",
        summary="Print a payment's receipt (PDF, 80 mm)",
        description=(
            "The receipt of a payment of this terminal's store as a one-page PDF 80 mm wide: "
            "amount and currency, the CNY amount Alipay charged where it gave one, Alipay's "
            "transaction id, and the refunds that succeeded. `language` picks the receipt's "
            "language (en or zh-hans, default en)."
        ),
        parameters=[
            OpenApiParameter("payment_id", location=OpenApiParameter.PATH, type=uuid.UUID),
            OpenApiParameter(
                "language",
                type=str,
                required=False,
                enum=["en", "zh-hans"],
                description="The receipt's language.",
            ),
        ],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            400: _error("Unknown language (code invalid_request)."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request: Request, payment_id: str) -> HttpResponse:
        language = request.query_params.get("language", "en")
        if language not in ("en", "zh-hans"):
            raise ValidationError({"language": ["Choose en or zh-hans."]})
        payment = self.get_payment(payment_id)
        response = HttpResponse(
            payment_receipt_pdf(payment, language), content_type="application/pdf"
        )
        response["Content-Disposition"] = f'inline; filename="receipt-{payment.uuid}.pdf"'
        return response
