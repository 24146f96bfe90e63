"""Each test buyer code of the README produces its outcome, through Entrada's own client."""

from datetime import timedelta
from decimal import Decimal

import pytest

from payments.alipay.results import Outcome, Transport
from payments.sandbox.models import SandboxRefund, SandboxTrade

from .helpers import new_id


def status(client, partner_trans_id: str):
    return client.query(partner_trans_id=partner_trans_id)


def test_instant_success(pay, client):
    partner_trans_id, result = pay("280000000000000001")
    assert result.outcome is Outcome.SUCCESS
    assert result.fields["alipay_trans_id"]
    assert status(client, partner_trans_id).trade_status == "TRADE_SUCCESS"


def test_insufficient_balance_is_final_and_repeats_the_same_answer(pay, client):
    partner_trans_id, result = pay("280000000000000002")
    assert (result.outcome, result.code) == (Outcome.FAILED, "BUYER_BALANCE_NOT_ENOUGH")
    _, again = pay("280000000000000002", partner_trans_id=partner_trans_id)
    assert again.code == "BUYER_BALANCE_NOT_ENOUGH"
    assert status(client, partner_trans_id).trade_status == "TRADE_CLOSED"


def test_pin_confirmed_after_the_chosen_seconds(clock, pay, client):
    started = clock.now()
    partner_trans_id, result = pay("280000000000000310")
    assert (result.outcome, result.code) == (Outcome.IN_PROGRESS, "UNKNOW")
    clock.advance(9)
    assert status(client, partner_trans_id).trade_status == "WAIT_BUYER_PAY"
    _, again = pay("280000000000000310", partner_trans_id=partner_trans_id)
    assert again.code == "UNKNOW"
    clock.advance(1)
    paid = status(client, partner_trans_id)
    assert paid.trade_status == "TRADE_SUCCESS"
    trade = SandboxTrade.objects.get(partner_trans_id=partner_trans_id)
    assert trade.paid_at == started + timedelta(seconds=10)
    _, repeated = pay("280000000000000310", partner_trans_id=partner_trans_id)
    assert repeated.outcome is Outcome.SUCCESS


def test_pin_never_confirmed_closes_after_three_minutes(clock, pay, client):
    partner_trans_id, result = pay("280000000000000004")
    assert result.code == "UNKNOW"
    clock.advance(179)
    assert status(client, partner_trans_id).trade_status == "WAIT_BUYER_PAY"
    clock.advance(1)
    assert status(client, partner_trans_id).trade_status == "TRADE_CLOSED"
    _, again = pay("280000000000000004", partner_trans_id=partner_trans_id)
    assert again.code == "TRADE_HAS_CLOSE"


def test_buyer_declines_after_the_chosen_seconds(clock, pay, client):
    partner_trans_id, result = pay("280000000000000505")
    assert result.code == "UNKNOW"
    clock.advance(4)
    assert status(client, partner_trans_id).trade_status == "WAIT_BUYER_PAY"
    clock.advance(1)
    assert status(client, partner_trans_id).trade_status == "TRADE_CLOSED"
    trade = SandboxTrade.objects.get(partner_trans_id=partner_trans_id)
    assert trade.close_reason == SandboxTrade.CloseReason.DECLINED


def test_system_error_for_the_first_calls_never_double_charges(pay, client):
    partner_trans_id, result = pay("280000000000000602")
    assert (result.outcome, result.code) == (Outcome.RETRYABLE, "SYSTEM_ERROR")
    assert status(client, partner_trans_id).code == "SYSTEM_ERROR"  # call 2 of 2
    assert status(client, partner_trans_id).trade_status == "TRADE_SUCCESS"
    _, again = pay("280000000000000602", partner_trans_id=partner_trans_id)
    assert again.outcome is Outcome.SUCCESS
    assert SandboxTrade.objects.filter(partner_trans_id=partner_trans_id).count() == 1


def test_no_reply_within_the_client_timeout_but_the_pay_went_through(pay, client):
    partner_trans_id, result = pay("280000000000000007")
    assert (result.outcome, result.transport) == (Outcome.RETRYABLE, Transport.TIMEOUT)
    assert status(client, partner_trans_id).trade_status == "TRADE_SUCCESS"
    _, again = pay("280000000000000007", partner_trans_id=partner_trans_id)
    assert again.outcome is Outcome.SUCCESS  # later calls answer in time


def test_a_pay_reply_with_a_broken_signature_is_not_believed(pay, client):
    partner_trans_id, result = pay("280000000000000008")
    assert result.transport is Transport.BAD_SIGNATURE
    assert result.outcome is Outcome.RETRYABLE
    assert status(client, partner_trans_id).trade_status == "TRADE_SUCCESS"


def test_cancel_answers_system_error_with_retry_flag_for_the_first_calls(clock, pay, client):
    partner_trans_id, result = pay("280000000000000902")
    assert result.code == "UNKNOW"
    stamp = int(clock.now().timestamp() * 1000)
    for _ in range(2):
        failed = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=stamp)
        assert (failed.outcome, failed.code, failed.retry_flag) == (
            Outcome.RETRYABLE,
            "SYSTEM_ERROR",
            True,
        )
    done = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=stamp)
    assert done.outcome is Outcome.SUCCESS
    assert done.fields["action"] == "close"
    clock.advance(600)  # never confirmed: the wallet does nothing, the cancel closed it
    assert status(client, partner_trans_id).trade_status == "TRADE_CLOSED"


def test_queries_answer_system_error_first_then_the_pin_confirmation(clock, pay, client):
    partner_trans_id, result = pay("280000000000001002")
    assert result.code == "UNKNOW"
    assert status(client, partner_trans_id).code == "SYSTEM_ERROR"
    assert status(client, partner_trans_id).code == "SYSTEM_ERROR"
    assert status(client, partner_trans_id).trade_status == "WAIT_BUYER_PAY"
    clock.advance(5)
    assert status(client, partner_trans_id).trade_status == "TRADE_SUCCESS"


def test_first_refund_is_executed_but_its_reply_is_late(pay, client):
    partner_trans_id, _ = pay("280000000000000011", "30.00")
    refund_id = new_id("R")
    late = client.refund(
        partner_trans_id=partner_trans_id,
        partner_refund_id=refund_id,
        refund_amount=Decimal("30.00"),
        currency="HKD",
    )
    assert late.transport is Transport.TIMEOUT
    again = client.refund(
        partner_trans_id=partner_trans_id,
        partner_refund_id=refund_id,
        refund_amount=Decimal("30.00"),
        currency="HKD",
    )
    assert again.outcome is Outcome.SUCCESS
    assert SandboxRefund.objects.filter(partner_refund_id=refund_id).count() == 1
    asked = client.refund_query(partner_trans_id=partner_trans_id, partner_refund_id=refund_id)
    assert asked.fields["refund_status"] == "SUCCESS"
    assert status(client, partner_trans_id).trade_status == "TRADE_CLOSED"  # fully refunded


def test_first_refund_answers_system_error_without_executing(pay, client):
    partner_trans_id, _ = pay("280000000000000012", "30.00")
    refund_id = new_id("R")
    kwargs = dict(
        partner_trans_id=partner_trans_id,
        partner_refund_id=refund_id,
        refund_amount=Decimal("10.00"),
        currency="HKD",
    )
    first = client.refund(**kwargs)
    assert (first.outcome, first.code) == (Outcome.RETRYABLE, "SYSTEM_ERROR")
    assert not SandboxRefund.objects.exists()
    lost = client.refund_query(partner_trans_id=partner_trans_id, partner_refund_id=refund_id)
    assert lost.code == "TRADE_NOT_EXIST"
    assert client.refund(**kwargs).outcome is Outcome.SUCCESS
    assert SandboxTrade.objects.get(partner_trans_id=partner_trans_id).refunded_amount == 10


def test_a_24_digit_code_is_accepted(pay):
    _, result = pay("280000000000000000000001")
    assert result.outcome is Outcome.SUCCESS


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("1000.00", "HKD", "SUCCESS"), ("1000.01", "HKD", "UNKNOW"), ("1001", "JPY", "UNKNOW")],
)
def test_a_normal_buyer_needs_a_pin_above_the_threshold(pay, amount, currency, expected):
    _, result = pay("281234567890123456", amount, currency)
    assert result.code == expected


def test_the_pin_threshold_is_a_setting(settings, pay):
    settings.SANDBOX_PIN_THRESHOLD = "5"
    _, result = pay("251234567890123456", "5.01")
    assert result.code == "UNKNOW"
