"""The poller under more work than it can do: who goes first, and what it never does.

The rules: a deadline's cancel goes before any query; queries go nearest deadline first; a step
overdue by AGING_SECONDS ranks with the deadlines, so none starves; and no payment is queried
sooner than POLL_INTERVAL after its previous query, at its deadline neither. The real claims
(claim_due takes `limit` steps, as a poller with that many free threads does) against the live
sandbox, with the movable clock.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from payments import poller
from payments.alipay.services import CANCEL, QUERY
from payments.models import Payment

from .helpers import PIN_NEVER, exchanges, pay

pytestmark = pytest.mark.django_db(transaction=True)


def claimed(limit: int) -> list[int]:
    """The payments a poller with `limit` free threads takes now, in the order it runs them."""
    return [item.pk for func, item in poller.claim_due(limit) if isinstance(item, Payment)]


def test_queries_go_nearest_deadline_first(sandbox_clock, no_worker):
    far = pay(PIN_NEVER, deadline_seconds=300)
    near = pay(PIN_NEVER, deadline_seconds=40)
    middle = pay(PIN_NEVER, deadline_seconds=120)
    sandbox_clock.advance(4)
    assert claimed(2) == [near.pk, middle.pk]
    assert claimed(2) == [far.pk]  # the claimed two are not handed out again


def test_the_deadline_cancel_goes_before_every_query(sandbox_clock, no_worker):
    crowd = [pay(PIN_NEVER, deadline_seconds=90) for _ in range(4)]
    ending = pay(PIN_NEVER, deadline_seconds=20)
    sandbox_clock.advance(20)  # every payment is due; one of them has reached its deadline
    [(func, item)] = poller.claim_due(1)
    assert item.pk == ending.pk
    func(item)
    ending.refresh_from_db()
    assert ending.state == Payment.State.CANCELLED
    [cancel] = exchanges(ending, CANCEL)
    assert (cancel.created_at - ending.deadline_at).total_seconds() < 1
    for payment in crowd:  # still waiting for their query: the cancel did not wait for them
        assert Payment.objects.get(pk=payment.pk).next_action_at <= sandbox_clock.now()


def test_a_far_deadline_does_not_starve_under_a_flood_of_near_ones(sandbox_clock, no_worker):
    patient = pay(PIN_NEVER, deadline_seconds=3600)  # due at +3
    sandbox_clock.advance(1)
    urgent = pay(PIN_NEVER, deadline_seconds=60)  # due at +4, deadline at +61
    sandbox_clock.advance(4)
    assert claimed(1) == [urgent.pk]  # nearest deadline first while the patient one is fresh
    sandbox_clock.advance(26)
    flood = [pay(PIN_NEVER, deadline_seconds=20) for _ in range(3)]  # due at +34, deadlines +51
    sandbox_clock.advance(4)
    # The patient step has waited 31 s, more than AGING_SECONDS: it goes before the flood.
    assert poller.AGING_SECONDS < 31
    assert claimed(1) == [patient.pk]
    assert set(claimed(3)) == {p.pk for p in flood}


def test_no_query_sooner_than_the_interval_even_at_the_deadline(sandbox_clock, no_worker):
    start = sandbox_clock.now()
    payment = pay(PIN_NEVER, deadline_seconds=10)  # queries at +3, +6, +9; the deadline at +10
    poller.run()
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED
    queries = exchanges(payment, QUERY)
    assert [round((q.created_at - start).total_seconds()) for q in queries] == [3, 6, 9]
    assert all((b.created_at - a.created_at).total_seconds() >= 3 for a, b in pairwise(queries))
    [cancel] = exchanges(payment, CANCEL)
    assert 10 <= (cancel.created_at - start).total_seconds() < 11  # on time, without a query
    assert cancel.actor == "system:deadline"


@pytest.mark.parametrize("threads", [1, 2])
def test_an_overloaded_poller_keeps_the_floor_and_the_deadlines(
    sandbox_clock, no_worker, settings, threads
):
    """More payments than threads, all due together: every one still gets its queries no
    closer than 3 s apart, and every cancel at its deadline (one thread: rounds; more: a flow)."""
    settings.PAYMENTS = {**settings.PAYMENTS, "POLLER_THREADS": threads}
    payments = [pay(PIN_NEVER, deadline_seconds=15) for _ in range(8)]
    assert poller.run() >= 8 * 5
    for payment in payments:
        payment.refresh_from_db()
        assert payment.state == Payment.State.CANCELLED
        queries = exchanges(payment, QUERY)
        gaps = [(b.created_at - a.created_at).total_seconds() for a, b in pairwise(queries)]
        assert all(gap >= 3 for gap in gaps), gaps
        [cancel] = exchanges(payment, CANCEL)
        assert 0 <= (cancel.created_at - payment.deadline_at).total_seconds() < 1
