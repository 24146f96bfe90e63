"""Refunds: several per payment up to the amount paid, each retried under its own partner_refund_id.

The refund row is created in a transaction that counts every refund not failed (requested,
succeeded, needs_attention) against the payment while the payment row is locked (PostgreSQL) or
the database is (SQLite IMMEDIATE), so concurrent requests can never promise more than was paid.
The gateway call happens after that commit. An attempt whose outcome is unknown (SYSTEM_ERROR, a
timeout, a transport error, a reply that fails its signature) is followed by a refund query: a
refund Alipay executed is recorded succeeded there and then; one it never received is retried by
the poller with the same partner_refund_id (Alipay refunds once per partner + partner_refund_id),
and past REFUND_MAX_ATTEMPTS the refund waits for staff in needs_attention. A final refusal of a
refund sent before is believed only once the query says the earlier attempt was not executed.

Alipay does not execute synchronous refunds 00:00-01:30 Beijing time, which is late afternoon
in Europe: a refund asked for then is kept, due at 01:30, and sent by the poller; it spends no
attempt and raises no alert for the wait.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Sum

from payments import alipay_client, clock
from payments.alerts import alert_staff
from payments.alipay.beijing import refund_blackout_end
from payments.alipay.exceptions import InvalidRequest
from payments.alipay.results import GatewayResult, Outcome
from payments.alipay.services import REFUND as REFUND_SERVICE
from payments.cleaning import clean_id, clean_money
from payments.conf import conf, later
from payments.exceptions import InvalidAmount, InvalidPaymentRequest, NotRefundable, RefundTooLarge
from payments.messages import message_for, refund_failure_message
from payments.models import GatewayExchange, Payment, PaymentEvent, Refund
from payments.transitions import (
    announce_money_returning,
    claim_refund,
    record_exchange,
    transition_refund,
)
from payments.verification import (
    final_answer,
    refund_executed,
    refund_matches,
    refund_never_received,
)
from payments.wakeup import kick_poller_after_commit

__all__ = [
    "claim_refund",
    "query_refund",
    "record_refund",
    "request_refund",
    "retry_refund",
    "send_refund",
]

logger = logging.getLogger(__name__)

BLACKOUT_NOTE = "Alipay executes no refunds 00:00-01:30 Beijing time"


def _clean_refund_amount(amount: object, currency: str) -> Decimal:
    try:
        return clean_money(amount, currency)[0]
    except InvalidAmount:
        raise
    except InvalidOperation:
        raise InvalidAmount() from None


def record_refund(
    payment: Payment,
    *,
    amount: Decimal,
    reason: str,
    actor: str,
    partner_refund_id: str | None = None,
) -> Refund:
    """Record a refund, due now, without sending it: the poller sends it (kicked on commit).

    For callers that decide a refund inside their own transaction (ticketing refunding a
    duplicate payment, a late one, a cancelled order): the refund row is the durable intent,
    committed or rolled back with the decision, and no gateway call happens inside it.
    Same checks, idempotency and errors as request_refund.
    """
    refund, created = _record(
        payment,
        amount=amount,
        reason=reason,
        actor=actor,
        partner_refund_id=partner_refund_id,
        claim=False,
    )
    if created:
        kick_poller_after_commit()
    return refund


def request_refund(
    payment: Payment,
    *,
    amount: Decimal,
    reason: str,
    actor: str,
    partner_refund_id: str | None = None,
) -> Refund:
    """Refund `amount` of a paid payment; returns the refund as its first attempt left it.

    The same partner_refund_id asked again returns the existing refund when it is for the same
    payment and amount (an idempotent retry by the caller), and is refused otherwise.
    """
    refund, created = _record(
        payment,
        amount=amount,
        reason=reason,
        actor=actor,
        partner_refund_id=partner_refund_id,
        claim=True,
    )
    if not created:
        return refund
    if _blackout_end(clock.now()) is None:
        send_refund(refund, claimed_attempts=refund.attempts, actor=actor)
    refund.refresh_from_db()
    return refund


def _record(
    payment: Payment,
    *,
    amount: Decimal,
    reason: str,
    actor: str,
    partner_refund_id: str | None,
    claim: bool,
) -> tuple[Refund, bool]:
    """The refund row and its audit event, with the payment row locked, and whether this call
    created it; money_returning is sent in the same transaction. With `claim`, the caller sends
    the first attempt itself (the row is due for the poller only if that process dies); without,
    it is due at once."""
    value = _clean_refund_amount(amount, payment.currency)
    reason = (reason or "").strip()
    if len(reason) > 128 or '"' in reason or any(ord(c) < 32 for c in reason):
        raise InvalidPaymentRequest(fields={"reason": "at most 128 characters, no double quotes"})
    if partner_refund_id is not None:
        partner_refund_id = clean_id(partner_refund_id, "partner_refund_id", 64)
        if not partner_refund_id or partner_refund_id == payment.partner_trans_id:
            raise InvalidPaymentRequest(fields={"partner_refund_id": "not a usable refund id"})
    now = clock.now()
    resume_at = _blackout_end(now)
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if partner_refund_id:
            existing = Refund.objects.filter(partner_refund_id=partner_refund_id).first()
            if existing is not None:
                if existing.payment_id == locked.pk and existing.amount == value:
                    return existing, False
                raise InvalidPaymentRequest(
                    fields={"partner_refund_id": "already used for another refund"}
                )
        # Not while a cancel runs (cancelling): that reversal gives the money back already.
        if locked.state not in Payment.REFUNDABLE_STATES:
            raise NotRefundable()
        taken = locked.refunds.exclude(state=Refund.State.FAILED).aggregate(total=Sum("amount"))[
            "total"
        ] or Decimal("0")
        left = locked.amount - taken
        if value > left:
            raise RefundTooLarge(fields={"amount": f"at most {left} {locked.currency}"})
        refund = Refund.objects.create(
            payment=locked,
            partner_refund_id=partner_refund_id
            or f"{locked.partner_trans_id[:40]}R{secrets.token_hex(4).upper()}",
            amount=value,
            reason=reason,
            actor=actor[:150],
            created_at=now,
            updated_at=now,
            # Due when Alipay's refund blackout ends; else at once for the poller, or owned by
            # the caller's first attempt (due for the poller if that process dies).
            next_action_at=resume_at or (later(conf("CLAIM_SECONDS"), start=now) if claim else now),
        )
        note = f"{value} {locked.currency} {reason}"
        if resume_at:
            note = f"{note} (sent at {resume_at:%H:%M} Beijing time: {BLACKOUT_NOTE})"
        PaymentEvent.objects.create(
            payment=locked,
            refund=refund,
            from_state="",
            to_state=f"refund:{Refund.State.REQUESTED}",
            actor=actor[:150],
            note=note[:500],
            at=now,
        )
        announce_money_returning(locked, refund=refund, amount=value, in_full=value >= left)
    return refund, True


def _blackout_end(when: datetime) -> datetime | None:
    """When refunds resume if `when` is in Alipay's blackout and PAYMENTS["REFUND_BLACKOUT"] is
    on; None otherwise. The test settings turn it off so that a refund test does not depend on
    the hour it runs (or a moved clock reaches); the blackout's own tests turn it on."""
    return refund_blackout_end(when) if conf("REFUND_BLACKOUT") else None


def send_refund(refund: Refund, *, claimed_attempts: int, actor: str) -> None:
    """One refund call with the stored parameters; applies the verified answer, or the refund
    query's when the answer leaves the outcome in doubt."""
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    if refund.state != Refund.State.REQUESTED or refund.attempts != claimed_attempts:
        return
    resume_at = _blackout_end(clock.now())
    if resume_at is not None:
        # A retry that fell due inside the blackout: wait, without spending an attempt.
        Refund.objects.filter(
            pk=refund.pk, state=Refund.State.REQUESTED, attempts=claimed_attempts
        ).update(next_action_at=resume_at, updated_at=clock.now())
        logger.info("refund %s deferred to %s: %s", refund.pk, resume_at, BLACKOUT_NOTE)
        return
    attempt = claimed_attempts + 1
    # Count the attempt before sending, so a crash mid-call still counts toward the bound.
    if (
        Refund.objects.filter(
            pk=refund.pk, state=Refund.State.REQUESTED, attempts=claimed_attempts
        ).update(attempts=attempt)
        != 1
    ):
        return
    # Sent before (an attempt whose outcome stayed unknown, or a crash mid-call, or attempts
    # before staff asked for a retry): a final "no" now may only mean that one was executed.
    sent_before = (
        claimed_attempts > 0
        or GatewayExchange.objects.filter(refund=refund, service=REFUND_SERVICE).exists()
    )
    sent_at = clock.now()
    try:
        result = alipay_client.refund(refund)
    except InvalidRequest as exc:
        transition_refund(
            refund.pk,
            to=Refund.State.FAILED,
            from_states=[Refund.State.REQUESTED],
            actor=actor,
            note=f"not sent: {exc.field}",
            fields={"failure_code": "invalid_request", "failure_message": exc.message[:500]},
        )
        return
    believed = result.ok and refund_matches(refund, result)
    record_exchange(
        result,
        payment=refund.payment,
        refund=refund,
        sent_at=sent_at,
        attempt=attempt,
        believed=believed,
        actor=actor,
    )
    if believed:
        _refund_succeeded(refund, result, sent_at=sent_at, actor=actor, note=f"attempt {attempt}")
        return
    if final_answer(result) and not sent_before:
        _refund_failed(refund, result, actor=actor)
        return
    # The outcome is unknown, or a "no" may hide an earlier attempt that was executed: ask
    # Alipay what became of this refund before retrying it or giving it up.
    confirmation = _query_refund(refund, attempt=attempt, actor=actor)
    if confirmation is not None and refund_executed(refund, confirmation):
        _refund_succeeded(
            refund,
            confirmation,
            sent_at=sent_at,
            actor=actor,
            note=f"confirmed by refund query after attempt {attempt}",
        )
        return
    never_received = confirmation is not None and refund_never_received(confirmation)
    if final_answer(result) and never_received:
        _refund_failed(refund, result, actor=actor)
        return
    # Not received (or still unknown): the same partner_refund_id again, which Alipay executes
    # at most once, until the bound.
    if attempt < conf("REFUND_MAX_ATTEMPTS"):
        Refund.objects.filter(pk=refund.pk, state=Refund.State.REQUESTED, attempts=attempt).update(
            next_action_at=later(conf("REFUND_RETRY_INTERVAL"), start=sent_at),
            updated_at=clock.now(),
        )
        kick_poller_after_commit()
        return
    asked = confirmation.code if confirmation is not None else "not sent"
    reason = f"refund unconfirmed after {attempt} attempts, last: {result.code}, query: {asked}"
    if transition_refund(
        refund.pk,
        to=Refund.State.NEEDS_ATTENTION,
        from_states=[Refund.State.REQUESTED],
        actor=actor,
        note=reason,
        fields={
            "failure_code": "REFUND_UNCONFIRMED",
            "failure_message": message_for("REFUND_UNCONFIRMED"),
            "next_action_at": None,
        },
    ):
        alert_staff(refund.payment, reason, refund=refund)


def _query_refund(refund: Refund, *, attempt: int, actor: str) -> GatewayResult | None:
    """One refund query, recorded like every exchange; None if it could not be built."""
    sent_at = clock.now()
    try:
        result = alipay_client.refund_query(refund)
    except InvalidRequest:
        # The same ids were valid for the refund itself, so this is not expected; the refund
        # then stays unconfirmed and takes the retry path.
        logger.warning("refund %s: refund query not sent", refund.pk)
        return None
    record_exchange(
        result,
        payment=refund.payment,
        refund=refund,
        sent_at=sent_at,
        attempt=attempt,
        believed=refund_executed(refund, result) or refund_never_received(result),
        actor=actor,
    )
    return result


def query_refund(refund: Refund, *, actor: str) -> GatewayResult | None:
    """One refund query on request (staff checking a refund that needs attention), recorded like
    every exchange under the refund's latest attempt; None if it could not be built."""
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    return _query_refund(refund, attempt=max(refund.attempts, 1), actor=actor)


def _refund_succeeded(
    refund: Refund, result: GatewayResult, *, sent_at: datetime, actor: str, note: str
) -> None:
    cny = result.fields.get("refund_amount_cny")
    fields = {"succeeded_at": sent_at, "next_action_at": None}
    try:
        if cny:
            fields["amount_cny"] = Decimal(cny)
    except InvalidOperation:
        pass
    transition_refund(
        refund.pk,
        to=Refund.State.SUCCEEDED,
        from_states=[Refund.State.REQUESTED],
        actor=actor,
        note=f"refund {refund.partner_refund_id} {note}",
        fields=fields,
    )


def _refund_failed(refund: Refund, result: GatewayResult, *, actor: str) -> None:
    if result.outcome is Outcome.CONFIG_ERROR:
        alert_staff(refund.payment, f"refund {refund.partner_refund_id}: {result.code}")
    transition_refund(
        refund.pk,
        to=Refund.State.FAILED,
        from_states=[Refund.State.REQUESTED],
        actor=actor,
        note=f"refund {result.code}",
        fields={
            "failure_code": result.code[:64],
            "failure_message": refund_failure_message(result.code, result.message)[:500],
            "next_action_at": None,
        },
    )


def retry_refund(refund: Refund, *, actor: str) -> Refund:
    """Staff ask for a refund in needs_attention to be tried again (same partner_refund_id)."""
    transition_refund(
        refund.pk,
        to=Refund.State.REQUESTED,
        from_states=[Refund.State.NEEDS_ATTENTION],
        actor=actor,
        note="retry requested by staff",
        fields={"attempts": 0, "next_action_at": clock.now()},
    )
    refund.refresh_from_db()
    return refund
