"""The poller's quiet queries, written a batch at a time (payments.journal): nothing is written
until the flush, then each query's audit row, its count and its payment's next query together;
a stale chain's reschedule is refused but its query still recorded; and a row the database
refuses costs only itself. Real queries of the live sandbox."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from payments import alipay_client, poller
from payments.alipay.services import QUERY
from payments.journal import QueryJournal
from payments.models import GatewayExchange, Payment
from payments.transitions import QuietQuery, exchange_row

from .helpers import PIN_NEVER, exchanges, pay

pytestmark = pytest.mark.django_db(transaction=True)


def quiet(payment: Payment, clock, *, generation: int | None = None) -> QuietQuery:
    """A real query of `payment` that found it still waiting, as the poller records it."""
    result = alipay_client.query(payment)
    assert result.ok and result.trade_status == "WAIT_BUYER_PAY"
    row = exchange_row(
        result, payment=payment, sent_at=clock.now(), attempt=1, believed=True,
        actor="system:poller",
    )  # fmt: skip
    due = clock.now() + timedelta(seconds=3)
    return QuietQuery(row, payment.chain_generation if generation is None else generation, due)


def test_quiet_queries_are_written_at_the_flush_with_counts_and_next_queries(
    sandbox_clock, no_worker
):
    first, second = pay(PIN_NEVER), pay(PIN_NEVER)
    before = {p.pk: len(exchanges(p, QUERY)) for p in (first, second)}
    journal = QueryJournal()
    queries = [quiet(first, sandbox_clock), quiet(second, sandbox_clock)]
    for query in queries:
        journal.add(query)
    assert [len(exchanges(p, QUERY)) for p in (first, second)] == list(before.values())

    assert journal.flush() == 2
    assert journal.flush() == 0  # written once
    for payment, query in zip((first, second), queries, strict=True):
        payment.refresh_from_db()
        assert len(exchanges(payment, QUERY)) == before[payment.pk] + 1
        assert payment.query_count == before[payment.pk] + 1
        assert payment.next_action_at == query.next_action_at
        assert payment.state == Payment.State.PENDING


def test_a_stale_chain_keeps_its_schedule_but_its_query_is_recorded(sandbox_clock, no_worker):
    payment = pay(PIN_NEVER)
    stale = quiet(payment, sandbox_clock, generation=payment.chain_generation - 1)
    payment.refresh_from_db()
    scheduled, counted = payment.next_action_at, payment.query_count
    journal = QueryJournal()
    journal.add(stale)
    assert journal.flush() == 1
    payment.refresh_from_db()
    assert payment.next_action_at == scheduled  # another chain owns the next step
    assert payment.query_count == counted + 1  # the exchange happened all the same


def test_a_refused_row_costs_only_itself(sandbox_clock, no_worker, caplog):
    payment = pay(PIN_NEVER)
    good = quiet(payment, sandbox_clock)
    gone = quiet(payment, sandbox_clock)
    gone.exchange.payment_id = Payment.objects.order_by("-pk").first().pk + 1000  # no such row
    journal = QueryJournal()
    journal.add(gone)
    journal.add(good)
    with caplog.at_level(logging.WARNING, logger="payments.journal"):
        assert journal.flush() == 1
    payment.refresh_from_db()
    assert payment.next_action_at == good.next_action_at
    assert not GatewayExchange.objects.filter(payment_id=gone.exchange.payment_id).exists()
    assert "was lost" in caplog.text


def test_a_polling_run_leaves_nothing_unwritten(sandbox_clock, no_worker, settings):
    settings.PAYMENTS = {**settings.PAYMENTS, "POLLER_THREADS": 4}
    waiting = [pay(PIN_NEVER, deadline_seconds=3600) for _ in range(6)]
    sandbox_clock.advance(4)
    assert poller.run(window=1) >= len(waiting)
    for payment in waiting:
        payment.refresh_from_db()
        assert payment.query_count == len(exchanges(payment, QUERY)) >= 1
        # Rescheduled by the flush (the claim's mark is CLAIM_SECONDS ahead, not 3 s).
        assert payment.next_action_at <= sandbox_clock.now() + timedelta(seconds=3)
