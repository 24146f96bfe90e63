"""Domain errors of the payment lifecycle: a stable `code` and a plain, translatable message.

Services raise these; the edges translate them (the API answers 4xx JSON
`{"code": ..., "message": ..., "fields": {...}}`, the admin shows the message). Gateway *outcomes*
are not exceptions (STYLE.md): a declined buyer is a failed payment, not an error of the caller.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class PaymentError(Exception):
    """Base of every error the payments services raise to their callers."""

    code: str = "payment_error"
    default_message = _("The payment request could not be processed.")

    def __init__(self, message: str | None = None, *, fields: dict | None = None):
        self.message = message if message is not None else self.default_message
        self.fields: dict = fields or {}
        super().__init__(str(self.message))

    def as_dict(self) -> dict:
        return {"code": self.code, "message": str(self.message), "fields": self.fields}


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
    default_message = _("This payment can no longer be cancelled.")


class NotRefundable(PaymentError):
    code = "not_refundable"
    default_message = _("This payment cannot be refunded.")


class RefundTooLarge(PaymentError):
    code = "refund_too_large"
    default_message = _("The refund is larger than what is left to refund on this payment.")


class GatewayUnavailable(PaymentError):
    """The gateway configuration is missing or broken: nothing was sent."""

    code = "gateway_unavailable"
    default_message = _("Payments are unavailable right now; please try again later.")
