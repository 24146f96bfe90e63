"""Alipay's trade rules at the sandbox: idempotency, the 3-minute close, cancel's Beijing day,
refunds up to the paid amount, precreate."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payments.alipay.results import Outcome
from payments.sandbox.models import SandboxRefund, SandboxTrade

from .helpers import new_id, site_notify_url

INSTANT = "280000000000000001"
PIN_NEVER = "280000000000000004"


def millis(clock) -> int:
    return int(clock.now().timestamp() * 1000)


def test_the_same_pay_gets_the_same_answer_and_one_trade(pay):
    partner_trans_id, first = pay(INSTANT)
    _, second = pay(INSTANT, partner_trans_id=partner_trans_id)
    assert second.fields == first.fields
    assert SandboxTrade.objects.filter(partner_trans_id=partner_trans_id).count() == 1


def test_concurrent_identical_pays_create_one_trade(pay):
    partner_trans_id = new_id()
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: pay(INSTANT, partner_trans_id=partner_trans_id)[1], range(4))
        )
    assert {r.outcome for r in results} == {Outcome.SUCCESS}
    assert len({r.fields["alipay_trans_id"] for r in results}) == 1
    assert SandboxTrade.objects.filter(partner_trans_id=partner_trans_id).count() == 1


def test_another_buyer_or_amount_on_the_same_id_is_refused(pay):
    partner_trans_id, _ = pay(INSTANT)
    _, other_buyer = pay("280000000000000310", partner_trans_id=partner_trans_id)
    assert (other_buyer.outcome, other_buyer.code) == (Outcome.FAILED, "TRADE_BUYER_NOT_MATCH")
    _, other_amount = pay(INSTANT, "11.00", partner_trans_id=partner_trans_id)
    assert other_amount.code == "INVALID_PARAMETER"
    assert SandboxTrade.objects.get(partner_trans_id=partner_trans_id).amount == Decimal("10.00")


def test_query_of_an_unknown_trade_and_by_alipay_id(pay, client):
    missing = client.query(partner_trans_id="NEVER-SENT")
    assert (missing.outcome, missing.code) == (Outcome.FAILED, "TRADE_NOT_EXIST")
    partner_trans_id, result = pay(INSTANT)
    by_alipay_id = client.query(
        partner_trans_id="NEVER-SENT", alipay_trans_id=result.fields["alipay_trans_id"]
    )
    assert by_alipay_id.fields["partner_trans_id"] == partner_trans_id  # alipay_trans_id wins


def test_an_unpaid_trade_closes_three_minutes_after_the_pay_with_a_moved_clock(clock, pay, client):
    partner_trans_id, _ = pay("281234567890123456", "5000.00")  # normal buyer, PIN needed
    clock.advance(180)
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_CLOSED"
    trade = SandboxTrade.objects.get(partner_trans_id=partner_trans_id)
    assert trade.close_reason == SandboxTrade.CloseReason.EXPIRED


def test_cancel_closes_an_unpaid_trade_and_repeats_its_answer(clock, pay, client):
    partner_trans_id, _ = pay(PIN_NEVER)
    first = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=millis(clock))
    assert (first.outcome, first.fields["action"]) == (Outcome.SUCCESS, "close")
    again = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=millis(clock))
    assert (again.outcome, again.fields["action"]) == (Outcome.SUCCESS, "close")
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_CLOSED"


def test_cancel_refunds_a_paid_trade(clock, pay, client):
    partner_trans_id, _ = pay(INSTANT)
    result = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=millis(clock))
    assert (result.outcome, result.fields["action"]) == (Outcome.SUCCESS, "refund")
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_CLOSED"
    again = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=millis(clock))
    assert again.fields["action"] == "refund"


def test_cancel_of_a_trade_never_received_succeeds_and_blocks_a_late_pay(clock, pay, client):
    partner_trans_id = new_id()
    result = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=millis(clock))
    assert result.outcome is Outcome.SUCCESS
    _, late = pay(INSTANT, partner_trans_id=partner_trans_id)
    assert late.code == "TRADE_HAS_CLOSE"
    assert client.query(partner_trans_id=partner_trans_id).code == "TRADE_NOT_EXIST"


@pytest.mark.parametrize(("minutes_later", "allowed"), [(24, True), (26, False)])
def test_cancel_of_a_paid_trade_only_on_its_beijing_day_plus_15_minutes(
    clock, pay, client, minutes_later, allowed
):
    clock.freeze(datetime(2026, 11, 27, 15, 50, tzinfo=UTC))  # 23:50 in Beijing
    partner_trans_id, _ = pay(INSTANT)
    clock.advance(minutes_later * 60)
    result = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=millis(clock))
    if allowed:
        assert (result.outcome, result.fields["action"]) == (Outcome.SUCCESS, "refund")
    else:
        assert (result.outcome, result.code) == (Outcome.FAILED, "TRADE_CANCEL_TIME_OUT")
        assert result.fields["retry_flag"] == "N"
        assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_SUCCESS"


def refund(client, partner_trans_id, refund_id, amount, currency="HKD"):
    return client.refund(
        partner_trans_id=partner_trans_id,
        partner_refund_id=refund_id,
        refund_amount=Decimal(amount),
        currency=currency,
    )


def test_partial_refunds_up_to_the_paid_amount_each_executed_once(pay, client):
    partner_trans_id, _ = pay(INSTANT, "100.00")
    assert refund(client, partner_trans_id, "R1", "30.00").outcome is Outcome.SUCCESS
    repeated = refund(client, partner_trans_id, "R1", "30.00")
    assert (repeated.outcome, repeated.fields["refund_amount"]) == (Outcome.SUCCESS, "30.00")
    assert refund(client, partner_trans_id, "R2", "50.00").outcome is Outcome.SUCCESS
    over = refund(client, partner_trans_id, "R3", "20.01")
    assert (over.outcome, over.code) == (Outcome.FAILED, "REFUND_AMT_RESTRICTION")
    assert refund(client, partner_trans_id, "R4", "20.00").outcome is Outcome.SUCCESS
    trade = SandboxTrade.objects.get(partner_trans_id=partner_trans_id)
    assert (trade.refunded_amount, trade.state) == (Decimal("100.00"), "TRADE_CLOSED")
    assert SandboxRefund.objects.count() == 3
    assert refund(client, partner_trans_id, "R5", "0.01").code == "REFUND_AMT_RESTRICTION"


def test_refund_rules_currency_state_and_reused_ids(pay, client):
    partner_trans_id, _ = pay(INSTANT, "100.00")
    wrong_currency = refund(client, partner_trans_id, "R1", "10.00", "USD")
    assert wrong_currency.code == "INVALID_PARAMETER"
    assert refund(client, "NEVER-SENT", "R2", "10.00").code == "TRADE_NOT_EXIST"
    waiting_id, _ = pay(PIN_NEVER)
    assert refund(client, waiting_id, "R3", "1.00").code == "TRADE_STATUS_ERROR"
    assert refund(client, partner_trans_id, "R4", "10.00").outcome is Outcome.SUCCESS
    reused = refund(client, partner_trans_id, "R4", "20.00")
    assert reused.code == "INVALID_PARAMETER"
    assert SandboxTrade.objects.get(partner_trans_id=partner_trans_id).refunded_amount == 10


def test_jpy_amounts_have_no_decimals(pay, client):
    partner_trans_id, result = pay(INSTANT, "1200", "JPY")
    assert result.fields["trans_amount"] == "1200"
    answer = refund(client, partner_trans_id, "RJ", "200", "JPY")
    assert answer.fields["refund_amount"] == "200"


def precreate(client, clock, out_trade_no, amount="88.00", timeout="5m"):
    return client.precreate(
        out_trade_no=out_trade_no,
        amount=Decimal(amount),
        currency="HKD",
        subject="Zoo tickets",
        notify_url=site_notify_url(client),
        timestamp_ms=millis(clock),
        extend_params={"secondary_merchant_id": "ENTRADA-DEMO", "store_id": "WEB"},
        timeout=timeout,
    )


def test_precreate_gives_a_wallet_qr_url_and_expires_after_its_validity(clock, client, live_server):
    out_trade_no = new_id("Q")
    result = precreate(client, clock, out_trade_no)
    assert result.outcome is Outcome.SUCCESS
    assert result.fields["qr_code"].startswith(live_server.url + "/sandbox/qr/")
    assert precreate(client, clock, out_trade_no).fields["qr_code"] == result.fields["qr_code"]
    assert client.query(partner_trans_id=out_trade_no).trade_status == "WAIT_BUYER_PAY"
    clock.advance(5 * 60)
    assert client.query(partner_trans_id=out_trade_no).trade_status == "TRADE_CLOSED"
    assert precreate(client, clock, out_trade_no).code == "TRADE_HAS_CLOSE"


def test_no_synchronous_refund_is_executed_from_midnight_to_0130_beijing(
    clock, pay, client, settings
):
    settings.SANDBOX_REFUND_BLACKOUT = True
    clock.freeze(datetime(2026, 11, 27, 15, 50, tzinfo=UTC))  # 23:50 in Beijing
    partner_trans_id, _ = pay(INSTANT, "100.00")
    clock.freeze(datetime(2026, 11, 27, 16, 0, tzinfo=UTC))  # 00:00
    held = refund(client, partner_trans_id, "R1", "30.00")
    assert (held.outcome, held.code) == (Outcome.RETRYABLE, "SYSTEM_ERROR")
    clock.freeze(datetime(2026, 11, 27, 17, 29, 59, tzinfo=UTC))  # 01:29:59
    assert refund(client, partner_trans_id, "R1", "30.00").code == "SYSTEM_ERROR"
    assert not SandboxRefund.objects.exists()
    clock.freeze(datetime(2026, 11, 27, 17, 30, tzinfo=UTC))  # 01:30: the same id now refunds
    assert refund(client, partner_trans_id, "R1", "30.00").outcome is Outcome.SUCCESS
    assert SandboxTrade.objects.get(partner_trans_id=partner_trans_id).refunded_amount == 30


DAY = 24 * 3600


def test_a_paid_trade_is_finished_once_its_refund_period_is_over(clock, pay, client):
    partner_trans_id, paid = pay(INSTANT, "100.00")
    assert refund(client, partner_trans_id, "R1", "10.00").outcome is Outcome.SUCCESS
    clock.advance(90 * DAY + 1)
    with ThreadPoolExecutor(4) as pool:  # concurrent readers agree on the one transition
        queries = list(
            pool.map(lambda _: client.query(partner_trans_id=partner_trans_id), range(4))
        )
    assert {(q.outcome, q.trade_status) for q in queries} == {(Outcome.SUCCESS, "TRADE_FINISHED")}
    for name in ("alipay_pay_time", "alipay_buyer_user_id", "trans_amount", "trans_amount_cny"):
        assert queries[0].fields[name] == paid.fields[name]
    refused = refund(client, partner_trans_id, "R2", "10.00")
    assert (refused.outcome, refused.code) == (Outcome.FAILED, "TRADE_STATUS_ERROR")
    replayed = refund(client, partner_trans_id, "R1", "10.00")  # executed before: same answer
    assert (replayed.outcome, replayed.fields["refund_amount"]) == (Outcome.SUCCESS, "10.00")
    cancel = client.cancel(out_trade_no=partner_trans_id, timestamp_ms=millis(clock))
    assert (cancel.outcome, cancel.code) == (Outcome.FAILED, "TRADE_CANCEL_TIME_OUT")
    assert cancel.fields["retry_flag"] == "N"
    _, again = pay(INSTANT, "100.00", partner_trans_id=partner_trans_id)
    assert (again.outcome, again.fields) == (Outcome.SUCCESS, paid.fields)
    trade = SandboxTrade.objects.get(partner_trans_id=partner_trans_id)
    assert (trade.state, trade.refunded_amount) == ("TRADE_FINISHED", Decimal("10.00"))
    assert list(trade.refunds.values_list("partner_refund_id", flat=True)) == ["R1"]


def test_a_day_before_its_period_ends_a_trade_is_still_refundable(clock, pay, client):
    partner_trans_id, _ = pay(INSTANT, "100.00")
    clock.advance(89 * DAY)
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_SUCCESS"
    assert refund(client, partner_trans_id, "R1", "30.00").outcome is Outcome.SUCCESS
    clock.advance(DAY - 1)
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_SUCCESS"
    clock.advance(1)  # paid_at + 90 days exactly: over
    assert refund(client, partner_trans_id, "R2", "30.00").code == "TRADE_STATUS_ERROR"
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_FINISHED"
    assert SandboxTrade.objects.get(partner_trans_id=partner_trans_id).refunded_amount == 30


def test_the_refund_period_follows_the_setting(clock, pay, client, settings):
    settings.SANDBOX_REFUND_PERIOD_DAYS = 7
    partner_trans_id, _ = pay(INSTANT, "100.00")
    clock.advance(7 * DAY - 1)
    assert refund(client, partner_trans_id, "R1", "10.00").outcome is Outcome.SUCCESS
    clock.advance(1)
    assert refund(client, partner_trans_id, "R2", "10.00").code == "TRADE_STATUS_ERROR"
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_FINISHED"


def test_fully_refunded_trades_stay_closed_and_late_pin_confirms_finish_too(clock, pay, client):
    refunded_id, _ = pay(INSTANT, "20.00")
    assert refund(client, refunded_id, "R1", "20.00").outcome is Outcome.SUCCESS
    confirmed_id, _ = pay("280000000000000310")  # the buyer confirms 10 s after the pay
    clock.advance(91 * DAY)
    assert client.query(partner_trans_id=refunded_id).trade_status == "TRADE_CLOSED"
    assert client.query(partner_trans_id=confirmed_id).trade_status == "TRADE_FINISHED"


def test_no_refund_is_taken_past_the_period_even_before_the_trade_is_marked(clock, pay):
    from payments.sandbox.trades import add_refund_amount

    partner_trans_id, _ = pay(INSTANT, "100.00")
    clock.advance(90 * DAY)
    trade = SandboxTrade.objects.get(partner_trans_id=partner_trans_id)
    assert trade.state == "TRADE_SUCCESS"  # nothing has read it since the period ended
    assert not add_refund_amount(trade, Decimal("1.00"), clock.now())
    assert trade.refunded_amount == 0


def test_a_finished_qr_trade_still_counts_as_paid(clock, client, live_server):
    import requests

    from payments.sandbox.trades import buyer_confirms

    out_trade_no = new_id("Q")
    qr_url = precreate(client, clock, out_trade_no).fields["qr_code"]
    assert buyer_confirms(SandboxTrade.objects.get(partner_trans_id=out_trade_no))  # Pay pressed
    clock.advance(91 * DAY)
    assert precreate(client, clock, out_trade_no).code == "TRADE_HAS_SUCCESS"
    assert client.query(partner_trans_id=out_trade_no).trade_status == "TRADE_FINISHED"
    assert "Paid. You can return to the shop." in requests.get(qr_url, timeout=5).text
