"""Plain, translatable messages for the codes a payment or refund can end with.

The protocol package marks Alipay's messages with gettext_noop; this module adds the lifecycle's
own codes and gives every message to the edges through gettext, so cashiers and staff read them
in their language. An unknown code falls back to the gateway's message with the raw code.
"""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from payments.alipay import codes

LIFECYCLE_MESSAGES = {
    "TRADE_CLOSED": _("The buyer did not complete the payment, or it expired at Alipay."),
    "DEADLINE": _("The buyer did not confirm in time; the payment was cancelled."),
    "CANCEL_FAILED": _(
        "Alipay did not confirm the cancel after several tries; staff must check this payment."
    ),
    "REFUND_UNCONFIRMED": _(
        "Alipay did not confirm the refund after several tries; staff must check it."
    ),
    "REPLY_MISMATCH": _(
        "Alipay's answer did not match the payment sent (ids, amount or currency); not believed."
    ),
    "invalid_request": _("The request was refused before sending: a parameter is not valid."),
    "config_error": _("The Alipay configuration is not usable; staff must check the settings."),
}


def message_for(code: str, fallback: str = "") -> str:
    """The translated plain message for `code` (lifecycle codes first, then Alipay's)."""
    if code in LIFECYCLE_MESSAGES:
        return str(LIFECYCLE_MESSAGES[code])
    if code in codes.CODES:
        return gettext(codes.CODES[code][1])
    if fallback:
        return gettext(fallback)
    return gettext(codes.UNKNOWN_CODE) + f" ({code})"


def refund_failure_message(code: str, fallback: str = "") -> str:
    """Like message_for, for a refund Alipay refused for good: its codes then mean "no more"."""
    if code in codes.FINAL_FOR_REFUND:
        return gettext(codes.REFUND_REFUSED)
    return message_for(code, fallback)
