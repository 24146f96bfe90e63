"""Whether a gateway reply may be believed: signed by Alipay and about what we sent.

A reply changes nothing until its signature verifies and its ids, amount and currency match the
payment or refund it answers; the payment and refund modules both ask here before acting.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

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
