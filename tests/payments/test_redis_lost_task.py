"""The Redis broker loses a task in flight; the sweeper makes that harmless.

django-q2's Redis broker hands a task out by popping it from a list (BLPOP) and its acknowledgement
does nothing: a worker that dies after the pop takes the task with it, and nothing ever hands it
out again (the ORM broker would, after `retry`). test_crash.py loses a task by deleting ORM queue
rows, which says nothing about Redis; here the task really leaves Redis and is never run. Only
the `payments-sweeper` schedule (payments.tasks.sweep, every minute) can then start a poller.

Runs when REDIS_URL is set (CI's second pass); real `qcluster` subprocesses from the `cluster`
fixture (tests/payments/conftest.py), the sandbox on the live server.
"""

from __future__ import annotations

import os

import pytest
from django_q.brokers import get_broker
from django_q.models import Task
from django_q.signing import SignedPackage

from payments.models import GatewayExchange, Payment
from payments.sandbox.models import SandboxTrade
from payments.wakeup import RUN_POLLER_TASK

from .helpers import pay, pin_confirm, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (Redis broker)"),
]


def _queued_funcs(broker) -> list[str]:
    """What the Redis list holds now, without taking it."""
    return [
        SignedPackage.loads(raw)["func"] for raw in broker.connection.lrange(broker.list_key, 0, -1)
    ]


def _take_everything(broker) -> list[str]:
    """Pop every queued task the way a worker does, and never acknowledge any (it died)."""
    taken = []
    while (popped := broker.dequeue()) is not None:
        for ack_id, raw in popped:
            taken.append(SignedPackage.loads(raw)["func"])
            assert ack_id is None  # nothing to acknowledge: Redis already forgot the task
    return taken


def _paid_once(payment: Payment) -> None:
    trades = SandboxTrade.objects.filter(partner_trans_id=payment.partner_trans_id)
    assert trades.count() == 1
    trade = trades.get()
    assert trade.state == "TRADE_SUCCESS" and trade.pay_calls == 1
    assert trade.refunded_amount == 0


def _first_sweep_started_before_polling(payment: Payment, after) -> None:
    """The poller that found the outcome was started by a sweep, not by a queued kick."""
    first_poll = (
        GatewayExchange.objects.filter(payment=payment, actor="system:poller", created_at__gt=after)
        .earliest("created_at")
        .created_at
    )
    sweeps = Task.objects.filter(func="payments.tasks.sweep", started__lte=first_poll)
    # A sweep runs the poller itself and its Task row is saved only when it returns, which can be
    # after the payment is already paid (it polls until nothing is due): wait for the record.
    wait_for(sweeps.exists, 60, "a sweep that started before the poller resumed is recorded")
    assert not Task.objects.filter(func=RUN_POLLER_TASK, started__gt=after).exists() or (
        Task.objects.filter(func=RUN_POLLER_TASK, started__gt=after).earliest("started").started
        >= sweeps.earliest("started").started
    )


def test_poller_task_popped_and_never_acknowledged_sweeper_resumes(cluster):
    broker = get_broker()
    broker.purge_queue()
    # No cluster runs yet: the payment's kick waits in Redis.
    payment = pay(pin_confirm(5), deadline_seconds=150)
    assert payment.state == Payment.State.PENDING
    assert RUN_POLLER_TASK in _queued_funcs(broker)
    # A worker pops it and is killed before running it.
    assert RUN_POLLER_TASK in _take_everything(broker)
    assert broker.queue_size() == 0
    lost_at = Payment.objects.get(pk=payment.pk).updated_at

    cluster.start()
    wait_for(
        lambda: Payment.objects.filter(pk=payment.pk, state=Payment.State.PAID).exists(),
        100,
        "paid, with only the sweeper to start a poller",
    )
    _paid_once(payment)
    _first_sweep_started_before_polling(payment, lost_at)


def test_worker_killed_while_polling_its_task_is_gone_sweeper_resumes(cluster):
    broker = get_broker()
    broker.purge_queue()
    first = cluster.start()
    payment = pay(pin_confirm(25), deadline_seconds=150)
    wait_for(
        lambda: GatewayExchange.objects.filter(payment=payment, actor="system:poller").exists(),
        40,
        "the first cluster polls",
    )
    cluster.kill(first)
    killed_at = GatewayExchange.objects.filter(payment=payment).latest("created_at").created_at
    # The running poller's task is nowhere: Redis handed it out and keeps no copy.
    assert RUN_POLLER_TASK not in _queued_funcs(broker)

    cluster.start()
    wait_for(
        lambda: Payment.objects.filter(pk=payment.pk, state=Payment.State.PAID).exists(),
        100,
        "paid after the restart",
    )
    _paid_once(payment)
    _first_sweep_started_before_polling(payment, killed_at)
