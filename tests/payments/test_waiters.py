"""Long-poll waits (payments/waiters.py) without a server: a new wait costs no query of its own,
yet a change it missed, made between its caller's read and its start, still wakes it promptly."""

from __future__ import annotations

import asyncio
import time

from payments import waiters
from payments.models import Payment

from .helpers import PIN_NEVER, pay

# The watcher checks a new wait within WAIT_CHECK_INTERVAL (0.15 s), with Redis or without; this
# leaves a loaded machine room while staying far below the wait's 10 s.
PROMPT = 2.5


def test_a_change_made_before_the_wait_began_wakes_it_at_the_next_check(
    alipay_gateway, poller_elsewhere
):
    payment = pay(PIN_NEVER)
    assert payment.state == Payment.State.PENDING
    # The register last saw the payment `created`; it is `pending` now, and no announcement of
    # that change will come again: only the watcher's check can tell the wait.
    started = time.monotonic()
    result = asyncio.run(
        waiters.wait_for_change(
            payment.pk, state=Payment.State.CREATED, seconds=10, read=lambda p: p.state
        )
    )
    assert result.outcome is waiters.WaitOutcome.CHANGED
    assert result.value == Payment.State.PENDING
    assert time.monotonic() - started < PROMPT
    assert waiters.hub.held() == 0


def test_a_wait_that_sees_no_change_ends_in_its_time_with_the_payment_read_now(
    alipay_gateway, poller_elsewhere
):
    payment = pay(PIN_NEVER)
    started = time.monotonic()
    result = asyncio.run(
        waiters.wait_for_change(
            payment.pk,
            state=Payment.State.PENDING,
            seconds=0.5,
            read=lambda p: (p.state, p.updated_at),
        )
    )
    assert result.outcome is waiters.WaitOutcome.TIMED_OUT
    assert 0.45 < time.monotonic() - started < PROMPT
    # Read at the end by the watcher's batched read, not left to the caller.
    payment.refresh_from_db()
    assert result.value == (Payment.State.PENDING, payment.updated_at)
    assert waiters.hub.held() == 0


def test_a_wait_s_length_is_spread_below_what_was_asked():
    lengths = [waiters.spread(25) for _ in range(200)]
    assert all(22.5 <= length <= 25 for length in lengths)
    assert max(lengths) - min(lengths) > 1  # spread, not one fixed cut
