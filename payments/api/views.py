"""The partner API's endpoints: parse, call one lifecycle function, present the result.

Every payment and refund is seen through the authenticated terminal's store: another store's
payment is "not found", exactly like one that does not exist. Money-moving POSTs require an
Idempotency-Key (payments/api/idempotency.py), so a register that lost a reply can safely resend.
"""

from __future__ import annotations

import hashlib
import uuid

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import lifecycle
from payments.api.auth import IsTerminal, TerminalTokenAuthentication
from payments.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from payments.api.idempotency import idempotent, request_fingerprint
from payments.api.serializers import (
    ApiErrorSerializer,
    PaymentCreateSerializer,
    PaymentSerializer,
    RefundCreateSerializer,
    RefundSerializer,
    WaitQuerySerializer,
)
from payments.api.throttling import TerminalRateThrottle
from payments.models import Payment, Refund

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
    return "EK" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:40].upper()


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
        payment = Payment.objects.filter(
            uuid=public_id, store_id=self.request.user.store.store_id
        ).first()
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
            "(failed, cancelled, refunded) is answered at once."
        ),
        parameters=[
            OpenApiParameter("payment_id", location=OpenApiParameter.PATH, type=uuid.UUID),
            OpenApiParameter(
                "wait",
                type=int,
                required=False,
                description="Seconds to hold until the state changes, 0 to 30.",
            ),
        ],
        responses={
            200: PaymentSerializer,
            400: _error("Invalid wait (code invalid_request)."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request: Request, payment_id: str) -> Response:
        query = WaitQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        payment = self.get_payment(payment_id)
        wait = query.validated_data["wait"]
        # A final payment will not change: answer at once rather than hold a worker for nothing.
        if wait and not payment.is_final:
            payment = lifecycle.wait_for_change(payment, timeout=wait)
        return Response(PaymentSerializer(payment).data)


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
