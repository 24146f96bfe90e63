"""A caller's own partner_trans_id (the partner API derives it from the Idempotency-Key): asked
again, the lifecycle returns the payment it already has instead of paying a second time."""

from __future__ import annotations

import logging
import re
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from payments import alipay_client, lifecycle, paying
from payments import clock as entrada_clock
from payments.alipay.services import mask
from payments.exceptions import InvalidPaymentRequest
from payments.models import GatewayExchange, Payment
from payments.sandbox.models import SandboxTrade

from .helpers import INSUFFICIENT, SUCCESS, pay

OWN_ID = "EK0123456789ABCDEF0123456789ABCDEF01234567"


def test_own_id_is_used_and_asked_again_returns_the_same_payment(sandbox_clock):
    first = pay(SUCCESS, partner_trans_id=OWN_ID)
    assert first.partner_trans_id == OWN_ID
    assert first.state == Payment.State.PAID
    assert SandboxTrade.objects.get().partner_trans_id == OWN_ID

    again = pay(SUCCESS, partner_trans_id=OWN_ID)
    assert again.pk == first.pk and again.state == Payment.State.PAID
    assert Payment.objects.count() == 1
    assert SandboxTrade.objects.count() == 1
    assert GatewayExchange.objects.filter(service__endswith="spot.pay").count() == 1


def test_a_failed_payment_asked_again_stays_failed_and_is_not_paid_again(sandbox_clock):
    first = pay(INSUFFICIENT, partner_trans_id=OWN_ID)
    assert first.state == Payment.State.FAILED
    again = pay(INSUFFICIENT, partner_trans_id=OWN_ID)
    assert again.pk == first.pk and again.state == Payment.State.FAILED
    assert GatewayExchange.objects.filter(service__endswith="spot.pay").count() == 1


@pytest.mark.parametrize(
    "other",
    [
        {"amount": "26.00"},
        {"currency": "HKD"},
        {"store_id": "STORE-2"},
        {"terminal_id": "POS-2"},
        {"buyer_code": "280000000000009999"},
    ],
    ids=["amount", "currency", "store", "terminal", "buyer"],
)
def test_own_id_of_another_payment_is_refused(sandbox_clock, other):
    pay(SUCCESS, partner_trans_id=OWN_ID)
    with pytest.raises(InvalidPaymentRequest) as refused:
        pay(other.pop("buyer_code", SUCCESS), partner_trans_id=OWN_ID, **other)
    assert "partner_trans_id" in refused.value.fields
    assert Payment.objects.count() == 1 and SandboxTrade.objects.count() == 1


def test_a_qr_payments_id_is_not_taken_for_a_barcode_payment(sandbox_clock):
    qr = lifecycle.create_qr_payment(amount="25.00", currency="USD", description="x")
    with pytest.raises(InvalidPaymentRequest):
        pay(SUCCESS, partner_trans_id=qr.partner_trans_id)
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("bad", ["", "E" * 65, "EK 1", 'EK"1', "EK/1", "单号"])
def test_unusable_own_ids_are_refused_before_anything_is_recorded(sandbox_clock, bad):
    with pytest.raises(InvalidPaymentRequest) as refused:
        pay(SUCCESS, partner_trans_id=bad)
    assert "partner_trans_id" in refused.value.fields
    assert not Payment.objects.exists() and not SandboxTrade.objects.exists()


def test_without_an_own_id_each_payment_gets_a_new_one(sandbox_clock):
    first, second = pay(SUCCESS), pay(SUCCESS)
    for payment in (first, second):
        assert re.fullmatch(r"E\d{14}[0-9A-F]{12}", payment.partner_trans_id)
    assert first.partner_trans_id != second.partner_trans_id
    assert SandboxTrade.objects.count() == 2


def test_two_runs_inserting_the_same_id_at_once_record_and_pay_it_once(sandbox_clock, caplog):
    """Run A has inserted the payment but not committed yet when run B looks for it: B does not
    see it, its own insert waits for A and then hits the unique partner_trans_id; B returns A's
    payment and sends no pay."""
    now = entrada_clock.now()
    inserted, may_commit = threading.Event(), threading.Event()
    results = {}

    def run_a():
        try:
            with transaction.atomic():
                results["a"] = paying._record_new_payment(
                    now=now,
                    deadline=60,
                    actor="test:a",
                    partner_trans_id=OWN_ID,
                    reference="ORDER-1",
                    amount="25.00",
                    currency="USD",
                    description="Museum entry x2",
                    channel=Payment.Channel.BARCODE,
                    buyer_code_masked=mask(SUCCESS),
                    buyer_code_sealed=alipay_client.seal_buyer_code(SUCCESS),
                    store_id="STORE-1",
                    terminal_id="POS-1",
                    trans_create_time=now.strftime("%Y%m%d%H%M%S"),
                )
                inserted.set()
                assert may_commit.wait(20)
        finally:
            connection.close()

    def run_b():
        try:
            results["b"] = pay(SUCCESS, partner_trans_id=OWN_ID)
        except Exception as exc:  # reported by the assertions below
            results["b"] = exc
        finally:
            connection.close()

    a, b = threading.Thread(target=run_a), threading.Thread(target=run_b)
    a.start()
    try:
        assert inserted.wait(20)
        with caplog.at_level(logging.INFO, logger="payments.paying"):
            b.start()
            # B's look-up finds nothing (uncommitted), then its insert waits on A's.
            b.join(0.5)
            assert b.is_alive()
            may_commit.set()
            a.join(20)
            b.join(20)
    finally:
        may_commit.set()
        a.join(20)
    assert isinstance(results["b"], Payment), results["b"]
    assert results["b"].pk == results["a"].pk
    assert "recorded meanwhile by another run" in caplog.text
    assert Payment.objects.count() == 1
    assert not SandboxTrade.objects.exists()  # neither run sent a pay here: A stopped at insert
    assert not GatewayExchange.objects.exists()
    assert Payment.objects.get().deadline_at == now + timedelta(seconds=60)
