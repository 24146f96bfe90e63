"""The poller: one loop that takes every due payment and refund its next step.

Why a loop and not one django-q task per payment: django-q2 has no delayed tasks, so a
per-payment chain must sleep ~3 s inside a worker between queries, and a cluster of W workers
then keeps the 3-4 s cadence for only W payments at a time. Here a single poller (one holder of a
renewed, expiring WorkerLease) wakes every fraction of a second, claims the rows whose
`next_action_at` has come (compare-and-set on `chain_generation`, so a duplicate poller or a
late task finds nothing to do) and runs their steps on a small thread pool: one query, one
cancel or one refund each. The loop ends after WINDOW seconds and queues its successor;
the sweeper (a django-q2 schedule every minute) restarts it after a crash. With POLLER_SHARDS
= k, k pollers run at once (on any workers of any hosts), each owning the rows whose id modulo k
is its shard, so polling scales past what one process's threads can send.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.db.models import F, Min

from payments import clock
from payments.cancelling import begin_cancel, send_cancel
from payments.conf import conf, later
from payments.leases import (
    LEASE_NAME,
    LEASE_SECONDS,
    acquire_lease,
    lease_is_held,
    lease_name,
    release_lease,
    renew_lease,
    shard_count,
    shard_of,
)
from payments.models import Payment, Refund
from payments.paying import refresh_from_gateway
from payments.refunds import send_refund
from payments.transitions import claim_payment, claim_refund, transition_payment
from payments.wakeup import kick_poller

# The lease and claim functions are used from here by commands and tests, as before they moved.
__all__ = [
    "LEASE_NAME",
    "LEASE_SECONDS",
    "acquire_any",
    "acquire_lease",
    "claim_payment",
    "due_soon",
    "due_work",
    "has_work",
    "lease_is_held",
    "lease_name",
    "next_due",
    "overdue",
    "release_lease",
    "renew_lease",
    "run",
    "run_round",
    "shard_count",
    "shard_of",
    "step_payment",
    "step_refund",
]

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 50.0  # well under the django-q2 task timeout (90 s)
MAX_NAP = 0.25
BATCH = 200
# The sweeper runs every minute; work due further ahead than this is left for it to start.
HORIZON_SECONDS = 90.0


# --- the lease ---------------------------------------------------------------------------------
def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def acquire_any(holder: str) -> int | None:
    """Take the lease of a free shard that has work; its number, or None.

    Shards without work are never taken: a poller that took an empty shard first would leave
    the busy one to the next task, which would take the empty one again, and so on.
    """
    for shard in range(shard_count()):
        if has_work(shard) and acquire_lease(holder, shard):
            return shard
    return None


# --- finding work ------------------------------------------------------------------------------
def _share(queryset, shard: int | None):
    """Rows of one shard (id modulo the shard count); all rows for shard None."""
    count = shard_count()
    if shard is None or count == 1:
        return queryset
    return queryset.annotate(poller_shard=F("pk") % count).filter(poller_shard=shard)


def _active_payments(shard: int | None = None):
    return _share(
        Payment.objects.filter(state__in=Payment.ACTIVE_STATES, next_action_at__isnull=False),
        shard,
    )


def _active_refunds(shard: int | None = None):
    return _share(
        Refund.objects.filter(state=Refund.State.REQUESTED, next_action_at__isnull=False), shard
    )


def has_work(shard: int | None = None) -> bool:
    return _active_payments(shard).exists() or _active_refunds(shard).exists()


def overdue(grace_seconds: float) -> bool:
    """Is any step late by more than `grace_seconds` (a sign that no poller is running)?"""
    limit = clock.now() - timedelta(seconds=grace_seconds)
    return (
        _active_payments().filter(next_action_at__lt=limit).exists()
        or _active_refunds().filter(next_action_at__lt=limit).exists()
    )


def due_soon(shard: int | None = None) -> bool:
    """Is a step (of the shard) due within HORIZON_SECONDS? Later ones are the sweeper's to start:
    a refund held for Alipay's night blackout should not keep a poller awake for 90 minutes."""
    upcoming = next_due(shard)
    return upcoming is not None and upcoming <= later(HORIZON_SECONDS)


def next_due(shard: int | None = None):
    """The earliest next_action_at of any active row (of the shard), or None."""
    dues = [
        _active_payments(shard).aggregate(m=Min("next_action_at"))["m"],
        _active_refunds(shard).aggregate(m=Min("next_action_at"))["m"],
    ]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


def due_work(limit: int = BATCH, shard: int | None = None) -> tuple[list[Payment], list[int]]:
    """Due payments as full rows (one SELECT for the whole batch) and due refund ids."""
    now = clock.now()
    payments = list(
        _active_payments(shard).filter(next_action_at__lte=now).order_by("next_action_at")[:limit]
    )
    refunds = list(
        _active_refunds(shard)
        .filter(next_action_at__lte=now)
        .order_by("next_action_at")
        .values_list("pk", flat=True)[:limit]
    )
    return payments, refunds


# --- one step ---------------------------------------------------------------------------------
def advance_payment(payment: Payment, generation: int) -> None:
    """The claimed payment's next step: a query, the deadline's cancel, or a cancel retry."""
    State = Payment.State
    if payment.state == State.CREATED:
        # The process that sent the first pay died before recording its answer: query it.
        generation = transition_payment(
            payment.pk,
            to=State.PENDING,
            from_states=[State.CREATED],
            actor="system:poller",
            generation=generation,
            note="pay answer never recorded; querying",
            fields={"next_action_at": later(conf("CLAIM_SECONDS"))},
        )
        if generation is None:
            return
        payment.refresh_from_db()
    if payment.state == State.PENDING:
        if clock.now() >= payment.deadline_at:
            # One last query first: a buyer who confirmed since the previous one (or while the
            # poller was behind) is then paid, not cancelled-and-refunded.
            payment = refresh_from_gateway(payment, generation=generation, actor="system:deadline")
            payment.refresh_from_db()
            if payment.state != State.PENDING or payment.chain_generation != generation:
                return
            generation = begin_cancel(
                payment, actor="system:deadline", note="deadline passed", generation=generation
            )
            if generation is None:
                return
            payment.refresh_from_db()
            send_cancel(payment, generation=generation, actor="system:deadline")
        else:
            refresh_from_gateway(payment, generation=generation, actor="system:poller")
    elif payment.state == State.CANCELLING:
        send_cancel(payment, generation=generation, actor="system:poller")


def step_payment(payment: Payment) -> bool:
    generation = claim_payment(payment)
    if generation is None:
        return False
    advance_payment(payment, generation)
    return True


def step_refund(refund_id: int) -> bool:
    attempts = claim_refund(refund_id)
    if attempts is None:
        return False
    send_refund(Refund(pk=refund_id), claimed_attempts=attempts, actor="system:poller")
    return True


def _in_thread(func, item) -> bool:
    try:
        return func(item)
    except Exception:  # one bad row must not stop the others: it is simply due again
        logger.exception("poller step %s(%s) failed", func.__name__, item)
        return False


class _Pool(ThreadPoolExecutor):
    """Threads keep their database connection for the whole run (reconnecting per step costs
    more than the step on PostgreSQL) and the connections are closed when the run ends."""

    def __init__(self, workers: int):
        self._connections: list = []
        self._guard = threading.Lock()
        super().__init__(max_workers=workers, initializer=self._register)

    def _register(self) -> None:
        conn = connections[DEFAULT_DB_ALIAS]
        conn.inc_thread_sharing()  # so that shutdown() may close it from the poller's thread
        with self._guard:
            self._connections.append(conn)

    def shutdown(self, wait: bool = True, **kwargs) -> None:
        super().shutdown(wait=wait, **kwargs)
        for conn in self._connections:
            conn.close()
            conn.dec_thread_sharing()


def run_round(pool: ThreadPoolExecutor | None, shard: int | None = None) -> int:
    """Claim and run every due step (of the shard) once; returns how many steps ran."""
    payments, refunds = due_work(shard=shard)
    jobs = [(step_payment, p) for p in payments] + [(step_refund, pk) for pk in refunds]
    if not jobs:
        return 0
    if pool is None or len(jobs) == 1:
        done = 0
        for func, item in jobs:
            try:
                done += func(item)
            except Exception:  # one bad row must not stop the others: it is simply due again
                logger.exception("poller step %s(%s) failed", func.__name__, item)
        return done
    return sum(pool.map(lambda job: _in_thread(*job), jobs))


def run(window: float = WINDOW_SECONDS, *, wait_for_lease: float = 0.0) -> int:
    """Poll one shard while it has work, up to `window` seconds of clock time, holding its lease.

    Returns the number of steps run (0 when every shard's lease is held). The sweeper waits up
    to `wait_for_lease` for a lease that a killed poller left behind to expire.
    """
    holder = _holder()
    close_old_connections()
    give_up = later(wait_for_lease)
    while (shard := acquire_any(holder)) is None:
        if clock.now() >= give_up or not has_work():
            return 0
        clock.sleep(0.5)
    scope = shard if shard_count() > 1 else None
    if scope is not None and any(
        has_work(other) and not lease_is_held(other)
        for other in range(shard_count())
        if other != shard
    ):
        kick_poller()  # another shard has work and nobody polling it
    steps = 0
    threads = int(conf("POLLER_THREADS"))
    pool = _Pool(threads) if threads > 1 else None
    ends = later(window)
    try:
        while clock.now() < ends:
            if not renew_lease(holder, shard):
                logger.warning("poller lease %s lost; stopping this round", shard)
                break
            steps += run_round(pool, scope)
            upcoming = next_due(scope)
            if upcoming is None or upcoming >= ends:
                break
            wait = (upcoming - clock.now()).total_seconds()
            clock.sleep(min(max(wait, 0.02), MAX_NAP))
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        release_lease(holder, shard)
    # Work due soon (or while we were stopping) would wait for the sweeper: hand over.
    if due_soon(scope):
        kick_poller()
    return steps
