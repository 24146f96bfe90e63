"""Cancelling a payment: at its deadline, on request, or again when staff ask.

A cancel is sent with the timestamp fixed when the payment entered `cancelling`, so every retry
sends the same request; the poller retries while Alipay asks for it (retry_flag, SYSTEM_ERROR) up
to CANCEL_MAX_ATTEMPTS, after which the payment waits for staff in needs_attention. A paid payment
is cancelled by reversal on its Beijing-time day, and by a full refund afterwards.
"""

from __future__ import annotations

import logging
from datetime import datetime

from payments import alipay_client, clock
from payments.alerts import alert_staff
from payments.alipay.beijing import same_beijing_day
from payments.alipay.results import Outcome
from payments.conf import conf, later
from payments.exceptions import NotCancellable
from payments.messages import message_for
from payments.models import Payment
from payments.refunds import request_refund
from payments.transitions import record_exchange, reschedule_payment, transition_payment
from payments.verification import ids_match
from payments.wakeup import kick_poller_after_commit

logger = logging.getLogger(__name__)

State = Payment.State


def cancel_window_open(payment: Payment, now: datetime | None = None) -> bool:
    """Alipay cancels (reverses) a paid trade only on its Beijing-time day (docs/alipay.md, cancel).

    The documented 15-minute buffer after midnight is not relied on: past midnight we refund.
    """
    return same_beijing_day(now or clock.now(), payment.created_at)


def begin_cancel(
    payment: Payment, *, actor: str, note: str, generation: int | None, kick: bool = True
) -> int | None:
    """pending/created/paid -> cancelling, fixing the cancel's timestamp for every retry."""
    stamp = payment.cancel_timestamp_ms or int(clock.now().timestamp() * 1000)
    return transition_payment(
        payment.pk,
        to=State.CANCELLING,
        from_states=[*Payment.IN_FLIGHT_STATES, State.PAID],
        actor=actor,
        note=note,
        generation=generation,
        kick=kick,
        fields={
            "cancel_timestamp_ms": stamp,
            "buyer_code_sealed": "",
            # Owned by whoever sends the first cancel now; due again if that process dies.
            "next_action_at": later(conf("CLAIM_SECONDS")),
        },
    )


def send_cancel(payment: Payment, *, generation: int, actor: str) -> None:
    """One cancel with the stored timestamp; retried by the poller while Alipay asks for it."""
    if not Payment.objects.filter(
        pk=payment.pk, state=State.CANCELLING, chain_generation=generation
    ).exists():
        return  # another worker took this step over meanwhile
    sent_at = clock.now()
    attempt = payment.cancel_attempts + 1
    result = alipay_client.cancel(payment)
    believed = result.ok and ids_match(payment, result)
    record_exchange(
        result, payment=payment, sent_at=sent_at, attempt=attempt, believed=believed, actor=actor
    )
    if believed:
        action = result.fields.get("action", "")[:16]
        transition_payment(
            payment.pk,
            to=State.CANCELLED,
            from_states=[State.CANCELLING],
            actor=actor,
            generation=generation,
            note=f"cancel {action}".strip(),
            fields={"cancel_action": action, "next_action_at": None, "cancel_attempts": attempt},
        )
        return
    retryable = result.outcome in (Outcome.RETRYABLE, Outcome.IN_PROGRESS) or result.retry_flag
    if retryable and attempt < conf("CANCEL_MAX_ATTEMPTS"):
        reschedule_payment(
            payment.pk,
            generation=generation,
            state=State.CANCELLING,
            next_action_at=later(conf("CANCEL_RETRY_INTERVAL"), start=sent_at),
            cancel_attempts=attempt,
        )
        kick_poller_after_commit()  # a no-op when the poller is the caller
        return
    reason = (
        f"cancel failed {attempt} times, last: {result.code}"
        if retryable
        else f"cancel refused: {result.code}"
    )
    if transition_payment(
        payment.pk,
        to=State.NEEDS_ATTENTION,
        from_states=[State.CANCELLING],
        actor=actor,
        generation=generation,
        note=reason,
        fields={
            "cancel_attempts": attempt,
            "next_action_at": None,
            "attention_reason": reason[:500],
            "failure_code": "CANCEL_FAILED",
            "failure_message": message_for("CANCEL_FAILED"),
        },
    ):
        alert_staff(payment, reason)


def request_cancel(payment: Payment, *, actor: str) -> Payment:
    """Cancel on request: a pending payment now; a paid one by reversal on its Beijing day, or
    by a full refund afterwards. Raises NotCancellable for anything already final."""
    payment = Payment.objects.get(pk=payment.pk)
    if payment.state in Payment.IN_FLIGHT_STATES or (
        payment.state == State.PAID and cancel_window_open(payment) and not payment.refunds.exists()
    ):
        generation = begin_cancel(
            payment, actor=actor, note="cancel requested", generation=None, kick=False
        )
        if generation is None:
            # Someone moved it meanwhile (paid, failed, cancelling): decide again on fresh state.
            return request_cancel(payment, actor=actor)
        payment.refresh_from_db()
        send_cancel(payment, generation=generation, actor=actor)
    elif payment.state == State.CANCELLING:
        pass  # already on its way; the poller retries
    elif payment.state in Payment.REFUNDABLE_STATES:
        remaining = payment.refundable_amount
        if remaining <= 0:
            raise NotCancellable()
        request_refund(payment, amount=remaining, reason="cancelled", actor=actor)
    else:
        raise NotCancellable()
    payment.refresh_from_db()
    return payment


def retry_needs_attention(payment: Payment, *, actor: str) -> Payment:
    """Staff ask for the cancel to be tried again (a fresh bound of attempts, same timestamp)."""
    transition_payment(
        payment.pk,
        to=State.CANCELLING,
        from_states=[State.NEEDS_ATTENTION],
        actor=actor,
        note="retry requested by staff",
        fields={"cancel_attempts": 0, "next_action_at": clock.now(), "attention_reason": ""},
    )
    payment.refresh_from_db()
    return payment
