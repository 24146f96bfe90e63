"""Taking a payment: create it, send the pay (or precreate the QR), apply what Alipay answers.

Gateway calls happen outside any transaction; their result is applied afterwards by a
compare-and-set transition (payments.transitions) that also writes the audit row. A reply is
believed only when payments.verification says so; anything else leaves the outcome unknown, and
unknown means: poll (payments.poller), then cancel (payments.cancelling).

Re-sending a pay. The full buyer code is kept sealed (encrypted) only while a pay's outcome is
unknown. When a query answers TRADE_NOT_EXIST (Alipay never received the pay, e.g. a SYSTEM_ERROR
before processing), the pay is re-sent with identical parameters, at most PAY_RESEND_MAX times
and only before the deadline: Alipay deduplicates on partner_trans_id, so this cannot charge twice,
and it spares the buyer a second scan. In every other unknown case the payment is only queried
and, at the deadline, cancelled. The sealed code is wiped as soon as the payment leaves `pending`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from payments import alipay_client, clock, waiters
from payments.alerts import alert_staff
from payments.alipay.beijing import BEIJING
from payments.alipay.exceptions import InvalidRequest
from payments.alipay.results import GatewayResult, Outcome
from payments.alipay.services import mask
from payments.cleaning import clean_buyer_code, clean_id, clean_money, clean_text
from payments.conf import conf, later
from payments.exceptions import InvalidPaymentRequest
from payments.messages import message_for
from payments.models import Payment, PaymentEvent
from payments.transitions import (
    QuietQuery,
    exchange_row,
    record_exchange,
    record_quiet_queries,
    reschedule_payment,
    transition_payment,
)
from payments.verification import PAID_STATUSES, final_answer, ids_match

if TYPE_CHECKING:
    from payments.journal import QueryJournal

logger = logging.getLogger(__name__)

State = Payment.State


def new_partner_trans_id() -> str:
    """Unique per merchant (<= 64): readable time prefix plus randomness, never reused."""
    return "E" + clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


# --- creating payments -----------------------------------------------------------------------
def _record_new_payment(
    *,
    now: datetime,
    deadline: int,
    actor: str,
    partner_trans_id: str | None = None,
    on_record: Callable[[Payment], None] | None = None,
    **fields,
) -> Payment:
    """Insert a payment in `created` together with its first audit event (one transaction).

    `on_record(payment)` runs in that transaction: whoever starts the payment links it to what
    it pays for before any gateway call (a barcode pay can succeed before the create returns),
    and if the link cannot be written, no payment exists. Raises IntegrityError when
    `partner_trans_id` is already taken (nothing is written then).
    """
    with transaction.atomic():
        payment = Payment.objects.create(
            partner_trans_id=partner_trans_id or new_partner_trans_id(),
            created_at=now,
            updated_at=now,
            deadline_at=now + timedelta(seconds=deadline),
            # If this process dies during the first call, the poller takes over from here.
            next_action_at=later(conf("CLAIM_SECONDS"), start=now),
            pay_attempts=1,
            **fields,
        )
        PaymentEvent.objects.create(
            payment=payment, from_state="", to_state=State.CREATED, actor=actor, at=now
        )
        if on_record is not None:
            on_record(payment)
    return payment


def create_barcode_payment(
    *,
    amount: Decimal,
    currency: str,
    description: str,
    buyer_code: str,
    reference: str = "",
    store_id: str,
    terminal_id: str,
    deadline_seconds: int | None = None,
    actor: str = "system",
    partner_trans_id: str | None = None,
    on_record: Callable[[Payment], None] | None = None,
) -> Payment:
    """Take a barcode payment: validate, record, send spot.pay now, apply what it says.

    Returns the payment as the first pay left it: paid, failed, or pending (then the poller
    queries from FIRST_QUERY_DELAY after the pay until a final answer or the deadline).

    A caller that can be re-run after a crash (the partner API) passes its own partner_trans_id,
    derived from its idempotency key: when a payment with that id exists already, it is returned
    as it is now (the poller owns whatever is left to do) and no pay is sent again; if it is not
    the same payment (amount, currency, store, terminal, buyer code), InvalidPaymentRequest.
    Without one, a new id is made (new_partner_trans_id). `on_record(payment)` runs inside the
    transaction that inserts the payment (see _record_new_payment).
    """
    value, currency = clean_money(amount, currency)
    description = clean_text(description, "description", 256, required=True)
    reference = clean_text(reference, "reference", 64, required=False)
    store_id = clean_id(store_id, "store_id", 32) or ""
    terminal_id = clean_id(terminal_id, "terminal_id", 32)
    code = clean_buyer_code(buyer_code)
    if partner_trans_id is not None:
        partner_trans_id = clean_id(partner_trans_id, "partner_trans_id", 64)
        if not partner_trans_id:
            raise InvalidPaymentRequest(fields={"partner_trans_id": "must not be empty"})
        fields = {
            "amount": value,
            "currency": currency,
            "store_id": store_id,
            "terminal_id": terminal_id,
            "buyer_code_masked": mask(code),
        }
        existing = _existing_payment(partner_trans_id, fields)
        if existing is not None:
            logger.info("payment %s: its partner_trans_id asked again, not paid again", existing.pk)
            return existing
    alipay_client.client_config()  # a configuration error refuses the payment before it exists
    now = clock.now()
    deadline = deadline_seconds if deadline_seconds is not None else conf("DEADLINE_SECONDS")
    try:
        payment = _record_new_payment(
            now=now,
            deadline=deadline,
            actor=actor,
            partner_trans_id=partner_trans_id,
            on_record=on_record,
            reference=reference,
            amount=value,
            currency=currency,
            description=description,
            channel=Payment.Channel.BARCODE,
            buyer_code_masked=mask(code),
            buyer_code_sealed=alipay_client.seal_buyer_code(code),
            store_id=store_id,
            terminal_id=terminal_id,
            trans_create_time=now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S"),
        )
    except IntegrityError:
        # Another run with the same partner_trans_id inserted it first: that one pays.
        existing = _existing_payment(partner_trans_id, fields) if partner_trans_id else None
        if existing is None:
            raise
        logger.info("payment %s: recorded meanwhile by another run, not paid again", existing.pk)
        return existing
    _send_pay(payment, code, generation=payment.chain_generation, attempt=1)
    payment.refresh_from_db()
    return payment


def _existing_payment(partner_trans_id: str, fields: dict) -> Payment | None:
    """The barcode payment already recorded under `partner_trans_id` if it is the one described
    by `fields`; None if there is none; InvalidPaymentRequest if it is another payment."""
    payment = Payment.objects.filter(partner_trans_id=partner_trans_id).first()
    if payment is None:
        return None
    if payment.channel != Payment.Channel.BARCODE or any(
        getattr(payment, name) != value for name, value in fields.items()
    ):
        raise InvalidPaymentRequest(fields={"partner_trans_id": "already used for another payment"})
    return payment


def create_qr_payment(
    *,
    amount: Decimal,
    currency: str,
    description: str,
    reference: str = "",
    store_id: str = "",
    terminal_id: str = "",
    deadline_seconds: int | None = None,
    actor: str = "system",
    on_record: Callable[[Payment], None] | None = None,
) -> Payment:
    """A transaction QR for an online buyer: pending with `qr_code` set, polled and notified.

    `on_record(payment)` runs inside the transaction that inserts the payment."""
    value, currency = clean_money(amount, currency)
    description = clean_text(description, "description", 256, required=True)
    reference = clean_text(reference, "reference", 64, required=False)
    store_id = clean_id(store_id, "store_id", 32)
    terminal_id = clean_id(terminal_id, "terminal_id", 32)
    deadline = deadline_seconds if deadline_seconds is not None else conf("QR_DEADLINE_SECONDS")
    if not 60 <= deadline <= 7200:
        raise InvalidPaymentRequest(fields={"deadline_seconds": "between 60 and 7200"})
    alipay_client.client_config()
    now = clock.now()
    payment = _record_new_payment(
        now=now,
        deadline=deadline,
        actor=actor,
        on_record=on_record,
        reference=reference,
        amount=value,
        currency=currency,
        description=description,
        channel=Payment.Channel.QR,
        store_id=store_id,
        terminal_id=terminal_id,
    )
    sent_at = clock.now()
    try:
        result = alipay_client.precreate(payment, validity_minutes=max(1, deadline // 60))
    except InvalidRequest as exc:
        _fail_unsent(payment, exc)
        payment.refresh_from_db()
        return payment
    believed = result.ok and ids_match(payment, result)
    record_exchange(
        result, payment=payment, sent_at=sent_at, attempt=1, believed=believed, actor=actor
    )
    if believed and result.fields.get("qr_code"):
        transition_payment(
            payment.pk,
            to=State.PENDING,
            from_states=[State.CREATED],
            actor="system:precreate",
            fields={
                "qr_code": result.fields["qr_code"],
                "next_action_at": later(conf("FIRST_QUERY_DELAY"), start=sent_at),
            },
        )
    elif result.outcome in (Outcome.FAILED, Outcome.CONFIG_ERROR) and final_answer(result):
        _mark_failed(payment, result, generation=None, actor="system:precreate")
    else:
        # Unknown: the QR may exist at Alipay. Poll it like any unknown payment, cancel at the end.
        transition_payment(
            payment.pk,
            to=State.PENDING,
            from_states=[State.CREATED],
            actor="system:precreate",
            note=f"precreate outcome unknown ({result.code})",
            fields={"next_action_at": later(conf("FIRST_QUERY_DELAY"), start=sent_at)},
        )
    payment.refresh_from_db()
    return payment


# --- applying gateway answers ----------------------------------------------------------------
def _paid_fields(result: GatewayResult, sent_at: datetime) -> dict:
    fields = result.fields
    out = {"paid_at": sent_at, "next_action_at": None, "buyer_code_sealed": ""}
    if fields.get("alipay_trans_id") or fields.get("trade_no"):
        out["alipay_trans_id"] = (fields.get("alipay_trans_id") or fields.get("trade_no"))[:64]
    if fields.get("alipay_buyer_login_id"):
        out["buyer_login_masked"] = fields["alipay_buyer_login_id"][:100]
    for name, target in (("exchange_rate", "exchange_rate"), ("trans_amount_cny", "amount_cny")):
        try:
            if fields.get(name):
                out[target] = Decimal(fields[name])
        except InvalidOperation:
            pass
    return out


def _mark_paid(payment: Payment, result: GatewayResult, *, generation, actor, sent_at) -> bool:
    return (
        transition_payment(
            payment.pk,
            to=State.PAID,
            from_states=Payment.IN_FLIGHT_STATES,
            actor=actor,
            generation=generation,
            note=f"{result.service} {result.code} {result.trade_status}".strip(),
            fields=_paid_fields(result, sent_at),
        )
        is not None
    )


def _mark_failed(
    payment: Payment, result: GatewayResult, *, generation, actor, code: str = ""
) -> bool:
    code = code or result.code
    if result.outcome is Outcome.CONFIG_ERROR:
        alert_staff(payment, f"Alipay refused our configuration or request: {code}")
    return (
        transition_payment(
            payment.pk,
            to=State.FAILED,
            from_states=Payment.IN_FLIGHT_STATES,
            actor=actor,
            generation=generation,
            note=f"{result.service} {code}",
            fields={
                "failure_code": code[:64],
                "failure_message": message_for(code, result.message)[:500],
                "next_action_at": None,
                "buyer_code_sealed": "",
            },
        )
        is not None
    )


def _fail_unsent(payment: Payment, exc: InvalidRequest) -> None:
    """Our own request was refused locally: nothing reached Alipay, so the payment failed."""
    transition_payment(
        payment.pk,
        to=State.FAILED,
        from_states=[State.CREATED],
        actor="system",
        note=f"not sent: {exc.field}",
        fields={
            "failure_code": "invalid_request",
            "failure_message": f"{message_for('invalid_request')} ({exc.field}: {exc.message})"[
                :500
            ],
            "next_action_at": None,
            "buyer_code_sealed": "",
        },
    )


def _send_pay(payment: Payment, code: str, *, generation: int, attempt: int) -> None:
    """One spot.pay (first or identical re-send) and its result, outside any transaction."""
    if transaction.get_connection().in_atomic_block:
        # Callers must not hold a transaction across a gateway call (docs/architecture.md); say so
        # loudly, but a test case's wrapping transaction must not turn into a crash.
        logger.warning("payment %s: spot.pay sent inside a transaction", payment.pk)
    sent_at = clock.now()
    try:
        result = alipay_client.pay(payment, code)
    except InvalidRequest as exc:
        _fail_unsent(payment, exc)
        return
    believed = (result.ok and ids_match(payment, result)) or final_answer(result)
    actor = "system:pay" if attempt == 1 else "system:poller"
    record_exchange(
        result, payment=payment, sent_at=sent_at, attempt=attempt, believed=believed, actor=actor
    )
    if result.ok and believed:
        _mark_paid(payment, result, generation=generation, actor=actor, sent_at=sent_at)
    elif final_answer(result):
        _mark_failed(payment, result, generation=generation, actor=actor)
    else:
        # UNKNOW, SYSTEM_ERROR, timeout, transport error, bad signature, reconcile codes:
        # unknown outcome; the first query is due FIRST_QUERY_DELAY after this pay was sent.
        due = later(conf("FIRST_QUERY_DELAY"), start=sent_at)
        if payment.state == State.CREATED or attempt == 1:
            transition_payment(
                payment.pk,
                to=State.PENDING,
                from_states=[State.CREATED],
                actor=actor,
                generation=generation,
                note=f"pay {result.code} ({result.transport})",
                fields={"next_action_at": due},
            )
        else:
            reschedule_payment(
                payment.pk, generation=generation, state=State.PENDING, next_action_at=due
            )


def refresh_from_gateway(
    payment: Payment, *, generation: int | None, actor: str, journal: QueryJournal | None = None
) -> Payment:
    """Send one query and apply it: the single path by which a query (or a notification that
    a query confirms) moves a pending payment. Without `generation` (a notification), only a
    final answer is applied and the poller's schedule is left alone. With a `journal` (the
    poller's), a query that changed nothing is written with others when the journal is flushed.
    """
    sent_at = clock.now()
    result = alipay_client.query(payment)
    believed = result.ok and ids_match(payment, result)
    exchange = {
        "payment": payment,
        "sent_at": sent_at,
        "attempt": payment.query_count + 1,
        "believed": believed,
        "actor": actor,
    }
    status = result.trade_status if believed else ""
    resend_code = ""
    if generation is not None and status not in PAID_STATUSES and status != "TRADE_CLOSED":
        if (
            result.code == "TRADE_NOT_EXIST"
            and payment.channel == Payment.Channel.BARCODE
            and payment.pay_attempts <= conf("PAY_RESEND_MAX")
            and sent_at < payment.deadline_at
        ):
            resend_code = alipay_client.unseal_buyer_code(payment.buyer_code_sealed)
        if not resend_code:
            # No news, the poller's usual answer: its audit row and the next query together.
            due = min(later(conf("POLL_INTERVAL"), start=sent_at), payment.deadline_at)
            quiet = QuietQuery(exchange_row(result, **exchange), generation, due)
            if journal is not None:
                journal.add(quiet)
            else:
                record_quiet_queries([quiet])
            return payment  # the poller's path: it reads nothing back
    record_exchange(result, **exchange)
    if status in PAID_STATUSES:
        _mark_paid(payment, result, generation=generation, actor=actor, sent_at=sent_at)
    elif status == "TRADE_CLOSED":
        _mark_failed(payment, result, generation=generation, actor=actor, code="TRADE_CLOSED")
    elif resend_code and reschedule_payment(
        payment.pk,
        generation=generation,
        state=State.PENDING,
        next_action_at=later(conf("CLAIM_SECONDS")),
        pay_attempts=payment.pay_attempts + 1,
    ):
        logger.info("payment %s: pay never reached Alipay, re-sending it", payment.pk)
        _send_pay(payment, resend_code, generation=generation, attempt=payment.pay_attempts + 1)
    payment.refresh_from_db()
    return payment


# --- waiting ---------------------------------------------------------------------------------
def wait_for_change(payment: Payment, *, timeout: float) -> Payment:
    """Block until the payment's state changes or `timeout` passes; the payment as it is then.

    For synchronous callers; it holds the calling thread. The partner API awaits the same wait
    without a thread (payments.waiters). Real time on purpose (not clock.sleep): a moved test
    clock must not turn it into a busy loop.
    """
    waiters.wait_for_change_blocking(
        payment.pk, state=payment.state, seconds=max(0.0, min(float(timeout), 60.0))
    )
    return Payment.objects.get(pk=payment.pk)
