"""QR payments and Alipay's async notifications: a hint, confirmed by query, harmless when repeated.

These tests run with no worker (`no_worker`): the sandbox's notifications wait until the test
delivers them, and the poller runs only when the test runs it, so the order of events is the
test's to choose.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from payments import lifecycle, poller
from payments.alipay.services import QUERY
from payments.models import Payment
from payments.sandbox.models import SandboxNotification
from payments.sandbox.notify import deliver_due_notifications
from payments.sandbox.replies import reply_signer
from payments.sandbox.trades import buyer_confirms

from .helpers import exchanges, sandbox_trade

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def notify_url(live_server):
    return live_server.url + "/payments/alipay/notify/"


def qr_payment() -> Payment:
    return lifecycle.create_qr_payment(
        amount=Decimal("12.00"), currency="USD", description="Zoo entry", reference="ORDER-9"
    )


def signed(payment: Payment, **fields) -> dict[str, str]:
    trade = sandbox_trade(payment)
    payload = {
        "notify_id": fields.pop("notify_id", "n-test-1"),
        "notify_type": "trade_status_sync",
        "notify_action_type": "payByAccountAction",
        "out_trade_no": payment.partner_trans_id,
        "trade_no": trade.alipay_trans_id,
        "currency": payment.currency,
        "total_fee": f"{payment.amount:f}",
        "trade_status": "TRADE_SUCCESS",
        **fields,
    }
    signer = reply_signer(trade.merchant)
    return {**payload, "sign": signer.sign(payload), "sign_type": trade.merchant.sign_type}


def test_qr_payment_is_pending_with_a_qr_code(sandbox_clock, no_worker):
    payment = qr_payment()
    assert payment.state == Payment.State.PENDING
    assert payment.channel == Payment.Channel.QR
    assert payment.qr_code
    assert 299 <= (payment.deadline_at - payment.created_at).total_seconds() <= 300


def test_notification_is_confirmed_by_query_then_repeats_change_nothing(
    sandbox_clock, no_worker, notify_url
):
    payment = qr_payment()
    assert buyer_confirms(sandbox_trade(payment))
    assert deliver_due_notifications() == 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    [confirm] = exchanges(payment, QUERY)
    assert confirm.actor == "system:notify" and confirm.believed
    events = payment.events.count()

    original = SandboxNotification.objects.get(trade__partner_trans_id=payment.partner_trans_id)
    again = requests.post(notify_url, data=original.payload, timeout=10)
    assert (again.status_code, again.text) == (200, "success")
    late_close = requests.post(
        notify_url,
        data=signed(payment, notify_id="n-late", trade_status="TRADE_CLOSED"),
        timeout=10,
    )
    assert (late_close.status_code, late_close.text) == (200, "success")
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    assert payment.events.count() == events
    assert len(exchanges(payment, QUERY)) == 1


def test_a_signed_claim_the_query_does_not_confirm_changes_nothing(
    sandbox_clock, no_worker, notify_url
):
    payment = qr_payment()
    answer = requests.post(notify_url, data=signed(payment), timeout=10)
    assert (answer.status_code, answer.text) == (200, "success")
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    [check] = exchanges(payment, QUERY)
    assert check.actor == "system:notify"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda form: {**form, "sign": form["sign"][:-4] + "AAAA"}, id="forged"),
        pytest.param(lambda form: {k: v for k, v in form.items() if k != "sign"}, id="unsigned"),
        pytest.param(lambda form: {**form, "total_fee": "1200.00"}, id="altered amount"),
        pytest.param(lambda form: {}, id="empty"),
    ],
)
def test_bad_notifications_get_fail_and_change_nothing(
    sandbox_clock, no_worker, notify_url, tamper
):
    payment = qr_payment()
    buyer_confirms(sandbox_trade(payment))
    answer = requests.post(notify_url, data=tamper(signed(payment)), timeout=10)
    assert answer.status_code == 400 and answer.text == "fail"
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert not exchanges(payment, QUERY)


def test_validly_signed_but_wrong_amount_or_unknown_trade_is_refused(
    sandbox_clock, no_worker, notify_url
):
    payment = qr_payment()
    buyer_confirms(sandbox_trade(payment))
    wrong_amount = requests.post(notify_url, data=signed(payment, total_fee="13.00"), timeout=10)
    assert (wrong_amount.status_code, wrong_amount.text) == (400, "fail")
    unknown = requests.post(notify_url, data=signed(payment, out_trade_no="E-NOPE"), timeout=10)
    assert (unknown.status_code, unknown.text) == (404, "fail")
    assert requests.get(notify_url, timeout=10).status_code == 405
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING


def test_without_any_notification_the_poller_finds_the_qr_paid(sandbox_clock, no_worker):
    payment = qr_payment()
    buyer_confirms(sandbox_trade(payment))
    assert poller.run() >= 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    [found] = exchanges(payment, QUERY)
    assert found.actor == "system:poller"
    assert (found.created_at - payment.created_at).total_seconds() >= 3
