"""The poller: one lease holder at a time, each due step claimed once, many payments at once."""

from __future__ import annotations

from collections import Counter

import pytest

from payments import poller
from payments.alipay.services import QUERY
from payments.models import GatewayExchange, Payment

from .conftest import pay, pin_confirm

pytestmark = pytest.mark.django_db(transaction=True)


def test_many_pending_payments_are_polled_together_each_step_once(gateway, no_cluster):
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


def test_a_poller_yields_while_another_holds_the_lease(gateway, no_cluster):
    payment = pay(pin_confirm(4))
    assert poller.acquire_lease("someone-else")
    gateway.advance(10)
    assert poller.run() == 0
    assert not GatewayExchange.objects.filter(payment=payment, service=QUERY).exists()
    poller.release_lease("someone-else")
    assert poller.run() >= 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID


def test_a_stale_claim_is_refused(gateway, no_cluster):
    payment = pay(pin_confirm(4))
    gateway.advance(4)
    stale = Payment.objects.get(pk=payment.pk)
    assert poller.claim_payment(Payment.objects.get(pk=payment.pk)) is not None
    assert poller.claim_payment(stale) is None


def test_wait_for_change_returns_when_the_poller_settles_the_payment(gateway, no_cluster):
    import threading
    import time

    from django.db import connection

    from payments import lifecycle

    payment = pay(pin_confirm(4))

    def run_poller():
        try:
            poller.run()
        finally:
            connection.close()

    worker = threading.Thread(target=run_poller)
    started = time.monotonic()
    worker.start()
    fresh = lifecycle.wait_for_change(payment, timeout=20)
    worker.join()
    assert fresh.state == Payment.State.PAID
    assert time.monotonic() - started < 20


def test_wait_for_change_gives_up_at_the_timeout(gateway, no_cluster):
    import time

    from payments import lifecycle

    payment = pay(pin_confirm(30))
    started = time.monotonic()
    fresh = lifecycle.wait_for_change(payment, timeout=0.6)
    assert fresh.state == Payment.State.PENDING
    assert 0.5 <= time.monotonic() - started < 3


def test_sharded_pollers_each_take_their_share(gateway, no_cluster, settings):
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
