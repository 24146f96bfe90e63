"""A payment past Alipay's refund period (the trade is TRADE_FINISHED), end to end against the
sandbox: a refund asked for then fails for good, the payment stays paid, queries say finished."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments import alipay_client as alipay
from payments import lifecycle
from payments.alipay.results import Outcome
from payments.alipay.services import REFUND
from payments.models import Payment, Refund
from payments.sandbox.models import SandboxRefund

from .helpers import SUCCESS, exchanges, pay, sandbox_trade

pytestmark = pytest.mark.django_db(transaction=True)

DAY = 24 * 3600


def test_a_refund_after_the_refund_period_fails_and_the_payment_stays_paid(sandbox_clock):
    payment = pay(SUCCESS, amount="30.00")
    assert payment.state == Payment.State.PAID
    sandbox_clock.advance(91 * DAY)  # SANDBOX_REFUND_PERIOD_DAYS is 90

    refund = lifecycle.request_refund(payment, amount=Decimal("10.00"), reason="late", actor="t")

    assert refund.state == Refund.State.FAILED
    assert refund.failure_code == "TRADE_STATUS_ERROR"
    assert "can no longer be refunded" in refund.failure_message
    assert refund.next_action_at is None  # final: never retried
    assert [e.code for e in exchanges(payment, REFUND)] == ["TRADE_STATUS_ERROR"]
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    assert not SandboxRefund.objects.exists()
    trade = sandbox_trade(payment)
    assert (trade.state, trade.refunded_amount) == ("TRADE_FINISHED", Decimal("0"))

    query = alipay.query(payment)
    assert (query.outcome, query.trade_status) == (Outcome.SUCCESS, "TRADE_FINISHED")
    # Entrada's query path reads TRADE_FINISHED as paid: nothing changes for a paid payment.
    assert lifecycle.refresh_from_gateway(payment, generation=None, actor="t").state == (
        Payment.State.PAID
    )
