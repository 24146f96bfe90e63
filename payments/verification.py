"""Whether a gateway reply may be believed: signed by Alipay and about what we sent.

A reply changes nothing until its signature verifies and its ids, amount and currency match the
payment or refund it answers; the payment and refund modules both ask here before acting.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from payments.alipay.codes import REFUND_ABSENT_CODES, REFUND_DONE_STATUSES
from payments.alipay.results import GatewayResult, Outcome, SignatureVerdict
from payments.models import Payment, Refund

PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")


def ids_match(payment: Payment, result: GatewayResult) -> bool:
    """The reply is about this payment, for its amount and currency (present fields only)."""
    if result.signature is not SignatureVerdict.VALID:
        return False
    fields = result.fields
    trade_id = fields.get("partner_trans_id") or fields.get("out_trade_no")
    if trade_id and trade_id != payment.partner_trans_id:
        return False
    if not trade_id and result.service != "alipay.acquire.precreate":
        return False
    if payment.alipay_trans_id:
        other = fields.get("alipay_trans_id") or fields.get("trade_no")
        if other and other != payment.alipay_trans_id:
            return False
    currency = fields.get("currency")
    if currency and currency != payment.currency:
        return False
    amount_text = fields.get("trans_amount") or fields.get("total_fee")
    if amount_text:
        try:
            if Decimal(amount_text) != payment.amount:
                return False
        except InvalidOperation:
            return False
    return True


def trade_absent(payment: Payment, result: GatewayResult) -> bool:
    """A query's signed answer that Alipay holds no trade under this payment's id (TRADE_NOT_EXIST).

    The sandbox echoes the trade id in that answer and it must then be ours; Alipay's published
    shape does not promise the echo, so its absence is accepted: the signature still proves the
    answer is Alipay's, sent to this merchant.
    """
    if result.signature is not SignatureVerdict.VALID or result.outcome is not Outcome.FAILED:
        return False
    if result.code != "TRADE_NOT_EXIST":
        return False
    trade_id = result.fields.get("partner_trans_id") or result.fields.get("out_trade_no")
    return not trade_id or trade_id == payment.partner_trans_id


def final_answer(result: GatewayResult) -> bool:
    """A failure we may act on: a verified business answer, or a request refused as a whole."""
    if result.outcome is Outcome.CONFIG_ERROR:
        return True
    return result.signature is SignatureVerdict.VALID and result.outcome is Outcome.FAILED


def refund_matches(refund: Refund, result: GatewayResult) -> bool:
    """The reply is about this refund of this payment, for its amount and currency."""
    if result.signature is not SignatureVerdict.VALID:
        return False
    fields = result.fields
    payment = refund.payment
    if fields.get("partner_refund_id") and fields["partner_refund_id"] != refund.partner_refund_id:
        return False
    if fields.get("partner_trans_id") and fields["partner_trans_id"] != payment.partner_trans_id:
        return False
    if fields.get("currency") and fields["currency"] != payment.currency:
        return False
    if fields.get("refund_amount"):
        try:
            if Decimal(fields["refund_amount"]) != refund.amount:
                return False
        except InvalidOperation:
            return False
    return True


def refund_executed(refund: Refund, result: GatewayResult) -> bool:
    """A refund query says Alipay executed this very refund: named by its id, status done."""
    return (
        result.ok
        and result.fields.get("partner_refund_id") == refund.partner_refund_id
        and result.fields.get("refund_status", "").upper() in REFUND_DONE_STATUSES
        and refund_matches(refund, result)
    )


def refund_never_received(result: GatewayResult) -> bool:
    """A refund query's signed answer that Alipay holds no refund under that id."""
    return (
        result.signature is SignatureVerdict.VALID
        and result.outcome is Outcome.FAILED
        and result.code in REFUND_ABSENT_CODES
    )
