"""The poller: one lease holder at a time, each due step claimed once, many payments at once."""

from __future__ import annotations

from collections import Counter

import pytest

from payments import poller
from payments.alipay.services import QUERY
from payments.models import GatewayExchange, Payment

from ..helpers import finishes_within
from .helpers import pay, pin_confirm

pytestmark = pytest.mark.django_db(transaction=True)


def test_many_pending_payments_are_polled_together_each_step_once(sandbox_clock, no_worker):
    payments = [pay(pin_confirm(7)) for _ in range(12)]
    assert {p.state for p in payments} == {Payment.State.PENDING}
    assert poller.run() >= 36
    for payment in payments:
        payment.refresh_from_db()
        assert payment.state == Payment.State.PAID
        times = Counter(
            GatewayExchange.objects.filter(
                payment=payment, service=QUERY, actor="system:poller"
            ).values_list("created_at", flat=True)
        )
        assert len(times) == 3 and max(times.values()) == 1  # at +3, +6 and +9 s, once each


def test_a_poller_yields_while_another_holds_the_lease(sandbox_clock, no_worker):
    payment = pay(pin_confirm(4))
    assert poller.acquire_lease("someone-else")
    sandbox_clock.advance(10)
    assert poller.run() == 0
    assert not GatewayExchange.objects.filter(payment=payment, service=QUERY).exists()
    poller.release_lease("someone-else")
    assert poller.run() >= 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID


def test_a_stale_claim_is_refused(sandbox_clock, no_worker):
    payment = pay(pin_confirm(4))
    sandbox_clock.advance(4)
    stale = Payment.objects.get(pk=payment.pk)
    assert poller.claim_payment(Payment.objects.get(pk=payment.pk)) is not None
    assert poller.claim_payment(stale) is None


def test_wait_for_change_returns_when_the_poller_settles_the_payment(sandbox_clock, no_worker):
    import threading

    from django.db import connection

    from payments import lifecycle

    payment = pay(pin_confirm(4))

    def run_poller():
        try:
            poller.run()
        finally:
            connection.close()

    worker = threading.Thread(target=run_poller)
    worker.start()
    # Answered when the poller settles the payment, long before the 60 s the wait allows.
    fresh = finishes_within(
        30,
        lambda: lifecycle.wait_for_change(payment, timeout=60),
        "wait_for_change did not return when the payment was paid",
    )
    worker.join()
    assert fresh.state == Payment.State.PAID


def test_wait_for_change_gives_up_at_the_timeout(sandbox_clock, no_worker):
    import time

    from payments import lifecycle

    payment = pay(pin_confirm(30))
    started = time.monotonic()
    fresh = finishes_within(
        30,
        lambda: lifecycle.wait_for_change(payment, timeout=0.6),
        "wait_for_change did not give up at its 0.6 s timeout",
    )
    assert fresh.state == Payment.State.PENDING
    assert time.monotonic() - started >= 0.5  # a lower bound: a busy machine only adds time


def test_sharded_pollers_each_take_their_share(sandbox_clock, no_worker, settings):
    settings.PAYMENTS = {**settings.PAYMENTS, "POLLER_SHARDS": 2}
    payments = [pay(pin_confirm(4)) for _ in range(6)]
    assert poller.acquire_lease("other-poller", 0)  # shard 0 is busy elsewhere
    assert poller.run() >= 1
    for payment in payments:
        payment.refresh_from_db()
        expected = Payment.State.PAID if payment.pk % 2 == 1 else Payment.State.PENDING
        assert payment.state == expected, payment.pk
    assert not poller.lease_is_held(1)
    assert poller.lease_is_held(0)
    poller.release_lease("other-poller", 0)
    assert poller.run() >= 1
    assert set(Payment.objects.values_list("state", flat=True)) == {Payment.State.PAID}
