"""spot.pay, precreate and query as Alipay answers them, with the test buyer codes' behaviour.

Idempotency on partner_trans_id follows docs/alipay.md "Lifecycle rules": a repeated pay answers
what the trade has become (UNKNOW while waiting, SUCCESS when paid, refundable or finished,
TRADE_HAS_CLOSE when closed), a different buyer gets TRADE_BUYER_NOT_MATCH, and nothing is ever
charged twice. query answers the state itself, TRADE_FINISHED once a paid trade's refund period
is over.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse

from payments import clock

from . import outbox, params
from .answers import Answer, failure, money, system_error, trade_fields
from .models import SandboxMerchant, SandboxTrade
from .params import Rejected
from .scenarios import SLOW_QUERY_CONFIRM_SECONDS, Scenario, behaviour_for
from .trades import PAID_STATES, UNPAID_TIMEOUT, cny, new_alipay_id, refresh

State = SandboxTrade.State
Reason = SandboxTrade.CloseReason
# Scenarios whose pay is charged at once (their twist comes later, or on the wire).
_INSTANT = {
    Scenario.INSTANT,
    Scenario.SYSTEM_ERROR_CALLS,
    Scenario.SLOW_PAY_REPLY,
    Scenario.BAD_PAY_SIGNATURE,
    Scenario.SLOW_REFUND_REPLY,
    Scenario.REFUND_SYSTEM_ERROR,
}
_VALIDITY = re.compile(r"(\d{1,3})([mhd])")


def pin_threshold() -> Decimal:
    return Decimal(str(settings.SANDBOX_PIN_THRESHOLD))


def count_call(trade: SandboxTrade, counter: str) -> None:
    SandboxTrade.objects.filter(pk=trade.pk).update(**{counter: F(counter) + 1})
    trade.refresh_from_db()


def _initial_state(behaviour, amount: Decimal, now) -> dict[str, object]:
    scenario, n = behaviour.scenario, behaviour.n
    if scenario in _INSTANT or (scenario == Scenario.NORMAL and amount <= pin_threshold()):
        return {"state": State.TRADE_SUCCESS, "paid_at": now}
    if scenario == Scenario.INSUFFICIENT_BALANCE:
        return {
            "state": State.TRADE_CLOSED,
            "close_reason": Reason.PAY_FAILED,
            "error_code": "BUYER_BALANCE_NOT_ENOUGH",
            "closed_at": now,
        }
    waiting: dict[str, object] = {"state": State.WAIT_BUYER_PAY}
    if scenario == Scenario.PIN_CONFIRM:
        waiting["confirm_at"] = now + timedelta(seconds=n)
    elif scenario == Scenario.QUERY_SYSTEM_ERROR:
        waiting["confirm_at"] = now + timedelta(seconds=SLOW_QUERY_CONFIRM_SECONDS)
    elif scenario == Scenario.PIN_DECLINE:
        waiting["decline_at"] = now + timedelta(seconds=n)
    return waiting


def pay(merchant: SandboxMerchant, p: dict[str, str], request: HttpRequest) -> Answer:
    if params.require(p, "alipay_seller_id", 16) != merchant.partner_id:
        raise Rejected("INVALID_PARAMETER", "alipay_seller_id is not the partner")
    code = params.buyer_code(p)
    partner_trans_id = params.require(p, "partner_trans_id", 64)
    params.require(p, "trans_name", 256)
    currency = params.currency(p)
    if p.get("trans_currency"):
        currency = params.currency(p, "trans_currency")
    amount = params.amount(p, "trans_amount", currency)
    if p.get("quantity") and not (p["quantity"].isdigit() and 0 < int(p["quantity"]) < 100000):
        raise Rejected("INVALID_PARAMETER", "quantity must be a whole number")
    params.choice(p, "identity_code_type", {"barcode", "qrcode"})
    params.choice(p, "biz_product", {"OVERSEAS_MBARCODE_PAY"})
    params.create_time(p, "trans_create_time")
    params.optional(p, "memo", 256)
    extend = params.json_object(p, "extend_info")
    notify_url = params.notify_url(p, request)

    behaviour = behaviour_for(code)
    now = clock.now()
    rate, amount_cny = cny(amount, currency)
    try:
        with transaction.atomic():
            trade = SandboxTrade.objects.create(
                merchant=merchant,
                partner_trans_id=partner_trans_id,
                alipay_trans_id=new_alipay_id(now),
                channel=SandboxTrade.Channel.BARCODE,
                buyer_code=code,
                scenario=behaviour.scenario,
                scenario_n=behaviour.n,
                subject=p["trans_name"],
                amount=amount,
                currency=currency,
                exchange_rate=rate,
                amount_cny=amount_cny,
                secondary_merchant_industry=extend.get("secondary_merchant_industry", "")[:8],
                notify_url=notify_url,
                created_at=now,
                expires_at=now + UNPAID_TIMEOUT,
                pay_calls=1,
                **_initial_state(behaviour, amount, now),
            )
            if trade.state == State.TRADE_SUCCESS:
                outbox.queue_trade_notification(trade, outbox.PAID)
    except IntegrityError:
        trade = SandboxTrade.objects.get(merchant=merchant, partner_trans_id=partner_trans_id)
        return _repeat_pay(trade, code, amount, currency)
    answer = _pay_answer(trade)
    answer.hold = trade.scenario == Scenario.SLOW_PAY_REPLY
    return answer


def _repeat_pay(trade: SandboxTrade, code: str, amount: Decimal, currency: str) -> Answer:
    count_call(trade, "pay_calls")
    ids = {"partner_trans_id": trade.partner_trans_id, "alipay_trans_id": trade.alipay_trans_id}
    if trade.close_reason == Reason.PRE_CANCELLED:
        return failure("TRADE_HAS_CLOSE", "FAILED", **ids)
    if trade.channel != SandboxTrade.Channel.BARCODE or trade.buyer_code != code:
        return failure("TRADE_BUYER_NOT_MATCH", "FAILED", **ids)
    if (trade.amount, trade.currency) != (amount, currency):
        detail = "not the first amount"
        return failure("INVALID_PARAMETER", "FAILED", detail_error_des=detail, **ids)
    return _pay_answer(refresh(trade))


def _pay_answer(trade: SandboxTrade) -> Answer:
    if trade.scenario == Scenario.SYSTEM_ERROR_CALLS and (
        trade.pay_calls + trade.query_calls <= trade.scenario_n
    ):
        return system_error("FAILED", partner_trans_id=trade.partner_trans_id)
    fields = trade_fields(trade)
    if trade.state in PAID_STATES:
        answer = Answer({"result_code": "SUCCESS", **fields})
    elif trade.state == State.WAIT_BUYER_PAY:
        answer = Answer({"result_code": "UNKNOW", **fields})
    elif trade.close_reason == Reason.PAY_FAILED:
        answer = failure(trade.error_code, "FAILED", **fields)
    else:
        answer = failure("TRADE_HAS_CLOSE", "FAILED", **fields)
    answer.break_signature = trade.scenario == Scenario.BAD_PAY_SIGNATURE
    return answer


def _validity(p: dict[str, str]) -> timedelta:
    text = p.get("qr_code_it_b_pay") or p.get("it_b_pay") or ""
    if not text:
        return UNPAID_TIMEOUT
    match = _VALIDITY.fullmatch(text)
    if not match or int(match[1]) == 0:
        raise Rejected("INVALID_PARAMETER", "it_b_pay must look like 5m, 2h or 1d")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return min(timedelta(**{unit: int(match[1])}), timedelta(days=15))


def precreate(merchant: SandboxMerchant, p: dict[str, str], request: HttpRequest) -> Answer:
    notify_url = params.notify_url(p, request, required=True)
    out_trade_no = params.require(p, "out_trade_no", 64)
    subject = params.require(p, "subject", 256)
    currency = params.currency(p, "trans_currency" if p.get("trans_currency") else "currency")
    amount = params.amount(p, "total_fee", currency)
    params.millis(p, "timestamp", required=False)
    params.choice(p, "product_code", {"OVERSEAS_MBARCODE_PAY"})
    if p.get("seller_id") and p["seller_id"] != merchant.partner_id:
        raise Rejected("INVALID_PARAMETER", "seller_id is not the partner")
    params.optional(p, "body", 400)
    extend = params.json_object(p, "extend_params")
    validity = _validity(p)
    now = clock.now()
    rate, amount_cny = cny(amount, currency)
    try:
        with transaction.atomic():
            trade = SandboxTrade.objects.create(
                merchant=merchant,
                partner_trans_id=out_trade_no,
                alipay_trans_id=new_alipay_id(now),
                channel=SandboxTrade.Channel.QR,
                scenario=Scenario.NORMAL,
                subject=subject,
                amount=amount,
                currency=currency,
                exchange_rate=rate,
                amount_cny=amount_cny,
                secondary_merchant_industry=extend.get("secondary_merchant_industry", "")[:8],
                notify_url=notify_url,
                qr_token=secrets.token_urlsafe(18),
                state=State.WAIT_BUYER_PAY,
                created_at=now,
                expires_at=now + validity,
            )
    except IntegrityError:
        trade = refresh(SandboxTrade.objects.get(merchant=merchant, partner_trans_id=out_trade_no))
        if trade.channel != SandboxTrade.Channel.QR or (trade.amount, trade.currency) != (
            amount,
            currency,
        ):
            return _precreate_failure(trade, "TRADE_STATUS_ERROR")
        if trade.state in PAID_STATES:
            return _precreate_failure(trade, "TRADE_HAS_SUCCESS")
        if trade.state == State.TRADE_CLOSED:
            return _precreate_failure(trade, "TRADE_HAS_CLOSE")
    qr_url = request.build_absolute_uri(reverse("sandbox:qr", args=[trade.qr_token]))
    return Answer(
        {
            "result_code": "SUCCESS",
            "out_trade_no": trade.partner_trans_id,
            "trade_no": trade.alipay_trans_id,
            "qr_code": qr_url,
            "currency": trade.currency,
            "total_fee": money(trade.amount, trade.currency),
        }
    )


def _precreate_failure(trade: SandboxTrade, error: str) -> Answer:
    return failure(error, "FAIL", out_trade_no=trade.partner_trans_id, detail_error_code=error)


def find_trade(merchant: SandboxMerchant, p: dict[str, str]) -> SandboxTrade | None:
    """By alipay_trans_id when given (it wins, docs/alipay.md), else by partner_trans_id."""
    partner_trans_id = params.optional(p, "partner_trans_id", 64)
    alipay_trans_id = params.optional(p, "alipay_trans_id", 64)
    if not (partner_trans_id or alipay_trans_id):
        raise Rejected("ILLEGAL_ARGUMENT", "partner_trans_id or alipay_trans_id is required")
    lookup = (
        {"alipay_trans_id": alipay_trans_id}
        if alipay_trans_id
        else {"partner_trans_id": partner_trans_id}
    )
    return SandboxTrade.objects.filter(merchant=merchant, **lookup).first()


def query(merchant: SandboxMerchant, p: dict[str, str], request: HttpRequest) -> Answer:
    trade = find_trade(merchant, p)
    if trade is None or trade.close_reason == Reason.PRE_CANCELLED:
        return failure("TRADE_NOT_EXIST", partner_trans_id=p.get("partner_trans_id", ""))
    count_call(trade, "query_calls")
    calls = {
        Scenario.SYSTEM_ERROR_CALLS: trade.pay_calls + trade.query_calls,
        Scenario.QUERY_SYSTEM_ERROR: trade.query_calls,
    }.get(Scenario(trade.scenario) if trade.scenario else Scenario.NORMAL)
    if calls is not None and calls <= trade.scenario_n:
        return system_error(partner_trans_id=trade.partner_trans_id)
    refresh(trade)
    return Answer(
        {
            "result_code": "SUCCESS",
            "alipay_trans_status": trade.state,
            "out_trade_no": trade.partner_trans_id,
            "payment_inst": "ALIPAYCN",
            **trade_fields(trade),
        }
    )
