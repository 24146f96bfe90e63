"""The poller: one loop that takes every due payment and refund its next step.

Why a loop and not one django-q task per payment: django-q2 has no delayed tasks, so a
per-payment chain must sleep ~3 s inside a worker between queries, and a cluster of W workers
then keeps the 3-4 s cadence for only W payments at a time. Here a single poller (one holder of a
renewed, expiring WorkerLease) claims the rows whose `next_action_at` has come, in batches (one
UPDATE bumping `chain_generation`, so a duplicate poller or a late task finds nothing to do), and
feeds their steps to a thread pool: one query, one cancel or one refund each. The loop ends after
WINDOW seconds and queues its successor; the sweeper (a django-q2 schedule every minute)
restarts it after a crash. With POLLER_SHARDS = k, k pollers run at once (on any workers of any
hosts), each owning the rows whose id modulo k is its shard.

When more is due than the threads can send, the poller degrades by rule (_by_priority): the
deadline's cancels first, then steps waiting longer than AGING_SECONDS, then nearest deadline
first; no payment is queried sooner than POLL_INTERVAL after its previous query; and the lag is
exported (payments.backlog: `manage.py poller_status`, /payments/health/poller, a staff alert).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from functools import cache, partial

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections, router
from django.db.models import Case, DateTimeField, F, Min, Q, Value, When
from django.db.models.functions import Coalesce

from payments import clock
from payments.alipay.services import QUERY
from payments.backlog import active_payments, active_refunds, check_lag
from payments.cancelling import begin_cancel, send_cancel
from payments.conf import conf, later
from payments.journal import QueryJournal
from payments.leases import (
    LEASE_NAME,
    LEASE_SECONDS,
    acquire_lease,
    clear_kick,
    lease_is_held,
    lease_name,
    release_lease,
    renew_lease,
    shard_count,
    shard_of,
)
from payments.models import GatewayExchange, Payment, Refund
from payments.paying import refresh_from_gateway
from payments.refunds import send_refund
from payments.transitions import (
    claim_payment,
    claim_payments,
    claim_refund,
    transition_payment,
)
from payments.wakeup import kick_poller

# The lease and claim functions are used from here by commands and tests, as before they moved.
__all__ = [
    "LEASE_NAME",
    "LEASE_SECONDS",
    "acquire_any",
    "acquire_lease",
    "claim_due",
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
# Lease renewals (a write) at most this often while steps keep flowing: the lease lasts 15 s.
RENEW_EVERY = 1.0
# How often the flow of steps looks for due work while steps run (real seconds).
TICK = 0.05
# Claimed steps in flight per poller thread (running or queued for the next free thread).
QUEUED_PER_THREAD = 2
# A step overdue by this much ranks with the deadline's steps (_by_priority): nothing starves.
AGING_SECONDS = 30.0
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


def has_work(shard: int | None = None) -> bool:
    return active_payments(shard).exists() or active_refunds(shard).exists()


def overdue(grace_seconds: float) -> bool:
    """Is any step late by more than `grace_seconds` (a sign that no poller is running)?"""
    limit = clock.now() - timedelta(seconds=grace_seconds)
    return (
        active_payments().filter(next_action_at__lt=limit).exists()
        or active_refunds().filter(next_action_at__lt=limit).exists()
    )


def due_soon(shard: int | None = None) -> bool:
    """Is a step (of the shard) due within HORIZON_SECONDS? Later ones are the sweeper's to start:
    a refund held for Alipay's night blackout should not keep a poller awake for 90 minutes."""
    upcoming = next_due(shard)
    return upcoming is not None and upcoming <= later(HORIZON_SECONDS)


def next_due(shard: int | None = None):
    """The earliest next_action_at of any active row (of the shard), or None."""
    dues = [
        active_payments(shard).aggregate(m=Min("next_action_at"))["m"],
        active_refunds(shard).aggregate(m=Min("next_action_at"))["m"],
    ]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


def _by_priority(queryset, now=None):
    """Due payments in the order they are served when there is more work than capacity.

    First the deadline's steps (a pending payment past its deadline, a cancel to send or retry):
    a cancel that waits lets a buyer pay for what is being released. Then any step overdue by
    more than AGING_SECONDS, oldest first, so a payment with a far deadline (a QR) is still
    served under a steady flood of nearer ones: none starves. Then the queries, nearest deadline
    first, so a late query costs the payment with the most time left.
    """
    now = now or clock.now()
    aged = Q(next_action_at__lte=now - timedelta(seconds=AGING_SECONDS))
    return queryset.annotate(
        tier=Case(
            When(Q(state=Payment.State.CANCELLING) | Q(deadline_at__lte=now), then=Value(0)),
            When(aged, then=Value(1)),
            default=Value(2),
        ),
        rank=Case(
            When(aged, then=F("next_action_at")),
            default=Coalesce("deadline_at", "next_action_at"),
            output_field=DateTimeField(),
        ),
    ).order_by("tier", "rank", "pk")


def due_work(limit: int = BATCH, shard: int | None = None) -> tuple[list[Payment], list[int]]:
    """Due payments as full rows in priority order (one SELECT) and due refund ids."""
    now = clock.now()
    payments = list(_by_priority(active_payments(shard).filter(next_action_at__lte=now))[:limit])
    refunds = list(
        active_refunds(shard)
        .filter(next_action_at__lte=now)
        .order_by("next_action_at")
        .values_list("pk", flat=True)[:limit]
    )
    return payments, refunds


def claim_due(
    limit: int, shard: int | None = None, journal: QueryJournal | None = None
) -> list[tuple]:
    """Claim up to `limit` due steps (of the shard) in one batch: the jobs to run, in order.

    Deadline steps first, then refunds, then queries; each job is (function, argument). Three
    statements for the batch: the due ids in priority order, the claim, the claimed rows. The
    payments' quiet queries go to `journal` when one is given (payments.journal).
    """
    now = clock.now()
    claimed = claim_payments(_due_ids(limit, shard, now))
    urgent = [p for p in claimed if p.state == Payment.State.CANCELLING or _past_deadline(p)]
    first = {p.pk for p in urgent}
    rest = [p for p in claimed if p.pk not in first]
    room = limit - len(claimed)
    refunds = _due_refund_ids(room, shard, now) if room > 0 else []
    step = partial(_step, journal=journal) if journal is not None else _step
    return (
        [(step, p) for p in urgent]
        + [(step_refund, pk) for pk in refunds]
        + [(step, p) for p in rest]
    )


# The claim's reads are compiled once per shape (shard, shard count, limit) with this stand-in for
# "now" and bound to the real time per claim: compiling the ORM's query, ranks and all, cost the
# poller more CPU than running it, several times a second.
_NOW = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)


def _due_ids(limit: int, shard: int | None, now) -> list[int]:
    """Ids of the due payments (of the shard), most urgent first (_by_priority)."""
    sql, slots = _compiled("payments", limit, shard, shard_count(), router.db_for_read(Payment))
    return _run(sql, slots, now, Payment)


def _due_refund_ids(limit: int, shard: int | None, now) -> list[int]:
    """Ids of the due refunds (of the shard), longest due first."""
    sql, slots = _compiled("refunds", limit, shard, shard_count(), router.db_for_read(Refund))
    return _run(sql, slots, now, Refund)


@cache
def _compiled(kind: str, limit: int, shard: int | None, shards: int, alias: str):
    if kind == "payments":
        queryset = _by_priority(active_payments(shard).filter(next_action_at__lte=_NOW), _NOW)
    else:
        queryset = active_refunds(shard).filter(next_action_at__lte=_NOW).order_by("next_action_at")
    query = queryset.values_list("pk", flat=True)[:limit].query
    sql, params = query.get_compiler(using=alias).as_sql()
    connection = connections[alias]
    field = Payment._meta.get_field("next_action_at")
    aged = _NOW - timedelta(seconds=AGING_SECONDS)
    stand_ins = {
        field.get_db_prep_value(_NOW, connection): "now",
        field.get_db_prep_value(aged, connection): "aged",
    }
    slots = [stand_ins.get(value, value) if isinstance(value, str | datetime) else value
             for value in params]  # fmt: skip
    if "now" not in slots:
        raise RuntimeError(f"the due query of {kind} lost its time parameter")  # pragma: no cover
    return sql, slots


def _run(sql: str, slots: list, now, model) -> list[int]:
    connection = connections[router.db_for_read(model)]
    field = Payment._meta.get_field("next_action_at")
    times = {
        "now": field.get_db_prep_value(now, connection),
        "aged": field.get_db_prep_value(now - timedelta(seconds=AGING_SECONDS), connection),
    }
    params = [times[s] if isinstance(s, str) and s in times else s for s in slots]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _past_deadline(payment: Payment) -> bool:
    return payment.deadline_at is not None and clock.now() >= payment.deadline_at


# --- one step ---------------------------------------------------------------------------------
def advance_payment(payment: Payment, generation: int, journal: QueryJournal | None = None) -> None:
    """The claimed payment's next step: a query, the deadline's cancel, or a cancel retry.
    A query that changes nothing is written through `journal` when one is given."""
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
        if _past_deadline(payment):
            # One last query first, so that a buyer who confirmed since the previous one is
            # paid, not cancelled-and-refunded; but never sooner than POLL_INTERVAL after the
            # previous query (the deadline may cut an interval short): then the cancel goes
            # at once, and a trade paid meanwhile is reversed by it.
            if _queried_within(payment, conf("POLL_INTERVAL")):
                logger.info("payment %s: deadline right after a query; cancelling", payment.pk)
            else:
                payment = refresh_from_gateway(
                    payment, generation=generation, actor="system:deadline"
                )
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
            refresh_from_gateway(
                payment, generation=generation, actor="system:poller", journal=journal
            )
    elif payment.state == State.CANCELLING:
        send_cancel(payment, generation=generation, actor="system:poller")


def _queried_within(payment: Payment, seconds: float) -> bool:
    """Was the payment queried less than `seconds` ago? (Read once, at its deadline.)"""
    last = (
        GatewayExchange.objects.filter(payment_id=payment.pk, service=QUERY)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return last is not None and clock.now() < last + timedelta(seconds=seconds)


def step_payment(payment: Payment) -> bool:
    """Claim one due payment (as read) and take its step; False if someone else had it."""
    generation = claim_payment(payment)
    if generation is None:
        return False
    advance_payment(payment, generation)
    return True


def _step(payment: Payment, journal: QueryJournal | None = None) -> bool:
    advance_payment(payment, payment.chain_generation, journal)
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
        logger.exception("poller step %s(%s) failed", getattr(func, "func", func).__name__, item)
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
    """Claim one batch of due steps (of the shard) and run it to the end; the steps run."""
    jobs = claim_due(BATCH, shard)
    if pool is None or len(jobs) <= 1:
        return sum(_in_thread(func, item) for func, item in jobs)
    return sum(pool.map(lambda job: _in_thread(*job), jobs))


def run(window: float = WINDOW_SECONDS, *, wait_for_lease: float = 0.0) -> int:
    """Poll one shard while it has work, up to `window` seconds of clock time, holding its lease.

    Returns the number of steps run (0 when every shard's lease is held). The sweeper waits up
    to `wait_for_lease` for a lease that a killed poller left behind to expire.

    The steps flow through the thread pool without rounds: whenever a quarter of the threads
    is free, the most urgent due steps are claimed (one batch) and queued, so one slow reply
    holds one thread, not everyone's next query, and a deadline that comes is served by the
    next free thread.
    """
    holder = _holder()
    close_old_connections()
    clear_kick()
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
    threads = int(conf("POLLER_THREADS"))
    ends = later(window)
    steps = 0
    try:
        if threads > 1:
            steps = _flow(holder, shard, scope, threads, ends)
        else:
            steps = _rounds(holder, shard, scope, ends)
    finally:
        release_lease(holder, shard)
    # Work due soon (or while we were stopping) would wait for the sweeper: hand over.
    if due_soon(scope):
        kick_poller()
    return steps


def _idle_until_due(scope: int | None, ends) -> bool:
    """Nothing to run now: nap until the next step is due; False when the run should end."""
    upcoming = next_due(scope)
    if upcoming is None or upcoming >= ends:
        return False
    wait = (upcoming - clock.now()).total_seconds()
    clock.sleep(min(max(wait, 0.02), MAX_NAP))
    return True


def _rounds(holder: str, shard: int, scope: int | None, ends) -> int:
    steps = 0
    while clock.now() < ends:
        if not renew_lease(holder, shard):
            logger.warning("poller lease %s lost; stopping this run", shard)
            break
        steps += run_round(None, scope)
        check_lag()
        if not _idle_until_due(scope, ends):
            break
    return steps


def _flow(holder: str, shard: int, scope: int | None, threads: int, ends) -> int:
    pool = _Pool(threads)
    running: set = set()
    # Claims are batched: up to QUEUED_PER_THREAD steps per thread are in flight (running, or
    # waiting in the pool's queue for the next free thread), and the pool is refilled once a
    # thread's worth of them has finished (or any, after MAX_NAP; and after MAX_NAP only when the
    # last claim found nothing more due). The loop wakes on the tick, not on every finished step
    # (which cost a thread switch and a claim per step), and a thread that finishes takes the
    # next queued step at once instead of idling until the tick. A claim costs as much as several
    # queries, whatever its size: batches of a full pool's worth cut its share of a query.
    # The steps' quiet queries are written once per tick (payments.journal), before the loop
    # looks for due work again: until then their payments' next query is not known.
    journal = QueryJournal()
    depth = threads * QUEUED_PER_THREAD
    refill = threads
    refilled = clock.monotonic()
    drained = False
    renewed = clock.now()
    steps = 0
    try:
        while clock.now() < ends:
            if (clock.now() - renewed).total_seconds() >= RENEW_EVERY:
                if not renew_lease(holder, shard):
                    logger.warning("poller lease %s lost; stopping this run", shard)
                    break
                renewed = clock.now()
                check_lag()
            free = depth - len(running)
            waited = clock.monotonic() - refilled >= MAX_NAP
            if not running or (free >= refill and (not drained or waited)) or (free and waited):
                jobs = claim_due(free, scope, journal)
                running |= {pool.submit(_in_thread, *job) for job in jobs}
                refilled = clock.monotonic()
                drained = len(jobs) < free  # nothing more is due now: look again after MAX_NAP
            if running:
                done, running = wait(running, timeout=TICK)
                steps += sum(future.result() for future in done)
                journal.flush()
            elif not _idle_until_due(scope, ends):
                break
        done, _ = wait(running)
        steps += sum(future.result() for future in done)
    finally:
        pool.shutdown(wait=True)
        journal.flush()
    return steps
