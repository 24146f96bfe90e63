"""Refunds and cancels of paid payments, against the sandbox: never more than paid, never twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from payments import lifecycle, signals
from payments.alipay.services import CANCEL, REFUND
from payments.exceptions import NotCancellable, NotRefundable, RefundTooLarge
from payments.models import Payment, Refund

from .helpers import (
    INSUFFICIENT,
    REFUND_SYSTEM_ERROR,
    SLOW_REFUND,
    SUCCESS,
    exchanges,
    pay,
    sandbox_trade,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _sandbox_refunds(payment):
    return list(sandbox_trade(payment).refunds.all())


def test_partial_refunds_sum_to_the_total_and_one_more_is_refused(sandbox_clock):
    announced = []

    def receiver(sender, payment, refund, **kwargs):
        announced.append((payment.state, refund.amount))

    signals.payment_refunded.connect(receiver)
    try:
        payment = pay(SUCCESS, amount="30.00")
        first = lifecycle.request_refund(payment, amount=Decimal("10.00"), reason="one", actor="t")
        payment.refresh_from_db()
        assert first.state == Refund.State.SUCCEEDED
        assert payment.state == Payment.State.PARTIALLY_REFUNDED
        second = lifecycle.request_refund(payment, amount=Decimal("20.00"), reason="two", actor="t")
        payment.refresh_from_db()
        assert second.state == Refund.State.SUCCEEDED
        assert payment.state == Payment.State.REFUNDED
        with pytest.raises(NotRefundable):
            lifecycle.request_refund(payment, amount=Decimal("0.01"), reason="three", actor="t")
    finally:
        signals.payment_refunded.disconnect(receiver)
    assert announced == [
        ("partially_refunded", Decimal("10.00")),
        ("refunded", Decimal("20.00")),
    ]
    assert sorted(r.amount for r in _sandbox_refunds(payment)) == [
        Decimal("10.00"),
        Decimal("20.00"),
    ]
    assert first.partner_refund_id != second.partner_refund_id


def test_a_refund_larger_than_what_is_left_is_refused_before_sending(sandbox_clock):
    payment = pay(SUCCESS, amount="30.00")
    lifecycle.request_refund(payment, amount=Decimal("25.00"), reason="", actor="t")
    with pytest.raises(RefundTooLarge) as refused:
        lifecycle.request_refund(payment, amount=Decimal("5.01"), reason="", actor="t")
    assert refused.value.code == "refund_too_large"
    assert "5.00" in refused.value.fields["amount"]
    assert len(exchanges(payment, REFUND)) == 1


def test_concurrent_refunds_never_exceed_the_amount_paid(sandbox_clock):
    payment = pay(SUCCESS, amount="30.00")
    barrier = threading.Barrier(3)
    outcomes = []

    def refund_20():
        try:
            barrier.wait()
            lifecycle.request_refund(payment, amount=Decimal("20.00"), reason="", actor="t")
            outcomes.append("ok")
        except RefundTooLarge:
            outcomes.append("too large")
        finally:
            connection.close()

    threads = [threading.Thread(target=refund_20) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "too large", "too large"]
    assert sum(r.amount for r in _sandbox_refunds(payment)) == Decimal("20.00")


def test_a_refund_retried_after_a_timeout_is_executed_once(sandbox_clock):
    payment = pay(SLOW_REFUND)
    refund = lifecycle.request_refund(payment, amount=payment.amount, reason="", actor="t")
    assert refund.state == Refund.State.SUCCEEDED
    calls = exchanges(payment, REFUND)
    assert [c.transport for c in calls] == ["timeout", "ok"]
    assert calls[0].request_params == calls[1].request_params
    assert (calls[1].created_at - calls[0].created_at).total_seconds() >= 5
    assert len(_sandbox_refunds(payment)) == 1
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.REFUNDED


def test_a_refund_answered_system_error_is_retried_and_succeeds(sandbox_clock):
    payment = pay(REFUND_SYSTEM_ERROR)
    refund = lifecycle.request_refund(payment, amount=Decimal("5.00"), reason="", actor="t")
    assert refund.state == Refund.State.SUCCEEDED
    assert [c.code for c in exchanges(payment, REFUND)] == ["SYSTEM_ERROR", "SUCCESS"]
    assert len(_sandbox_refunds(payment)) == 1


def test_only_paid_payments_are_refundable(sandbox_clock):
    payment = pay(INSUFFICIENT)
    with pytest.raises(NotRefundable):
        lifecycle.request_refund(payment, amount=Decimal("1.00"), reason="", actor="t")


def test_cancel_of_a_paid_payment_on_its_day_is_a_reversal(sandbox_clock):
    payment = pay(SUCCESS)
    payment = lifecycle.request_cancel(payment, actor="staff")
    assert payment.state == Payment.State.CANCELLED
    assert payment.cancel_action == "refund"
    assert len(exchanges(payment, CANCEL)) == 1
    assert sandbox_trade(payment).state == "TRADE_CLOSED"


def test_cancel_of_a_paid_payment_after_its_beijing_day_refunds_it(sandbox_clock):
    payment = pay(SUCCESS)
    sandbox_clock.advance(timedelta(days=1).total_seconds())
    payment = lifecycle.request_cancel(payment, actor="staff")
    assert payment.state == Payment.State.REFUNDED
    assert not exchanges(payment, CANCEL)
    assert len(_sandbox_refunds(payment)) == 1


def test_final_payments_cannot_be_cancelled(sandbox_clock):
    payment = pay(INSUFFICIENT)
    with pytest.raises(NotCancellable):
        lifecycle.request_cancel(payment, actor="staff")


def test_a_refund_unconfirmed_past_its_bound_waits_for_staff_then_retries(sandbox_clock, settings):
    from django.core import mail

    from payments.refunds import retry_refund

    settings.PAYMENTS = {**settings.PAYMENTS, "REFUND_MAX_ATTEMPTS": 1}
    payment = pay(REFUND_SYSTEM_ERROR)
    refund = lifecycle.request_refund(payment, amount=Decimal("5.00"), reason="", actor="t")
    assert refund.state == Refund.State.NEEDS_ATTENTION
    assert refund.failure_code == "REFUND_UNCONFIRMED"
    [alert] = mail.outbox
    assert refund.partner_refund_id in alert.subject
    # Still counted against the payment: it may have been executed.
    with pytest.raises(RefundTooLarge):
        lifecycle.request_refund(payment, amount=Decimal("20.01"), reason="", actor="t")
    refund = retry_refund(refund, actor="staff")
    assert refund.state == Refund.State.SUCCEEDED
    calls = exchanges(payment, REFUND)
    assert len(calls) == 2 and calls[0].request_params == calls[1].request_params
    assert len(_sandbox_refunds(payment)) == 1


# Alipay executes no synchronous refund 00:00-01:30 Beijing time (16:00-17:30 UTC).
BEFORE_BLACKOUT = datetime(2026, 11, 27, 15, 59, 57, tzinfo=UTC)  # 23:59:57 in Beijing
IN_BLACKOUT = datetime(2026, 11, 27, 16, 20, tzinfo=UTC)  # 00:20 in Beijing
BLACKOUT_ENDS = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)  # 01:30 in Beijing


@pytest.fixture
def blackout(sandbox_clock, settings):
    settings.PAYMENTS = {**settings.PAYMENTS, "REFUND_BLACKOUT": True}
    settings.SANDBOX_REFUND_BLACKOUT = True
    return sandbox_clock


def test_a_refund_asked_for_in_the_blackout_is_sent_when_it_ends(blackout, mailoutbox):
    from payments import tasks

    blackout.freeze(IN_BLACKOUT - timedelta(minutes=10))
    payment = pay(SUCCESS)
    blackout.freeze(IN_BLACKOUT)
    refund = lifecycle.request_refund(payment, amount=Decimal("5.00"), reason="", actor="t")
    assert (refund.state, refund.attempts) == (Refund.State.REQUESTED, 0)
    assert refund.next_action_at == BLACKOUT_ENDS
    assert not exchanges(payment, REFUND)
    assert "01:30 Beijing" in payment.events.get(to_state="refund:requested").note
    assert tasks.sweep() == 0  # not due for 70 minutes: no poller kept awake for it
    assert not exchanges(payment, REFUND)
    blackout.freeze(BLACKOUT_ENDS)
    assert tasks.sweep() == 1
    refund.refresh_from_db()
    assert (refund.state, refund.attempts) == (Refund.State.SUCCEEDED, 1)
    [sent] = exchanges(payment, REFUND)
    assert (sent.code, sent.created_at) == ("SUCCESS", BLACKOUT_ENDS)
    assert len(_sandbox_refunds(payment)) == 1
    assert not mailoutbox


def test_a_retry_falling_in_the_blackout_waits_without_spending_attempts(blackout, mailoutbox):
    from payments import tasks

    blackout.freeze(BEFORE_BLACKOUT)
    payment = pay(REFUND_SYSTEM_ERROR)
    # The first call, at 23:59:57, answers SYSTEM_ERROR; its retry falls due after midnight.
    refund = lifecycle.request_refund(payment, amount=Decimal("5.00"), reason="", actor="t")
    assert (refund.state, refund.attempts) == (Refund.State.REQUESTED, 1)
    assert refund.next_action_at == BLACKOUT_ENDS
    assert not mailoutbox
    blackout.freeze(BLACKOUT_ENDS)
    tasks.sweep()
    refund.refresh_from_db()
    assert (refund.state, refund.attempts) == (Refund.State.SUCCEEDED, 2)
    first, second = exchanges(payment, REFUND)
    assert (first.code, second.code) == ("SYSTEM_ERROR", "SUCCESS")
    assert second.created_at == BLACKOUT_ENDS
    assert first.request_params == second.request_params
    assert len(_sandbox_refunds(payment)) == 1
    assert not mailoutbox
