"""Domain errors of the payment lifecycle: a stable `code` and a plain, translatable message.

Services raise these; the edges translate them (the API answers 4xx JSON
`{"code": ..., "message": ..., "fields": {...}}`, the admin shows the message). Gateway *outcomes*
are not exceptions (docs/contributing.md): a declined buyer is a failed payment, not an error of
the caller.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """Base of every domain error in Entrada (payments and ticketing alike).

    It lives here because payments is the app every other app may import. The edges need nothing
    but these attributes: the API answers `as_dict()` with `http_status`, pages show `message`.
    """

    code: str = "domain_error"
    http_status: int = 400
    default_message = _("The request could not be processed.")
    # True when `fields` describe our own setup (key files, URLs): logged, never shown to callers.
    internal_details: bool = False

    def __init__(self, message: str | None = None, *, fields: dict | None = None):
        self.message = message if message is not None else self.default_message
        self.fields: dict = fields or {}
        super().__init__(str(self.message))

    def public_fields(self) -> dict[str, list[str]]:
        """`fields` as {field: [messages]}, the API's shape; empty for internal details."""
        if self.internal_details:
            return {}
        return {
            str(name): [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
            for name, value in self.fields.items()
        }

    def as_dict(self) -> dict:
        return {"code": self.code, "message": str(self.message), "fields": self.public_fields()}


class PaymentError(DomainError):
    """Base of every error the payments services raise to their callers."""

    code: str = "payment_error"
    default_message = _("The payment request could not be processed.")


class InvalidAmount(PaymentError):
    code = "invalid_amount"
    default_message = _("The amount is not valid for this currency.")


class UnsupportedCurrency(PaymentError):
    code = "unsupported_currency"
    default_message = _("This currency is not accepted.")


class InvalidBuyerCode(PaymentError):
    code = "invalid_buyer_code"
    default_message = _(
        "The scanned code is not an Alipay payment code (16 to 24 digits, starting 25 to 30)."
    )


class InvalidPaymentRequest(PaymentError):
    code = "invalid_request"
    default_message = _("The payment request is not valid.")


class NotCancellable(PaymentError):
    code = "not_cancellable"
    http_status = 409
    default_message = _("This payment can no longer be cancelled.")


class NotRefundable(PaymentError):
    code = "not_refundable"
    http_status = 409
    default_message = _("This payment cannot be refunded.")


class RefundTooLarge(PaymentError):
    code = "refund_too_large"
    http_status = 422
    default_message = _("The refund is larger than what is left to refund on this payment.")


class GatewayUnavailable(PaymentError):
    """The gateway configuration is missing or broken: nothing was sent."""

    code = "gateway_unavailable"
    # Nothing was sent: the caller may retry later with the same key (5xx is never stored).
    http_status = 503
    internal_details = True
    default_message = _("Payments are unavailable right now; please try again later.")


class NotPaidAtAlipay(PaymentError):
    """Reconciliation asked to act on money Alipay took, but a query does not confirm it."""

    code = "not_paid_at_alipay"
    http_status = 409
    default_message = _("Alipay does not confirm this trade as paid; nothing was changed.")


class RefundOverLimit(PaymentError):
    """Staff without the unlimited refund permission asked to give back more than their limit
    (payments.refund_limits): nothing was changed."""

    code = "refund_over_limit"
    http_status = 403
    default_message = _("This is above your refund limit: someone in Finance must do it.")


class NotNeedingAttention(PaymentError):
    """A staff action for a payment or refund waiting for a person, on one that no longer is."""

    code = "not_needing_attention"
    http_status = 409
    default_message = _(
        "This no longer needs attention: it was decided meanwhile. Nothing changed."
    )


class AlipayDisagrees(PaymentError):
    """Staff asked to set a state that Alipay's verified answer does not support (or no verified
    answer came): a state is set from what Alipay says, never from a button alone."""

    code = "alipay_disagrees"
    http_status = 409
    default_message = _("Alipay's answer does not allow this; nothing was changed.")
