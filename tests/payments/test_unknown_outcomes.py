"""Unknown outcomes: SYSTEM_ERROR, a lost reply, a forged signature, a cancel that keeps failing.

Each ends in a true final state, with identical parameters on every retry and never a second
charge at the sandbox (its own tables are the witness).
"""

from __future__ import annotations

import pytest
from django.core import mail

from payments.alipay.services import CANCEL, QUERY, SPOT_PAY
from payments.models import Payment

from .helpers import (
    BAD_SIGNATURE,
    SLOW_PAY,
    cancel_system_error,
    exchanges,
    pay,
    query_system_error,
    sandbox_trade,
    system_error_calls,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _identical(rows) -> bool:
    params = [row.request_params for row in rows]
    return all(p == params[0] for p in params)


def test_system_error_on_pay_ends_paid_once(sandbox_clock):
    payment = pay(system_error_calls(2))
    assert payment.state == Payment.State.PAID
    pays = exchanges(payment, SPOT_PAY)
    assert pays[0].code == "SYSTEM_ERROR" and not pays[0].believed
    assert _identical(pays)
    trade = sandbox_trade(payment)
    assert trade.state == "TRADE_SUCCESS"
    assert trade.refunded_amount == 0
    from payments.sandbox.models import SandboxTrade

    assert SandboxTrade.objects.filter(partner_trans_id=payment.partner_trans_id).count() == 1


def test_system_error_on_queries_keeps_polling_until_paid(sandbox_clock):
    payment = pay(query_system_error(3))
    assert payment.state == Payment.State.PAID
    queries = exchanges(payment, QUERY)
    assert [q.code for q in queries[:3]] == ["SYSTEM_ERROR"] * 3
    assert _identical(queries)
    assert len(exchanges(payment, SPOT_PAY)) == 1


def test_lost_pay_reply_is_resolved_by_query(sandbox_clock):
    payment = pay(SLOW_PAY)
    assert payment.state == Payment.State.PAID
    [sent] = exchanges(payment, SPOT_PAY)
    assert sent.transport == "timeout"
    assert any(q.believed and q.code == "SUCCESS" for q in exchanges(payment, QUERY))
    assert sandbox_trade(payment).pay_calls == 1


def test_forged_reply_signature_is_not_believed(sandbox_clock):
    payment = pay(BAD_SIGNATURE)
    [sent] = exchanges(payment, SPOT_PAY)
    assert sent.transport == "bad_signature" and not sent.believed
    assert payment.state == Payment.State.PAID
    events = list(payment.events.values_list("to_state", "actor"))
    assert events[1] == ("pending", "system:pay")
    assert events[2][0] == "paid" and events[2][1] != "system:pay"


def test_cancel_retried_with_identical_parameters_until_alipay_accepts(sandbox_clock):
    payment = pay(cancel_system_error(3), deadline_seconds=12)
    assert payment.state == Payment.State.CANCELLED
    cancels = exchanges(payment, CANCEL)
    assert [c.code for c in cancels] == ["SYSTEM_ERROR"] * 3 + ["SUCCESS"]
    assert _identical(cancels)
    assert sandbox_trade(payment).state == "TRADE_CLOSED"
    assert mail.outbox == []


def test_cancel_failing_past_the_bound_needs_attention_and_alerts_staff(sandbox_clock, settings):
    settings.PAYMENTS = {**settings.PAYMENTS, "CANCEL_MAX_ATTEMPTS": 4}
    payment = pay(cancel_system_error(9), deadline_seconds=12)
    assert payment.state == Payment.State.NEEDS_ATTENTION
    cancels = exchanges(payment, CANCEL)
    assert len(cancels) == 4 and _identical(cancels)
    assert payment.next_action_at is None
    assert "cancel failed 4 times" in payment.attention_reason
    [alert] = mail.outbox
    assert payment.partner_trans_id in alert.subject
    assert "Needs attention" in alert.body
    assert Payment.objects.filter(state=Payment.State.NEEDS_ATTENTION).count() == 1
