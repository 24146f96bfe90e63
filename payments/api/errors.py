"""The API's one error shape: `{"code": ..., "message": ..., "fields": {...}}`, always JSON.

Set as REST_FRAMEWORK["EXCEPTION_HANDLER"], so the partner API and the public API answer every
failure the same way: a stable machine `code` for programs, a plain translated `message` for
people, and per-field messages for validation. Domain errors (payments.exceptions) are translated
here, at the edge, each with its own `http_status`, and never leak a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from payments.api.idempotency import IdempotencyError
from payments.exceptions import DomainError

logger = logging.getLogger(__name__)

try:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    SHARED_SERVICE_DOWN: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
except ImportError:  # installed without the redis extra: no Redis to lose
    SHARED_SERVICE_DOWN = ()

# Validation codes raised by our serializers that deserve their own top-level code.
DOMAIN_VALIDATION_CODES = {
    "invalid_amount",
    "unsupported_currency",
    "invalid_buyer_code",
    "invalid_wait",
}

# DRF's own exceptions: (code, message) we answer with.
API_EXCEPTION_CODES: list[tuple[type[exceptions.APIException], str, Any]] = [
    (exceptions.ParseError, "malformed_json", _("The request body is not valid JSON.")),
    (
        exceptions.NotAuthenticated,
        "not_authenticated",
        _("Authentication required: send the header 'Authorization: Token <your terminal token>'."),
    ),
    (exceptions.AuthenticationFailed, "not_authenticated", None),
    (exceptions.PermissionDenied, "permission_denied", None),
    (exceptions.NotFound, "not_found", _("Not found.")),
    (exceptions.MethodNotAllowed, "method_not_allowed", None),
    (exceptions.NotAcceptable, "not_acceptable", None),
    (
        exceptions.UnsupportedMediaType,
        "unsupported_media_type",
        _("Send the request body as JSON with the header 'Content-Type: application/json'."),
    ),
    (exceptions.Throttled, "throttled", None),
]


def error_body(code: str, message: Any, fields: dict | None = None) -> dict:
    return {"code": code, "message": force_str(message), "fields": fields or {}}


def _flatten_fields(detail: Any) -> dict:
    """DRF's nested error detail as {field: [messages]} (nested fields joined with dots)."""
    fields: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                walk(f"{prefix}.{name}" if prefix else str(name), inner)
        elif isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
            for index, inner in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), inner)
        else:
            items = value if isinstance(value, list) else [value]
            messages = [str(force_str(v)) for v in items]
            fields.setdefault(prefix or "non_field_errors", []).extend(messages)

    walk("", detail)
    return fields


def _collect_codes(codes: Any) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_collect_codes(v) for v in codes.values())) if codes else set()
    if isinstance(codes, list):
        return set().union(*(_collect_codes(v) for v in codes)) if codes else set()
    return {str(codes)}


def _validation_response(exc: exceptions.ValidationError) -> Response:
    fields = _flatten_fields(exc.detail)
    codes = _collect_codes(exc.get_codes())
    # One domain problem (a bad amount, say) gets its own code; several, the general one.
    code = (
        codes.pop() if len(codes) == 1 and codes <= DOMAIN_VALIDATION_CODES else "invalid_request"
    )
    general = fields.pop("non_field_errors", None)
    if general:
        message = " ".join(general)
    elif len(fields) == 1:
        name, messages = next(iter(fields.items()))
        message = f"{name}: {' '.join(messages)}"
    else:
        message = force_str(_("Some fields are not valid: see 'fields'."))
    return Response(error_body(code, message, fields), status=status.HTTP_400_BAD_REQUEST)


def _detail_message(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, list | dict):
        return " ".join(" ".join(v) for v in _flatten_fields(detail).values())
    return force_str(detail)


def _view_name(context: dict) -> str:
    view = context.get("view")
    return type(view).__name__ if view else "API view"


def exception_handler(exc: Exception, context: dict) -> Response:
    """Every exception a view raises, as the error shape with a fitting status."""
    # As DRF's own handler does: an atomic request (ATOMIC_REQUESTS) must not commit half a change.
    set_rollback()
    if isinstance(exc, DomainError):
        if exc.internal_details:
            logger.error("%s: %s", exc.code, exc.fields)
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, IdempotencyError):
        return Response(error_body(exc.code, exc.message), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(exc)
    if isinstance(exc, exceptions.APIException):
        code, message = exc.default_code, None
        for kind, kind_code, kind_message in API_EXCEPTION_CODES:
            if isinstance(exc, kind):
                code, message = kind_code, kind_message
                break
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            # Anything that did not authenticate is one code, whatever the reason.
            message = message or _detail_message(exc)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        return Response(
            error_body(code, message if message is not None else _detail_message(exc)),
            status=exc.status_code,
            headers=headers,
        )
    if isinstance(exc, SHARED_SERVICE_DOWN):
        # Redis (the shared cache behind the throttles, the task broker) went away for a moment,
        # as in a restart: the request can be retried, and it is nothing to mail anyone about.
        logger.warning("shared service unavailable in %s: %s", _view_name(context), exc)
        return Response(
            error_body(
                "service_unavailable",
                _("A service this site depends on is briefly unavailable; retry in a moment."),
            ),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "2"},
        )
    # A bug: log it with its traceback for us, answer JSON without it for the caller.
    logger.exception("unhandled error in %s", _view_name(context))
    return Response(
        error_body(
            "internal_error",
            _("Something went wrong on our side; the request may be retried with the same key."),
        ),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
