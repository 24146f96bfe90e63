"""Alipay's result and error codes, classified into what the lifecycle does (docs/alipay.md's
table).

Messages are plain English for staff and cashiers, marked with gettext_noop so that Django's
makemessages extracts them while this package stays free of Django; the edge shows
gettext(result.message). An unknown code is a failure shown with the raw code, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping

from payments.alipay import services
from payments.alipay.results import Outcome, Transport


def gettext_noop(message: str) -> str:
    """Mark a string for translation without translating it here (same name Django extracts)."""
    return message


CONFIG_CODES = frozenset(
    {
        "ILLEGAL_SIGN", "ILLEGAL_SIGN_TYPE", "ILLEGAL_PARTNER", "ILLEGAL_EXTERFACE",
        "ILLEGAL_PARTNER_EXTERFACE", "HAS_NO_PRIVILEGE", "INVALID_PARAMETER", "ILLEGAL_ARGUMENT",
    }
)  # fmt: skip

_CONFIG = gettext_noop(
    "Alipay refused our request or configuration (signature, partner id, service or parameters). "
    "Staff must check the Alipay settings; the payment was not attempted."
)
_BUYER = Outcome.FAILED
CODES: dict[str, tuple[Outcome, str]] = {
    "SUCCESS": (Outcome.SUCCESS, gettext_noop("Alipay accepted the request.")),
    "SYSTEM_ERROR": (
        Outcome.RETRYABLE,
        gettext_noop("Alipay is busy or unavailable; the outcome is unknown and will be checked."),
    ),
    "UNKNOW": (
        Outcome.IN_PROGRESS,
        gettext_noop("Waiting for the buyer to confirm the payment in the Alipay app."),
    ),
    **{code: (Outcome.CONFIG_ERROR, _CONFIG) for code in CONFIG_CODES},
    "TRADE_BUYER_NOT_MATCH": (
        Outcome.FAILED,
        gettext_noop("This payment number was already used by another buyer; start a new payment."),
    ),
    # Already closed or already paid: only a query tells which, so the lifecycle asks it.
    "TRADE_HAS_CLOSE": (
        Outcome.RETRYABLE,
        gettext_noop("Alipay says this payment is already closed; checking its status."),
    ),
    "TRADE_HAS_SUCCESS": (
        Outcome.RETRYABLE,
        gettext_noop("Alipay says this payment is already paid; checking its status."),
    ),
    "TRADE_STATUS_ERROR": (
        Outcome.RETRYABLE,
        gettext_noop("The payment is not in a state that allows this; checking its status."),
    ),
    "TRADE_NOT_EXIST": (
        Outcome.FAILED,
        gettext_noop("Alipay has no such payment: nothing was charged."),
    ),
    "BUYER_BALANCE_NOT_ENOUGH": (
        _BUYER,
        gettext_noop("The buyer's Alipay balance is not enough. Ask for another payment method."),
    ),
    "BUYER_ENABLE_STATUS_FORBID": (
        _BUYER,
        gettext_noop("The buyer's Alipay account cannot pay at the moment."),
    ),
    "BEYOND_PAY_RESTRICTION": (
        _BUYER,
        gettext_noop("The amount is over the buyer's Alipay payment limit."),
    ),
    "BUYER_NOT_EXIST": (
        _BUYER,
        gettext_noop("The payment code does not belong to an Alipay account. Scan it again."),
    ),
    "BUYER_SELLER_EQUAL": (
        _BUYER,
        gettext_noop("The buyer and the seller are the same Alipay account."),
    ),
    "EXIST_FORBIDDEN_WORD": (
        _BUYER,
        gettext_noop("Alipay refused a word in the payment description."),
    ),
    "SOUNDWAVE_PARSER_FAIL": (
        _BUYER,
        gettext_noop(
            "The payment code could not be read. Ask the buyer to refresh it and scan again."
        ),
    ),
    "REFUND_AMT_RESTRICTION": (
        Outcome.FAILED,
        gettext_noop("The refund is more than what is left to refund on this payment."),
    ),
    "REQUEST_AMOUNT_EXCEED": (
        Outcome.FAILED,
        gettext_noop("The refund is more than what is left to refund on this payment."),
    ),
    "RETURN_AMOUNT_EXCEED": (
        Outcome.FAILED,
        gettext_noop("The refund is more than what is left to refund on this payment."),
    ),
}
# A refund on a closed or unsuitable trade (closed, finished, reversed) will not succeed by
# asking again; the generic "checking its status" messages of these codes do not fit it.
FINAL_FOR_REFUND = frozenset({"TRADE_HAS_CLOSE", "TRADE_STATUS_ERROR"})
REFUND_REFUSED = gettext_noop(
    "Alipay refused the refund: this payment can no longer be refunded "
    "(closed, past its refund period, or already given back)."
)

UNKNOWN_CODE = gettext_noop("Alipay answered with an unexpected code; staff must check it.")
TRADE_STATUS_MESSAGES = {
    "WAIT_BUYER_PAY": gettext_noop(
        "Waiting for the buyer to confirm the payment in the Alipay app."
    ),
    "TRADE_SUCCESS": gettext_noop("The payment is complete."),
    "TRADE_FINISHED": gettext_noop("The payment is complete and can no longer be refunded."),
    "TRADE_CLOSED": gettext_noop("The payment is closed: unpaid, cancelled or fully refunded."),
}
TRANSPORT_MESSAGES = {
    Transport.TIMEOUT: gettext_noop("Alipay did not answer in time; the outcome is unknown."),
    Transport.CONNECTION_ERROR: gettext_noop(
        "Alipay could not be reached; the outcome is unknown."
    ),
    Transport.HTTP_ERROR: gettext_noop(
        "Alipay answered with an HTTP error; the outcome is unknown."
    ),
    Transport.HTML: gettext_noop("Alipay answered with a web page instead of a result."),
    Transport.MALFORMED: gettext_noop("Alipay's answer could not be read; the outcome is unknown."),
    Transport.BAD_SIGNATURE: gettext_noop(
        "Alipay's answer failed the signature check and was not believed; the outcome is unknown."
    ),
}


def describe(code: str) -> tuple[Outcome, str]:
    """The default classification of one code, any service."""
    return CODES.get(code, (Outcome.FAILED, UNKNOWN_CODE))


def classify_rejection(error: str) -> tuple[Outcome, str, str]:
    """is_success=F: the request was refused as a whole, with a top-level <error>."""
    code = error or "UNKNOWN"
    outcome, message = describe(code)
    return outcome, code, message


def classify_answer(service: str, fields: Mapping[str, str]) -> tuple[Outcome, str, str]:
    """A verified business answer -> (outcome, code, message), per service."""
    result_code = fields.get("result_code", "").upper()
    if result_code == "SUCCESS":
        if service in (services.QUERY, services.REFUND_QUERY):
            status = fields.get("alipay_trans_status", "") or fields.get("refund_status", "")
            message = TRADE_STATUS_MESSAGES.get(status, CODES["SUCCESS"][1])
            return Outcome.SUCCESS, "SUCCESS", message
        return Outcome.SUCCESS, "SUCCESS", CODES["SUCCESS"][1]
    if result_code == "UNKNOW":
        return Outcome.IN_PROGRESS, "UNKNOW", CODES["UNKNOW"][1]
    if not result_code:
        return Outcome.RETRYABLE, Transport.MALFORMED.value, TRANSPORT_MESSAGES[Transport.MALFORMED]
    # FAIL, FAILED or anything else: a failure; the error says which.
    code = fields.get("error") or fields.get("detail_error_code") or result_code
    outcome, message = describe(code)
    if service == services.CANCEL and outcome is not Outcome.CONFIG_ERROR:
        # cancel says itself whether sending it again may help (docs/alipay.md, cancel).
        flag = fields.get("retry_flag", "").upper()
        if flag == "Y" or code == "SYSTEM_ERROR":
            return Outcome.RETRYABLE, code, message
        if flag == "N":
            return Outcome.FAILED, code, message
    if service == services.REFUND and code in FINAL_FOR_REFUND:
        return Outcome.FAILED, code, REFUND_REFUSED
    return outcome, code, message
