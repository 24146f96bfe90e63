"""The payment lifecycle (DESIGN.md diagram, ALIPAY.md rules): the one owner of payment state.

Views, the partner API, the admin, tasks and commands call the functions here (and
payments.refunds); none of them writes a state field. Rules kept throughout:
- gateway calls happen outside any transaction; their result is applied afterwards by a
  compare-and-set transition (payments.transitions) that also writes the audit row;
- a reply is believed only when its signature verified and its ids, amount and currency match
  what we sent; anything else leaves the outcome unknown, and unknown means: poll, then cancel;
- polling, cancel retries and refunds are resumed by the poller (payments.poller) from the
  `next_action_at` each row carries, so a crash or a lost task delays work but never loses it.

Re-sending a pay. The full buyer code is kept sealed (encrypted) only while a pay's outcome is
unknown. When a query answers TRADE_NOT_EXIST (Alipay never received the pay, e.g. a SYSTEM_ERROR
before processing), the pay is re-sent with identical parameters, at most PAY_RESEND_MAX times
and only before the deadline: Alipay deduplicates on partner_trans_id, so this cannot charge twice
(ALIPAY.md table), and it spares the buyer a second scan. In every other unknown case the payment
is only queried and, at the deadline, cancelled (SPOT-005 / SPOT-006 best practice). The sealed
code is wiped as soon as the payment leaves `pending`.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from payments import clock, gateway
from payments.alipay import money
from payments.alipay.beijing import BEIJING, same_beijing_day
from payments.alipay.exceptions import InvalidRequest
from payments.alipay.results import GatewayResult, Outcome, SignatureVerdict
from payments.alipay.services import mask
from payments.exceptions import (
    InvalidAmount,
    InvalidBuyerCode,
    InvalidPaymentRequest,
    NotCancellable,
    NotPaidAtAlipay,
    UnsupportedCurrency,
)
from payments.messages import message_for
from payments.models import Payment, PaymentEvent
from payments.refunds import request_refund
from payments.transitions import (
    conf,
    later,
    record_exchange,
    reschedule_payment,
    transition_payment,
)

__all__ = [
    "adopt_paid_trade",
    "check_trade",
    "clean_buyer_code",
    "create_barcode_payment",
    "create_qr_payment",
    "recover_paid",
    "refresh_from_gateway",
    "request_cancel",
    "request_refund",
    "retry_needs_attention",
    "wait_for_change",
]

logger = logging.getLogger(__name__)

PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")
State = Payment.State
_BUYER_CODE = re.compile(r"(2[5-9]|30)\d{14,22}")


# --- validation ------------------------------------------------------------------------------
def _clean_money(amount: object, currency: object) -> tuple[Decimal, str]:
    if not isinstance(currency, str) or currency not in money.SUPPORTED_CURRENCIES:
        raise UnsupportedCurrency(fields={"currency": str(currency)[:8]})
    if isinstance(amount, bool | float):
        raise InvalidAmount(fields={"amount": "a decimal amount, never a float"})
    try:
        value = Decimal(str(amount)) if isinstance(amount, int | str) else amount
    except InvalidOperation:
        raise InvalidAmount(fields={"amount": "not a number"}) from None
    if not isinstance(value, Decimal):
        raise InvalidAmount(fields={"amount": "not a number"})
    try:
        money.format_amount(value, currency, "amount")
    except InvalidRequest as exc:
        raise InvalidAmount(fields={"amount": exc.message}) from None
    return value.quantize(Decimal(1).scaleb(-money.exponent(currency))), currency


def _clean_text(value: object, name: str, max_length: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidPaymentRequest(fields={name: "expected text"})
    text = value.strip()
    if required and not text:
        raise InvalidPaymentRequest(fields={name: "must not be empty"})
    if len(text) > max_length:
        raise InvalidPaymentRequest(fields={name: f"at most {max_length} characters"})
    if '"' in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidPaymentRequest(fields={name: "no double quotes or control characters"})
    return text


def _clean_id(value: object, name: str, max_length: int) -> str:
    text = _clean_text(value, name, max_length, required=False)
    if text and not re.fullmatch(r"[A-Za-z0-9_.\-]+", text):
        raise InvalidPaymentRequest(fields={name: "only letters, digits, '_', '-' and '.'"})
    return text


def clean_buyer_code(buyer_code: object) -> str:
    """The scanned Alipay payment code, trimmed, or InvalidBuyerCode (nothing is recorded)."""
    code = buyer_code.strip() if isinstance(buyer_code, str) else ""
    if not _BUYER_CODE.fullmatch(code):
        raise InvalidBuyerCode(fields={"buyer_code": "16 to 24 digits starting 25 to 30"})
    return code


def new_partner_trans_id() -> str:
    """Unique per merchant (<= 64): readable time prefix plus randomness, never reused."""
    return "E" + clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


# --- creating payments -----------------------------------------------------------------------
def _record_new_payment(
    *, now: datetime, deadline: int, actor: str, partner_trans_id: str | None = None, **fields
) -> Payment:
    """Insert a payment in `created` together with its first audit event (one transaction).

    Raises IntegrityError when `partner_trans_id` is already taken (nothing is written then).
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
) -> Payment:
    """Take a barcode payment: validate, record, send spot.pay now, apply what it says.

    Returns the payment as the first pay left it: paid, failed, or pending (then the poller
    queries from FIRST_QUERY_DELAY after the pay until a final answer or the deadline).

    A caller that can be re-run after a crash (the partner API) passes its own partner_trans_id,
    derived from its idempotency key: when a payment with that id exists already, it is returned
    as it is now (the poller owns whatever is left to do) and no pay is sent again; if it is not
    the same payment (amount, currency, store, terminal, buyer code), InvalidPaymentRequest.
    Without one, a new id is made (new_partner_trans_id).
    """
    value, currency = _clean_money(amount, currency)
    description = _clean_text(description, "description", 256, required=True)
    reference = _clean_text(reference, "reference", 64, required=False)
    store_id = _clean_id(store_id, "store_id", 32) or ""
    terminal_id = _clean_id(terminal_id, "terminal_id", 32)
    code = clean_buyer_code(buyer_code)
    if partner_trans_id is not None:
        partner_trans_id = _clean_id(partner_trans_id, "partner_trans_id", 64)
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
    gateway.client_config()  # a configuration error refuses the payment before it exists
    now = clock.now()
    deadline = deadline_seconds if deadline_seconds is not None else conf("DEADLINE_SECONDS")
    try:
        payment = _record_new_payment(
            now=now,
            deadline=deadline,
            actor=actor,
            partner_trans_id=partner_trans_id,
            reference=reference,
            amount=value,
            currency=currency,
            description=description,
            channel=Payment.Channel.BARCODE,
            buyer_code_masked=mask(code),
            buyer_code_sealed=gateway.seal_buyer_code(code),
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
) -> Payment:
    """A transaction QR for an online buyer: pending with `qr_code` set, polled and notified."""
    value, currency = _clean_money(amount, currency)
    description = _clean_text(description, "description", 256, required=True)
    reference = _clean_text(reference, "reference", 64, required=False)
    store_id = _clean_id(store_id, "store_id", 32)
    terminal_id = _clean_id(terminal_id, "terminal_id", 32)
    deadline = deadline_seconds if deadline_seconds is not None else conf("QR_DEADLINE_SECONDS")
    if not 60 <= deadline <= 7200:
        raise InvalidPaymentRequest(fields={"deadline_seconds": "between 60 and 7200"})
    gateway.client_config()
    now = clock.now()
    payment = _record_new_payment(
        now=now,
        deadline=deadline,
        actor=actor,
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
        result = gateway.precreate(payment, validity_minutes=max(1, deadline // 60))
    except InvalidRequest as exc:
        _fail_unsent(payment, exc)
        payment.refresh_from_db()
        return payment
    believed = result.ok and _ids_match(payment, result)
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
    elif result.outcome in (Outcome.FAILED, Outcome.CONFIG_ERROR) and _final_answer(result):
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
def _ids_match(payment: Payment, result: GatewayResult) -> bool:
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


def _final_answer(result: GatewayResult) -> bool:
    """A failure we may act on: a verified business answer, or a request refused as a whole."""
    if result.outcome is Outcome.CONFIG_ERROR:
        return True
    return result.signature is SignatureVerdict.VALID and result.outcome is Outcome.FAILED


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
            from_states=[State.CREATED, State.PENDING],
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
        from payments.alerts import alert_staff

        alert_staff(payment, f"Alipay refused our configuration or request: {code}")
    return (
        transition_payment(
            payment.pk,
            to=State.FAILED,
            from_states=[State.CREATED, State.PENDING],
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
        # Callers must not hold a transaction across a gateway call (DESIGN.md); say so loudly,
        # but a test case's wrapping transaction must not turn into a crash.
        logger.warning("payment %s: spot.pay sent inside a transaction", payment.pk)
    sent_at = clock.now()
    try:
        result = gateway.pay(payment, code)
    except InvalidRequest as exc:
        _fail_unsent(payment, exc)
        return
    believed = (result.ok and _ids_match(payment, result)) or _final_answer(result)
    actor = "system:pay" if attempt == 1 else "system:poller"
    record_exchange(
        result, payment=payment, sent_at=sent_at, attempt=attempt, believed=believed, actor=actor
    )
    if result.ok and believed:
        _mark_paid(payment, result, generation=generation, actor=actor, sent_at=sent_at)
    elif _final_answer(result):
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


def refresh_from_gateway(payment: Payment, *, generation: int | None, actor: str) -> Payment:
    """Send one query and apply it: the single path by which a query (or a notification that
    a query confirms) moves a pending payment. Without `generation` (a notification), only a
    final answer is applied and the poller's schedule is left alone."""
    sent_at = clock.now()
    result = gateway.query(payment)
    believed = result.ok and _ids_match(payment, result)
    record_exchange(
        result,
        payment=payment,
        sent_at=sent_at,
        attempt=payment.query_count + 1,
        believed=believed,
        actor=actor,
    )
    status = result.trade_status if believed else ""
    if status in PAID_STATUSES:
        _mark_paid(payment, result, generation=generation, actor=actor, sent_at=sent_at)
    elif status == "TRADE_CLOSED":
        _mark_failed(payment, result, generation=generation, actor=actor, code="TRADE_CLOSED")
    elif generation is not None:
        resend_code = ""
        if (
            result.code == "TRADE_NOT_EXIST"
            and payment.channel == Payment.Channel.BARCODE
            and payment.pay_attempts <= conf("PAY_RESEND_MAX")
            and sent_at < payment.deadline_at
        ):
            resend_code = gateway.unseal_buyer_code(payment.buyer_code_sealed)
        if resend_code and reschedule_payment(
            payment.pk,
            generation=generation,
            state=State.PENDING,
            next_action_at=later(conf("CLAIM_SECONDS")),
            pay_attempts=payment.pay_attempts + 1,
            query_count=payment.query_count + 1,
        ):
            logger.info("payment %s: pay never reached Alipay, re-sending it", payment.pk)
            _send_pay(payment, resend_code, generation=generation, attempt=payment.pay_attempts + 1)
        else:
            due = min(later(conf("POLL_INTERVAL"), start=sent_at), payment.deadline_at)
            reschedule_payment(
                payment.pk,
                generation=generation,
                state=State.PENDING,
                next_action_at=due,
                query_count=payment.query_count + 1,
            )
            return payment  # the poller's path: it reads nothing back
    payment.refresh_from_db()
    return payment


# --- trades found by reconciliation ----------------------------------------------------------
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

    @property
    def paid(self) -> bool:
        return self.believed and self.status in PAID_STATUSES

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

    It changes no state: a pending payment's poller applies what Alipay says on its own.
    """
    payment = Payment.objects.filter(partner_trans_id=partner_trans_id).first()
    sent_at = clock.now()
    result = gateway.client().query(partner_trans_id=partner_trans_id)
    if payment is not None:
        believed = result.ok and _ids_match(payment, result)
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
        believed=believed,
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
    )


def recover_paid(payment: Payment, *, actor: str, announce: bool) -> Payment:
    """Alipay took the money of a payment Entrada ended (failed, cancelled, needs attention):
    once a query confirms it, the payment is paid. With `announce`, payment_paid goes out and
    the payable's owner delivers (or refunds, if it can no longer deliver); without, the caller
    refunds it at once. Raises NotPaidAtAlipay when the query does not confirm it."""
    check = check_trade(payment.partner_trans_id, actor=actor)
    if not check.paid:
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
        note=f"paid at Alipay ({check.status}), found by reconciliation",
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
    except IntegrityError:
        return Payment.objects.get(partner_trans_id=partner_trans_id)
    return payment


# --- cancel ----------------------------------------------------------------------------------
def cancel_window_open(payment: Payment, now: datetime | None = None) -> bool:
    """Alipay cancels (reverses) a paid trade only on its Beijing-time day (ALIPAY.md, cancel).

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
        from_states=[State.CREATED, State.PENDING, State.PAID],
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
    result = gateway.cancel(payment)
    believed = result.ok and _ids_match(payment, result)
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
        from payments import tasks

        transaction.on_commit(tasks.kick_poller)  # a no-op when the poller is the caller
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
        from payments.alerts import alert_staff

        alert_staff(payment, reason)


def request_cancel(payment: Payment, *, actor: str) -> Payment:
    """Cancel on request: a pending payment now; a paid one by reversal on its Beijing day, or
    by a full refund afterwards. Raises NotCancellable for anything already final."""
    payment = Payment.objects.get(pk=payment.pk)
    if payment.state in (State.CREATED, State.PENDING) or (
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


# --- reading ---------------------------------------------------------------------------------
def wait_for_change(payment: Payment, *, timeout: float) -> Payment:
    """Long-poll: re-read every 0.25 s of real time until the state changes or `timeout` passes.

    Real time on purpose (not clock.sleep): this holds an HTTP request open for a POS, and a
    moved test clock must not turn it into a busy loop.
    """
    start_state = payment.state
    ends = clock.monotonic() + max(0.0, min(float(timeout), 60.0))
    fresh = Payment.objects.get(pk=payment.pk)
    while fresh.state == start_state and clock.monotonic() < ends:
        time.sleep(0.25)
        fresh = Payment.objects.get(pk=payment.pk)
    return fresh
