"""What staff do about a payment or refund that needs attention: check it with Alipay now, refund
it instead, or mark it failed (docs/architecture.md, payment lifecycle; README, staff roles).

A state is set from a verified gateway answer, never from a button alone: every action asks
Alipay first (one query, recorded as a GatewayExchange like every call), and moves the payment or
refund only when that answer, signed and about this very trade, allows it. Whatever the outcome,
the action leaves a PaymentEvent naming the staff user and their note: the transition's own when
something moved, an event from the state to itself when nothing did. Orders follow through the
payment signals (ticketing's receivers), as for every other outcome.

A layer above recovering, cancelling and refunds; the admin (payments/admin_attention.py) calls
it after checking each action's permission. No gateway call happens inside a transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from payments import clock
from payments.alipay.results import GatewayResult
from payments.exceptions import (
    AlipayDisagrees,
    InvalidPaymentRequest,
    NotNeedingAttention,
    NotPaidAtAlipay,
)
from payments.messages import message_for
from payments.models import Payment, PaymentEvent, Refund
from payments.recovering import TradeCheck, apply_paid, check_trade
from payments.refunds import query_refund, request_refund
from payments.transitions import transition_payment, transition_refund
from payments.verification import refund_executed, refund_never_received

logger = logging.getLogger(__name__)

State = Payment.State
NOTE_MAX = 400
# Sent to Alipay as refund_reason (at most 128 characters, no double quotes): the staff note
# stays in our audit trail, not in Alipay's records.
REFUND_INSTEAD_REASON = "payment under review refunded by staff"


@dataclass(frozen=True)
class StaffOutcome:
    """What an action came to: whether it moved anything, Alipay's answer in brief, and a
    sentence for the staff user saying what happened and what they may do next."""

    changed: bool
    answer: str
    message: str


def clean_note(note: str) -> str:
    """The staff user's note, required: every decision on stuck money says why."""
    note = " ".join((note or "").split())
    if not note:
        raise InvalidPaymentRequest(_("Write a note saying why."), fields={"note": "required"})
    return note[:NOTE_MAX]


def _audit(payment: Payment, *, actor: str, note: str, refund: Refund | None = None) -> None:
    """An audit row for an action that moved nothing: from the current state to itself."""
    state = f"refund:{refund.state}" if refund is not None else payment.state
    PaymentEvent.objects.create(
        payment=payment,
        refund=refund,
        from_state=state,
        to_state=state,
        actor=actor[:150],
        note=note[:500],
        at=clock.now(),
    )


def _needing_attention(payment: Payment) -> Payment:
    fresh = Payment.objects.get(pk=payment.pk)
    if fresh.state != State.NEEDS_ATTENTION:
        raise NotNeedingAttention()
    return fresh


def _answer(check: TradeCheck) -> str:
    """Alipay's answer in one word for the audit trail and messages."""
    if check.believed and check.status:
        return check.status
    if check.absent:
        return "TRADE_NOT_EXIST"
    return f"not verified ({check.code or 'no answer'})"


# --- payments ---------------------------------------------------------------------------------
def check_payment(payment: Payment, *, actor: str, note: str) -> StaffOutcome:
    """Ask Alipay about a payment needing attention, record the answer and apply what it decides.

    Paid at Alipay, never paid here: the payment becomes paid and payment_paid goes out, so its
    order gets its tickets (or, past its hold, is honoured or refunded as any late payment is).
    Paid at Alipay but paid here before (a reversal that kept failing): nothing moves, since the
    money must still go back (refund instead). Any other answer only informs the next decision.
    """
    note = clean_note(note)
    payment = _needing_attention(payment)
    check = check_trade(payment.partner_trans_id, actor=actor)
    answer = _answer(check)
    if check.paid and payment.paid_at is None:
        payment = apply_paid(
            payment, check, actor=actor, announce=True, note=f"checked by staff: {note}"
        )
        if payment.state == State.PAID:
            return StaffOutcome(
                True,
                answer,
                _("Alipay says paid (%(answer)s): the payment is paid and its order follows.")
                % {"answer": answer},
            )
        raise NotNeedingAttention()
    _audit(payment, actor=actor, note=f"checked with Alipay: {answer}; {note}")
    if check.paid:
        advice = _(
            "Alipay still shows it paid (%(answer)s): the reversal did not happen. "
            "Refund instead gives the money back."
        )
    elif check.closed or check.absent:
        advice = _(
            "Alipay says %(answer)s: no money is with Alipay for it. You may mark it failed."
        )
    elif check.waiting:
        advice = _(
            "Alipay says the buyer may still pay (%(answer)s); Alipay closes an unpaid trade "
            "within minutes. Check again then."
        )
    else:
        advice = _("Alipay's answer could not be verified (%(answer)s). Try again later.")
    return StaffOutcome(False, answer, advice % {"answer": answer})


def refund_instead(payment: Payment, *, actor: str, note: str) -> Refund:
    """A payment needing attention that Alipay shows paid: give the money back in full.

    The query confirms it paid; the payment is made paid quietly (nobody delivers for it) and
    refunded through the refund lifecycle, whose money_returning lets the order unwind (places
    released, tickets revoked if any, the buyer told). Raises NotPaidAtAlipay otherwise.
    """
    note = clean_note(note)
    payment = _needing_attention(payment)
    check = check_trade(payment.partner_trans_id, actor=actor)
    answer = _answer(check)
    if not check.paid:
        _audit(payment, actor=actor, note=f"refund instead refused, Alipay: {answer}; {note}")
        raise NotPaidAtAlipay(
            _(
                "Alipay does not show this payment paid (%(answer)s): there is nothing to "
                "refund, and nothing was changed."
            )
            % {"answer": answer},
            fields={"status": answer},
        )
    payment = apply_paid(
        payment, check, actor=actor, announce=False, note=f"to refund instead, by staff: {note}"
    )
    if payment.state != State.PAID:
        raise NotNeedingAttention()
    return request_refund(
        payment, amount=payment.refundable_amount, reason=REFUND_INSTEAD_REASON, actor=actor
    )


def mark_payment_failed(payment: Payment, *, actor: str, note: str) -> StaffOutcome:
    """End a payment needing attention once a query made now shows no money with Alipay.

    TRADE_CLOSED: failed, or cancelled when it had been paid here (its reversal went through).
    TRADE_NOT_EXIST: failed (Alipay never had the trade). Paid, waiting or an answer that cannot
    be verified: refused (AlipayDisagrees), with the answer in the audit trail.
    """
    note = clean_note(note)
    payment = _needing_attention(payment)
    check = check_trade(payment.partner_trans_id, actor=actor)
    answer = _answer(check)
    target = None
    if check.closed:
        target = State.CANCELLED if payment.paid_at else State.FAILED
    elif check.absent and payment.paid_at is None:
        target = State.FAILED
    if target is None:
        _audit(payment, actor=actor, note=f"mark failed refused, Alipay: {answer}; {note}")
        if check.paid:
            reason = _(
                "Alipay says this payment is paid (%(answer)s): it is not marked failed. Check "
                "with Alipay now takes it as paid; refund instead gives the money back."
            )
        elif check.waiting:
            reason = _(
                "Alipay says the buyer may still pay (%(answer)s): it is not marked failed. "
                "Alipay closes an unpaid trade within minutes; try again then."
            )
        elif check.absent:
            reason = _(
                "Alipay has no such trade (%(answer)s), yet this payment was paid here: it is "
                "not marked failed. Investigate with Alipay."
            )
        else:
            reason = _(
                "Alipay's answer could not be verified (%(answer)s): it is not marked failed. "
                "Try again later."
            )
        raise AlipayDisagrees(reason % {"answer": answer}, fields={"status": answer})
    code = "TRADE_CLOSED" if check.closed else "TRADE_NOT_EXIST"
    moved = transition_payment(
        payment.pk,
        to=target,
        from_states=[State.NEEDS_ATTENTION],
        actor=actor,
        note=f"Alipay: {answer}; marked {target} by staff: {note}",
        fields={
            "failure_code": code,
            "failure_message": str(message_for(code))[:500],
            "next_action_at": None,
            "attention_reason": "",
            "buyer_code_sealed": "",
        },
    )
    if moved is None:
        raise NotNeedingAttention()
    return StaffOutcome(
        True,
        answer,
        _("Alipay says %(answer)s: the payment is %(state)s and its order follows.")
        % {"answer": answer, "state": State(target).label},
    )


# --- refunds ----------------------------------------------------------------------------------
def _refund_needing_attention(refund: Refund) -> Refund:
    fresh = Refund.objects.select_related("payment").get(pk=refund.pk)
    if fresh.state != Refund.State.NEEDS_ATTENTION:
        raise NotNeedingAttention()
    return fresh


def _refund_absent(refund: Refund, result: GatewayResult | None) -> bool:
    """A signed REFUND_NOT_EXIST (or TRADE_NOT_EXIST) about this very refund id."""
    if result is None or not refund_never_received(result):
        return False
    named = result.fields.get("partner_refund_id")
    return not named or named == refund.partner_refund_id


def _refund_answer(refund: Refund, result: GatewayResult | None) -> str:
    if result is None:
        return "not sent"
    if refund_executed(refund, result):
        return f"refund {result.fields.get('refund_status', 'SUCCESS')}"
    if _refund_absent(refund, result):
        return result.code
    return f"not verified ({result.code or 'no answer'})"


def check_refund(refund: Refund, *, actor: str, note: str) -> StaffOutcome:
    """Ask Alipay about a refund needing attention (the refund query), record the answer and
    apply it: executed means succeeded (the payment and its order follow); never received or
    unknown changes nothing (retry re-sends it under the same id; mark failed gives it up)."""
    note = clean_note(note)
    refund = _refund_needing_attention(refund)
    result = query_refund(refund, actor=actor)
    answer = _refund_answer(refund, result)
    if result is not None and refund_executed(refund, result):
        fields = {"succeeded_at": clock.now(), "next_action_at": None}
        try:
            if result.fields.get("refund_amount_cny"):
                fields["amount_cny"] = Decimal(result.fields["refund_amount_cny"])
        except InvalidOperation:
            pass
        if not transition_refund(
            refund.pk,
            to=Refund.State.SUCCEEDED,
            from_states=[Refund.State.NEEDS_ATTENTION],
            actor=actor,
            note=f"refund {refund.partner_refund_id} confirmed by refund query, by staff: {note}",
            fields=fields,
        ):
            raise NotNeedingAttention()
        return StaffOutcome(
            True, answer, _("Alipay executed this refund: it is recorded as succeeded.")
        )
    _audit(
        refund.payment, refund=refund, actor=actor, note=f"checked with Alipay: {answer}; {note}"
    )
    if _refund_absent(refund, result):
        advice = _(
            "Alipay has no such refund (%(answer)s): retry it (Alipay refunds once per refund "
            "id) or mark it failed."
        )
    else:
        advice = _("Alipay's answer could not be verified (%(answer)s). Try again later.")
    return StaffOutcome(False, answer, advice % {"answer": answer})


def mark_refund_failed(refund: Refund, *, actor: str, note: str) -> StaffOutcome:
    """Give up a refund needing attention once a refund query made now shows Alipay never
    executed it; refused (AlipayDisagrees) when it says executed or cannot be verified. The
    amount is then free to refund again (a failed refund no longer counts against the payment)."""
    note = clean_note(note)
    refund = _refund_needing_attention(refund)
    result = query_refund(refund, actor=actor)
    answer = _refund_answer(refund, result)
    if not _refund_absent(refund, result):
        _audit(
            refund.payment,
            refund=refund,
            actor=actor,
            note=f"mark failed refused: {answer}; {note}",
        )
        if result is not None and refund_executed(refund, result):
            reason = _(
                "Alipay executed this refund (%(answer)s): it is not marked failed. Check with "
                "Alipay now records it as succeeded."
            )
        else:
            reason = _(
                "Alipay's answer could not be verified (%(answer)s): it is not marked failed. "
                "Try again later."
            )
        raise AlipayDisagrees(reason % {"answer": answer}, fields={"status": answer})
    if not transition_refund(
        refund.pk,
        to=Refund.State.FAILED,
        from_states=[Refund.State.NEEDS_ATTENTION],
        actor=actor,
        note=f"Alipay: {answer}; marked failed by staff: {note}",
        fields={
            "failure_code": result.code[:64],
            "failure_message": _("Alipay never executed this refund; staff marked it failed.")[
                :500
            ],
            "next_action_at": None,
        },
    ):
        raise NotNeedingAttention()
    return StaffOutcome(
        True,
        answer,
        _(
            "Alipay never executed this refund (%(answer)s): it is failed, and its amount may be "
            "refunded again."
        )
        % {"answer": answer},
    )
