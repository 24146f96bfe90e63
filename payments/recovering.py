"""Trades reconciliation and staff ask about: queried on staff's request, made paid when Alipay
took the money of a payment Entrada had ended (or given up on), or recorded when Entrada never
knew them.

A layer above paying (it uses the same verification and transitions); the lifecycle façade
exports it. Queries happen outside any transaction; each is recorded like every gateway call.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from payments import alipay_client, clock, signals
from payments.alipay.results import SignatureVerdict
from payments.exceptions import NotPaidAtAlipay
from payments.models import Payment, PaymentEvent
from payments.transitions import record_exchange, transition_payment
from payments.verification import PAID_STATUSES, ids_match, trade_absent

State = Payment.State


@dataclass(frozen=True)
class TradeCheck:
    """Alipay's answer to a query staff asked for, as believed (status empty when not)."""

    partner_trans_id: str
    status: str
    code: str
    amount: str
    currency: str
    alipay_trans_id: str
    believed: bool
    # A signed TRADE_NOT_EXIST about this trade: Alipay holds no trade under its id.
    absent: bool = False

    @property
    def paid(self) -> bool:
        return self.believed and self.status in PAID_STATUSES

    @property
    def closed(self) -> bool:
        """Unpaid and closed, or paid and then given back in full (reversed or refunded)."""
        return self.believed and self.status == "TRADE_CLOSED"

    @property
    def waiting(self) -> bool:
        """The buyer may still confirm: Alipay closes an unpaid trade on its own later."""
        return self.believed and self.status == "WAIT_BUYER_PAY"

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "code": self.code,
            "amount": self.amount,
            "currency": self.currency,
            "alipay_trans_id": self.alipay_trans_id,
            "believed": self.believed,
        }


def check_trade(partner_trans_id: str, *, actor: str) -> TradeCheck:
    """One query for a trade, known to Entrada or not, recorded like every gateway call.

    It changes no state: a pending payment's poller applies what Alipay says on its own, and
    the callers below (and payments.attention) apply the answer for the payments they act on.
    """
    payment = Payment.objects.filter(partner_trans_id=partner_trans_id).first()
    sent_at = clock.now()
    result = alipay_client.client().query(partner_trans_id=partner_trans_id)
    absent = False
    if payment is not None:
        believed = result.ok and ids_match(payment, result)
        absent = trade_absent(payment, result)
    else:
        believed = (
            result.ok
            and result.signature is SignatureVerdict.VALID
            and (result.fields.get("out_trade_no") or result.fields.get("partner_trans_id"))
            == partner_trans_id
        )
    record_exchange(
        result,
        payment=payment,
        sent_at=sent_at,
        attempt=(payment.query_count + 1) if payment else 1,
        # A verified "no such trade" is an answer staff may act on (payments.attention).
        believed=believed or absent,
        actor=actor,
    )
    fields = result.fields
    return TradeCheck(
        partner_trans_id=partner_trans_id,
        status=result.trade_status if believed else "",
        code=result.code,
        amount=str(fields.get("trans_amount", "")),
        currency=str(fields.get("currency", "")),
        alipay_trans_id=str(fields.get("alipay_trans_id") or fields.get("trade_no") or ""),
        believed=believed,
        absent=absent,
    )


def recover_paid(
    payment: Payment, *, actor: str, announce: bool, note: str = "found by reconciliation"
) -> Payment:
    """Alipay took the money of a payment Entrada ended (failed, cancelled, needs attention):
    once a query confirms it, the payment is paid. With `announce`, payment_paid goes out and
    the payable's owner delivers (or refunds, if it can no longer deliver); without, the caller
    refunds it at once. Raises NotPaidAtAlipay when the query does not confirm it."""
    check = check_trade(payment.partner_trans_id, actor=actor)
    if not check.paid:
        raise NotPaidAtAlipay(fields={"status": check.status or check.code})
    return apply_paid(payment, check, actor=actor, announce=announce, note=note)


def apply_paid(
    payment: Payment, check: TradeCheck, *, actor: str, announce: bool, note: str
) -> Payment:
    """Make `payment` paid from a query that confirmed it (`check.paid`), as recover_paid does;
    for a caller that made the query itself and decided on its answer."""
    if not check.paid or check.partner_trans_id != payment.partner_trans_id:
        raise NotPaidAtAlipay(fields={"status": check.status or check.code})
    fields = {"next_action_at": None, "buyer_code_sealed": "", "attention_reason": ""}
    if not payment.paid_at:
        fields["paid_at"] = clock.now()
    if check.alipay_trans_id and not payment.alipay_trans_id:
        fields["alipay_trans_id"] = check.alipay_trans_id[:64]
    transition_payment(
        payment.pk,
        to=State.PAID,
        from_states=[State.FAILED, State.CANCELLED, State.NEEDS_ATTENTION],
        actor=actor,
        note=f"paid at Alipay ({check.status}), {note}",
        fields=fields,
        announce=announce,
    )
    payment.refresh_from_db()
    return payment


def adopt_paid_trade(
    partner_trans_id: str, *, amount: Decimal, currency: str, description: str, actor: str
) -> Payment:
    """A trade Alipay's file shows paid that Entrada never sent (another till, a lost record):
    recorded as a paid payment once a query confirms it, for this amount and currency, so that
    it can be refunded through the ordinary refund lifecycle. Raises NotPaidAtAlipay."""
    existing = Payment.objects.filter(partner_trans_id=partner_trans_id).first()
    if existing is not None:
        return existing
    check = check_trade(partner_trans_id, actor=actor)
    try:
        same = Decimal(check.amount) == amount and check.currency == currency
    except InvalidOperation:
        same = False
    if not (check.paid and same):
        raise NotPaidAtAlipay(fields={"status": check.status or check.code})
    now = clock.now()
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                partner_trans_id=partner_trans_id,
                alipay_trans_id=check.alipay_trans_id[:64],
                amount=amount,
                currency=currency,
                description=description[:256],
                channel=Payment.Channel.BARCODE,
                state=State.PAID,
                created_at=now,
                updated_at=now,
                paid_at=now,
            )
            PaymentEvent.objects.create(
                payment=payment,
                from_state="",
                to_state=State.PAID,
                actor=actor[:150],
                note="recorded from Alipay's daily file after a query confirmed it",
                at=now,
            )
            signals.money_recorded.send(sender=Payment, payment_id=payment.pk, refund_id=None)
    except IntegrityError:
        return Payment.objects.get(partner_trans_id=partner_trans_id)
    return payment
