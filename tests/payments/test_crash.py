"""Crash tests: a real `manage.py qcluster` is SIGKILLed and a new one finishes the work.

The cluster is a subprocess on the test database (SQLite file or PostgreSQL) with the ALIPAY_*
environment pointed at the sandbox on the live server. The test process itself runs no worker
(`no_worker`): whatever it queues waits in the broker for the subprocess. Nothing here waits on a
fixed sleep: each wait polls the database for the outcome, with a bound well under 90 s.
"""

from __future__ import annotations

import pytest

from payments.models import GatewayExchange, Payment
from payments.sandbox.models import SandboxTrade
from payments.sandbox.trades import buyer_confirms

from .helpers import PIN_NEVER, pay, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_killed_cluster_then_buyer_confirms_new_cluster_pays_once(cluster):
    first = cluster.start()
    payment = pay(PIN_NEVER, deadline_seconds=150)
    assert payment.state == Payment.State.PENDING
    wait_for(
        lambda: GatewayExchange.objects.filter(payment=payment, actor="system:poller").exists(),
        40,
        "the first cluster polls",
    )
    cluster.kill(first)
    trade = SandboxTrade.objects.get(partner_trans_id=payment.partner_trans_id)
    # The buyer confirms while nothing runs; Alipay's notification is lost too (no notify URL),
    # so only our own sweeper can find out.
    SandboxTrade.objects.filter(pk=trade.pk).update(notify_url="")
    trade.refresh_from_db()
    assert buyer_confirms(trade)
    polled_before = GatewayExchange.objects.filter(payment=payment).count()

    cluster.start()
    wait_for(
        lambda: Payment.objects.filter(pk=payment.pk, state=Payment.State.PAID).exists(),
        75,
        "paid after the restart",
    )
    trades = SandboxTrade.objects.filter(partner_trans_id=payment.partner_trans_id)
    assert trades.count() == 1
    assert trades.get().state == "TRADE_SUCCESS" and trades.get().refunded_amount == 0
    assert trades.get().pay_calls == 1
    assert GatewayExchange.objects.filter(payment=payment).count() > polled_before


def test_deadline_passing_while_no_cluster_runs_ends_cancelled(cluster, monkeypatch, tmp_path):
    from django_q.models import OrmQ

    clock_file = tmp_path / "clock-offset"
    clock_file.write_text("0")
    monkeypatch.setenv("ENTRADA_CLOCK_FILE", str(clock_file))
    payment = pay(PIN_NEVER, deadline_seconds=60)
    assert payment.state == Payment.State.PENDING
    # Lose the queued poller task too (as the Redis broker may): only the sweeper remains.
    OrmQ.objects.all().delete()
    clock_file.write_text("120")  # two minutes pass with no cluster running

    cluster_process = cluster.start()
    assert cluster_process.poll() is None
    wait_for(
        lambda: Payment.objects.filter(pk=payment.pk, state=Payment.State.CANCELLED).exists(),
        75,
        "cancelled after the restart",
    )
    trade = SandboxTrade.objects.get(partner_trans_id=payment.partner_trans_id)
    assert trade.state == "TRADE_CLOSED" and trade.paid_at is None
    cancel = GatewayExchange.objects.get(payment=payment, service="alipay.acquire.cancel")
    assert cancel.actor == "system:deadline"
