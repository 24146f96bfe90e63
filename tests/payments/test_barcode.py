"""Barcode payments end to end against the sandbox over real HTTP (docs/alipay.md lifecycle
rules)."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest

from payments.alipay.services import CANCEL, QUERY, SPOT_PAY
from payments.models import Payment

from .helpers import (
    INSUFFICIENT,
    PIN_NEVER,
    SUCCESS,
    TWENTY_FOUR,
    exchanges,
    pay,
    pin_confirm,
    pin_decline,
    sandbox_trade,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_instant_success_is_paid_after_the_first_call(sandbox_clock):
    payment = pay(SUCCESS)
    assert payment.state == Payment.State.PAID
    assert payment.alipay_trans_id
    assert payment.paid_at is not None
    assert payment.buyer_code_masked == "2800**********0001"
    assert payment.buyer_code_sealed == ""
    [sent] = exchanges(payment, SPOT_PAY)
    assert sent.believed and sent.signature == "valid"
    assert SUCCESS not in sent.raw_reply and SUCCESS not in str(sent.request_params)
    assert sent.request_params["buyer_identity_code"] == "2800**********0001"
    extend = sent.request_params["extend_info"]
    assert '"secondary_merchant_id"' in extend and '"store_id":"STORE-1"' in extend
    assert sandbox_trade(payment).state == "TRADE_SUCCESS"
    assert list(payment.events.values_list("to_state", flat=True)) == ["created", "paid"]


def test_a_24_digit_buyer_code_is_accepted(sandbox_clock):
    assert pay(TWENTY_FOUR).state == Payment.State.PAID


def test_insufficient_balance_fails_with_code_and_plain_message(sandbox_clock):
    payment = pay(INSUFFICIENT)
    assert payment.state == Payment.State.FAILED
    assert payment.failure_code == "BUYER_BALANCE_NOT_ENOUGH"
    assert "balance" in payment.failure_message
    assert not exchanges(payment, QUERY)


def test_pin_then_success_is_polled_from_three_seconds_after_the_pay(sandbox_clock):
    payment = pay(pin_confirm(10))
    assert payment.state == Payment.State.PAID
    [sent] = exchanges(payment, SPOT_PAY)
    queries = [q for q in exchanges(payment, QUERY) if q.actor == "system:poller"]
    assert len(queries) >= 3
    first_delay = (queries[0].created_at - sent.created_at).total_seconds()
    assert 3.0 <= first_delay <= 4.0
    gaps = [(b.created_at - a.created_at).total_seconds() for a, b in pairwise(queries)]
    assert all(3.0 <= gap <= 4.0 for gap in gaps), gaps
    assert any(q.believed and q.code == "SUCCESS" for q in exchanges(payment, QUERY))
    assert payment.paid_at >= sent.created_at
    assert list(payment.events.values_list("to_state", flat=True)) == ["created", "pending", "paid"]


def test_pin_never_confirmed_is_cancelled_at_the_deadline(sandbox_clock):
    start = sandbox_clock.now()
    payment = pay(PIN_NEVER)
    assert payment.state == Payment.State.CANCELLED
    [cancel] = exchanges(payment, CANCEL)
    waited = (cancel.created_at - start).total_seconds()
    assert 60 <= waited <= 61
    queries = exchanges(payment, QUERY)
    assert 15 <= len(queries) <= 20
    assert all(q.created_at <= cancel.created_at for q in queries)
    assert queries[-1].actor == "system:deadline"  # a last query, then the cancel
    assert sandbox_trade(payment).state == "TRADE_CLOSED"
    assert payment.cancel_action == "close"


def test_a_shorter_deadline_is_honoured(sandbox_clock):
    start = sandbox_clock.now()
    payment = pay(PIN_NEVER, deadline_seconds=12)
    [cancel] = exchanges(payment, CANCEL)
    assert payment.state == Payment.State.CANCELLED
    assert 12 <= (cancel.created_at - start).total_seconds() <= 13


def test_buyer_declines_ends_failed_without_cancel(sandbox_clock):
    payment = pay(pin_decline(7))
    assert payment.state == Payment.State.FAILED
    assert payment.failure_code == "TRADE_CLOSED"
    assert not exchanges(payment, CANCEL)


def test_jpy_amounts_are_whole(sandbox_clock):
    payment = pay(SUCCESS, amount="1200", currency="JPY")
    assert payment.state == Payment.State.PAID
    assert payment.amount == Decimal("1200")
    [sent] = exchanges(payment, SPOT_PAY)
    assert sent.request_params["trans_amount"] == "1200"
