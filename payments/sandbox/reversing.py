"""cancel, refund and refund.query as Alipay answers them.

cancel closes an unpaid trade or refunds a paid one, on the trade's Beijing day only (plus 15
minutes after midnight), and succeeds for a trade never seen, leaving a closed placeholder so a
late pay with that id cannot charge. Refunds are partial and repeated up to the paid amount,
idempotent on partner_refund_id: the same id is executed once and answers the same every time.
A trade past its refund period (TRADE_FINISHED) takes no new refund (TRADE_STATUS_ERROR) and no
cancel (TRADE_CANCEL_TIME_OUT); refunds executed before still answer as they did.
Synchronous refunds are answered SYSTEM_ERROR, unexecuted, 00:00-01:30 Beijing time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from payments import clock

from . import outbox, params
from .answers import Answer, failure, money, rate, system_error
from .beijing import cancel_deadline, refund_blackout_end, stamp
from .models import SandboxMerchant, SandboxRefund, SandboxTrade
from .params import Rejected
from .paying import count_call, find_trade
from .scenarios import Scenario
from .trades import (
    add_refund_amount,
    close_unpaid,
    cny,
    new_alipay_id,
    refresh,
    refund_period_over,
    reverse_paid,
)

State = SandboxTrade.State
Reason = SandboxTrade.CloseReason


def cancel(merchant: SandboxMerchant, p: dict[str, str], request: HttpRequest) -> Answer:
    out_trade_no = params.require(p, "out_trade_no", 64)
    params.optional(p, "trade_no", 64)
    params.millis(p, "timestamp", required=True)
    params.millis(p, "terminal_timestamp", required=False)
    trade = SandboxTrade.objects.filter(merchant=merchant, partner_trans_id=out_trade_no).first()
    if trade is None:
        trade = _placeholder(merchant, out_trade_no)
    count_call(trade, "cancel_calls")
    ids = {"out_trade_no": trade.partner_trans_id, "trade_no": trade.alipay_trans_id}
    if trade.scenario == Scenario.CANCEL_SYSTEM_ERROR and trade.cancel_calls <= trade.scenario_n:
        return system_error(retry_flag="Y", **ids)
    for _attempt in range(2):  # a lost race (the buyer confirmed meanwhile) is decided again
        refresh(trade)
        if trade.state == State.WAIT_BUYER_PAY and close_unpaid(trade, Reason.CANCELLED):
            return Answer({"result_code": "SUCCESS", "action": "close", **ids})
        if trade.state == State.TRADE_SUCCESS:
            if trade.refunded_amount:
                return failure("TRADE_STATUS_ERROR", retry_flag="N", **ids)
            if clock.now() > cancel_deadline(trade.created_at):
                # Past the trade's Beijing day: only a refund can return the money now.
                return failure("TRADE_CANCEL_TIME_OUT", retry_flag="N", **ids)
            if reverse_paid(trade):
                return Answer({"result_code": "SUCCESS", "action": "refund", **ids})
        if trade.state == State.TRADE_FINISHED:
            # Past its refund period, so long past its Beijing day: nothing returns the money.
            return failure("TRADE_CANCEL_TIME_OUT", retry_flag="N", **ids)
        if trade.state == State.TRADE_CLOSED:
            if trade.close_reason == Reason.REVERSED:
                return Answer({"result_code": "SUCCESS", "action": "refund", **ids})
            if trade.close_reason == Reason.REFUNDED:
                return failure("TRADE_STATUS_ERROR", retry_flag="N", **ids)
            return Answer({"result_code": "SUCCESS", "action": "close", **ids})
    return system_error(retry_flag="Y", **ids)


def _placeholder(merchant: SandboxMerchant, out_trade_no: str) -> SandboxTrade:
    now = clock.now()
    try:
        with transaction.atomic():
            return SandboxTrade.objects.create(
                merchant=merchant,
                partner_trans_id=out_trade_no,
                alipay_trans_id=new_alipay_id(now),
                channel=SandboxTrade.Channel.BARCODE,
                state=State.TRADE_CLOSED,
                close_reason=Reason.PRE_CANCELLED,
                created_at=now,
                closed_at=now,
                cancelled_at=now,
            )
    except IntegrityError:
        return SandboxTrade.objects.get(merchant=merchant, partner_trans_id=out_trade_no)


def refund(merchant: SandboxMerchant, p: dict[str, str], request: HttpRequest) -> Answer:
    partner_trans_id = params.require(p, "partner_trans_id", 64)
    refund_id = params.require(p, "partner_refund_id", 64)
    if refund_id == partner_trans_id:
        raise Rejected("INVALID_PARAMETER", "partner_refund_id must differ from partner_trans_id")
    currency = params.currency(p)
    amount = params.amount(p, "refund_amount", currency)
    reason = params.optional(p, "refund_reason", 128)
    is_sync = params.choice(p, "is_sync", {"Y", "N"})
    notify_url = params.notify_url(p, request)
    trade = find_trade(merchant, p)
    if trade is None or trade.close_reason == Reason.PRE_CANCELLED:
        return failure("TRADE_NOT_EXIST", partner_trans_id=partner_trans_id)
    count_call(trade, "refund_calls")
    ids = {"partner_trans_id": trade.partner_trans_id, "partner_refund_id": refund_id}
    blackout = settings.SANDBOX_REFUND_BLACKOUT and refund_blackout_end(clock.now()) is not None
    if is_sync == "Y" and blackout:
        # Alipay does not execute synchronous refunds 00:00-01:30 Beijing time: nothing is
        # refunded, and the same partner_refund_id works once the window has passed.
        return system_error(**ids)
    if trade.scenario == Scenario.REFUND_SYSTEM_ERROR and trade.refund_calls == 1:
        return system_error(**ids)  # not executed: a retry with the same id must refund
    existing = SandboxRefund.objects.filter(merchant=merchant, partner_refund_id=refund_id).first()
    if existing is None:
        answer = _execute(trade, refund_id, amount, currency, reason, notify_url)
        if answer is not None:
            return answer
        existing = SandboxRefund.objects.get(merchant=merchant, partner_refund_id=refund_id)
    if (existing.trade_id, existing.amount, existing.currency) != (trade.pk, amount, currency):
        return failure("INVALID_PARAMETER", detail_error_des="partner_refund_id reused", **ids)
    answer = Answer({"result_code": "SUCCESS", **_refund_fields(existing)})
    answer.hold = trade.scenario == Scenario.SLOW_REFUND_REPLY and trade.refund_calls == 1
    return answer


def _execute(trade, refund_id, amount, currency, reason, notify_url) -> Answer | None:
    """Refund once; None when done (or done by a racing twin), else the failure to answer."""
    ids = {"partner_trans_id": trade.partner_trans_id, "partner_refund_id": refund_id}
    refresh(trade)
    if currency != trade.currency:
        return failure("INVALID_PARAMETER", detail_error_des="not the payment's currency", **ids)
    if trade.paid_at is None or trade.state == State.TRADE_FINISHED:
        return failure("TRADE_STATUS_ERROR", **ids)  # unpaid, or past its refund period
    now = clock.now()
    _rate, amount_cny = cny(amount, currency)
    try:
        with transaction.atomic():
            if not add_refund_amount(trade, amount, now):
                transaction.set_rollback(True)
                # The period may have ended since refresh() above (a racing request finished
                # the trade, or the clock moved on): that is a state refusal, not the amount.
                if trade.state == State.TRADE_FINISHED or (
                    trade.state == State.TRADE_SUCCESS and refund_period_over(trade, now)
                ):
                    return failure("TRADE_STATUS_ERROR", **ids)
                return failure("REFUND_AMT_RESTRICTION", **ids)
            created = SandboxRefund.objects.create(
                merchant=trade.merchant,
                trade=trade,
                partner_refund_id=refund_id,
                alipay_refund_id=new_alipay_id(now),
                amount=amount,
                currency=currency,
                amount_cny=amount_cny,
                reason=reason,
                state=SandboxRefund.State.SUCCESS,
                created_at=now,
            )
            outbox.queue_trade_notification(trade, outbox.REFUNDED, created, url=notify_url)
    except IntegrityError:
        trade.refresh_from_db()  # a twin request with the same id won: answer as it did
    return None


def _refund_fields(refund_row: SandboxRefund) -> dict[str, str]:
    trade = refund_row.trade
    return {
        "partner_trans_id": trade.partner_trans_id,
        "alipay_trans_id": trade.alipay_trans_id,
        "partner_refund_id": refund_row.partner_refund_id,
        "refund_amount": money(refund_row.amount, refund_row.currency),
        "currency": refund_row.currency,
        "exchange_rate": rate(trade.exchange_rate),
        "refund_amount_cny": money(refund_row.amount_cny, "CNY"),
    }


def refund_query(merchant: SandboxMerchant, p: dict[str, str], request: HttpRequest) -> Answer:
    """A refund's status by partner + partner_refund_id, within the trade the request names.

    Alipay's parameters are not public; they mirror query's (either trade id) plus the refund
    id. Unknown trade: TRADE_NOT_EXIST, as query answers. Known trade but no such refund under
    it (never received, or refused unexecuted): REFUND_NOT_EXIST. Both signed business answers.
    """
    refund_id = params.require(p, "partner_refund_id", 64)
    trade = find_trade(merchant, p)
    if trade is None or trade.close_reason == Reason.PRE_CANCELLED:
        return failure(
            "TRADE_NOT_EXIST",
            partner_trans_id=p.get("partner_trans_id", ""),
            partner_refund_id=refund_id,
        )
    found = (
        SandboxRefund.objects.select_related("trade")
        .filter(merchant=merchant, partner_refund_id=refund_id, trade=trade)
        .first()
    )
    if found is None:
        return failure(
            "REFUND_NOT_EXIST",
            partner_trans_id=trade.partner_trans_id,
            partner_refund_id=refund_id,
        )
    return Answer(
        {
            "result_code": "SUCCESS",
            "refund_status": found.state,
            "refund_time": stamp(found.created_at),
            **_refund_fields(found),
        }
    )
