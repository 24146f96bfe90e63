"""Long-poll waits on payments: who waits for which payment, and what wakes them.

A register long-polls `GET /api/v1/payments/{id}/?wait=N` while its buyer types a PIN. Holding a
web thread per wait let a dozen registers starve the shop, so a wait is an asyncio event in the
web process (memory, not a place in a thread pool; Django's ASGI handler does keep one idle
thread per open request for its synchronous parts, which limits nothing), and two things per
process wake it:

- a change announced by the code that made it (`announce_change`, on commit of a transition):
  published on Redis where REDIS_URL is set, and heard by one listener thread per process; the
  process that made the change wakes its own waiters directly;
- one watcher thread per process that reads the state of every awaited payment in a single query
  every WAIT_CHECK_INTERVAL seconds (slower while the Redis listener is connected, as a safety
  net for a lost message), and wakes the waiters whose payment left the state they know.

A new wait is not checked by a query of its own: the caller has just read the payment, and a
change between that read and the wait's start (which no announcement reaches) is found by the
watcher's next check, which comes within WAIT_CHECK_INTERVAL whenever a wait is new, Redis or not.
So 200 registers re-sending their waits together cost one query, not 200.

Without Redis (the embedded default) a change made in another process (the task cluster) reaches
its waiter within one check interval; with Redis at once. Both threads run only while needed and
cost one database query per interval whatever the number of waiters.

What a client may hold is bounded (settings PAYMENTS WAITS_PER_TERMINAL and WAITS_PER_PROCESS,
counted in each web process): past either cap a wait is refused at once, never queued, and the
API answers the current state with Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from payments.models import Payment

logger = logging.getLogger(__name__)

DEFAULTS = {
    "WAITS_PER_TERMINAL": 4,
    "WAITS_PER_PROCESS": 1000,
    "WAIT_CHECK_INTERVAL": 0.15,
    # With the Redis listener connected the database check is only a safety net.
    "WAIT_SAFETY_CHECK_INTERVAL": 2.0,
    "WAIT_RETRY_AFTER": 2,
    # A wait that sees no change ends after (1 - WAIT_SPREAD..1) x its seconds, at random: the
    # registers that started together (a morning queue, a restart) then ask again spread out,
    # not all in the same instant.
    "WAIT_SPREAD": 0.1,
}
# SQLite allows 32766 parameters, older builds 999: stay well below either.
_CHUNK = 500


def conf(name: str):
    return getattr(settings, "PAYMENTS", {}).get(name, DEFAULTS[name])


class WaitOutcome(enum.Enum):
    CHANGED = "changed"
    TIMED_OUT = "timed_out"
    REFUSED = "refused"  # a cap was reached: answer now, with Retry-After


# What a database check saw of a changed payment: its state, and the waiter's `read` of it.
Seen = tuple[str, object]


@dataclass(eq=False)
class Waiter:
    payment_id: int
    state: str
    holder: str
    # Called from any thread, with what the watcher read when it found the change (else None).
    wake: Callable[[Seen | None], None] = field(repr=False)
    read: Callable[[Payment], object] | None = field(default=None, repr=False)


class WaitHub:
    """The waits of one process and the two threads that wake them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting = threading.Condition(self._lock)
        self._by_payment: dict[int, set[Waiter]] = {}
        self._per_holder: Counter[str] = Counter()
        self._count = 0
        # Waits no database check has seen yet (see the module's docstring).
        self._unchecked = 0
        # Waits that ended with no change and want their payment as it is now (refresh()).
        self._refresh: set[Waiter] = set()
        self._watcher: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self.redis_listening = False

    # --- holding and releasing ---------------------------------------------------------------
    def acquire(
        self,
        payment_id: int,
        state: str,
        holder: str,
        wake: Callable[[Seen | None], None],
        read: Callable[[Payment], object] | None = None,
    ) -> Waiter | None:
        """Register a wait, or None when the holder's or the process's cap is reached."""
        with self._lock:
            if self._count >= conf("WAITS_PER_PROCESS"):
                return None
            if holder and self._per_holder[holder] >= conf("WAITS_PER_TERMINAL"):
                return None
            waiter = Waiter(payment_id, state, holder, wake, read)
            self._by_payment.setdefault(payment_id, set()).add(waiter)
            self._per_holder[holder] += 1
            self._count += 1
            self._unchecked += 1
            self._start_threads()
            self._waiting.notify_all()
        return waiter

    def release(self, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._by_payment.get(waiter.payment_id)
            if waiters is None or waiter not in waiters:
                return
            waiters.discard(waiter)
            if not waiters:
                del self._by_payment[waiter.payment_id]
            self._per_holder[waiter.holder] -= 1
            if self._per_holder[waiter.holder] <= 0:
                del self._per_holder[waiter.holder]
            self._count -= 1

    def held(self, holder: str | None = None) -> int:
        """Waits held now, by one holder or in all (for tests and the benchmark)."""
        with self._lock:
            return self._count if holder is None else self._per_holder.get(holder, 0)

    # --- waking ------------------------------------------------------------------------------
    def refresh(self, waiter: Waiter) -> None:
        """Have the next check read the waiter's payment as it is now and hand it over, changed
        or not (a wait that timed out answers with it)."""
        with self._lock:
            self._refresh.add(waiter)

    def wake_payments(self, payment_ids: Iterable[int]) -> None:
        with self._lock:
            woken = [w for pk in payment_ids for w in self._by_payment.get(pk, ())]
        for waiter in woken:
            waiter.wake(None)

    def check_database(self) -> None:
        """One query for every awaited payment; wake those no longer in their waiter's state.

        The changed payments, and those of the waits that asked for a refresh, are read whole in
        one more query, and each waiter is handed its `read` of its payment: a woken or timed-out
        wait then answers without a trip to a thread, a connection and a query of its own.
        """
        with self._lock:
            known = {pk: {w.state for w in ws} for pk, ws in self._by_payment.items()}
            refresh = {w for w in self._refresh if w in self._by_payment.get(w.payment_id, ())}
            self._refresh.clear()
            self._unchecked = 0
        if not known:
            return
        ids = list(known)
        current: dict[int, str] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            current.update(Payment.objects.filter(pk__in=chunk).values_list("pk", "state"))
        with self._lock:
            woken = [
                w
                for pk, ws in self._by_payment.items()
                if pk in current
                for w in ws
                if w.state != current[pk]
            ]
        refresh -= set(woken)
        wanted = list({w.payment_id for w in [*woken, *refresh]})
        rows: dict[int, Payment] = {}
        for start in range(0, len(wanted), _CHUNK):
            rows.update(
                (p.pk, p) for p in Payment.objects.filter(pk__in=wanted[start : start + _CHUNK])
            )
        reads: dict[tuple[int, object], object] = {}  # one read per payment and kind of read
        for waiter in [*woken, *refresh]:
            payment = rows.get(waiter.payment_id)
            seen = None
            if payment is not None and (waiter in refresh or payment.state != waiter.state):
                try:
                    key = (payment.pk, waiter.read)
                    if key not in reads:
                        reads[key] = waiter.read(payment) if waiter.read else None
                    seen = (payment.state, reads[key])
                except Exception:
                    # The waiter reads the payment itself instead.
                    logger.exception("reading changed payment %s failed", payment.pk)
            waiter.wake(seen)

    # --- the two threads ---------------------------------------------------------------------
    def _start_threads(self) -> None:
        """Called with the lock held, at the first wait of the process."""
        if self._watcher is None:
            self._watcher = threading.Thread(
                target=self._watch, name="payment-wait-watcher", daemon=True
            )
            self._watcher.start()
        if self._listener is None and redis_url():
            self._listener = threading.Thread(
                target=self._listen, name="payment-wait-listener", daemon=True
            )
            self._listener.start()

    def _watch(self) -> None:
        last_check = 0.0
        while True:
            with self._lock:
                idle = not self._count
            if idle:
                # Nobody waits: this thread costs nothing, not even a database connection.
                connection.close()
                with self._lock:
                    while not self._count:
                        self._waiting.wait()
            time.sleep(conf("WAIT_CHECK_INTERVAL"))  # real time: paces database reads
            with self._lock:
                # With Redis, changes arrive by pub/sub: check only for new waits (see the
                # module's docstring) and now and then as a safety net for a lost message.
                due = (
                    not self.redis_listening
                    or self._unchecked
                    or self._refresh
                    or time.monotonic() - last_check >= conf("WAIT_SAFETY_CHECK_INTERVAL")
                )
            if not due:
                continue
            last_check = time.monotonic()
            try:
                self.check_database()
            except Exception:
                # A dropped database connection: the next round reconnects.
                logger.exception("checking awaited payments failed")
                connection.close()

    def _listen(self) -> None:
        import redis  # optional: installed and used only where REDIS_URL is set

        backoff = 0.5
        while True:
            client = None
            try:
                client = redis.Redis.from_url(redis_url(), socket_keepalive=True)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel())
                self.redis_listening = True
                backoff = 0.5
                for message in pubsub.listen():
                    try:
                        self.wake_payments([int(message["data"])])
                    except (TypeError, ValueError):
                        logger.warning("ignored a payment change message %r", message["data"])
            except Exception:
                logger.warning("payment change listener lost Redis; retrying", exc_info=True)
            finally:
                self.redis_listening = False
                if client is not None:
                    client.close()
            time.sleep(backoff)  # real time: reconnect pacing
            backoff = min(backoff * 2, 10.0)


hub = WaitHub()


def redis_url() -> str:
    return getattr(settings, "REDIS_URL", "")


def channel() -> str:
    """Pub/sub ignores Redis database numbers: the number goes into the channel's name instead,
    so two sites on one Redis (or a test on its own database number) never hear each other."""
    database = urlparse(redis_url()).path.lstrip("/") or "0"
    return f"entrada:{database}:payment-changed"


_publisher = None
_publisher_lock = threading.Lock()


def announce_change(payment_id: int) -> None:
    """A payment's state changed (called on commit): wake its waiters here and everywhere."""
    hub.wake_payments([payment_id])
    if not redis_url():
        return
    global _publisher
    try:
        with _publisher_lock:
            if _publisher is None:
                import redis  # optional: installed and used only where REDIS_URL is set

                _publisher = redis.Redis.from_url(
                    redis_url(), socket_timeout=2, socket_connect_timeout=2
                )
        _publisher.publish(channel(), str(payment_id))
    except Exception:
        # The watchers' database check finds the change anyway, a little later.
        logger.warning("could not publish the change of payment %s", payment_id, exc_info=True)


def spread(seconds: float) -> float:
    """A wait's length: `seconds`, less up to WAIT_SPREAD of it at random (see DEFAULTS)."""
    return seconds * (1.0 - conf("WAIT_SPREAD") * random.random())


def _current_state(payment_id: int) -> str | None:
    return Payment.objects.filter(pk=payment_id).values_list("state", flat=True).first()


def _current(payment_id: int, state: str, read: Callable[[Payment], object] | None):
    """The payment's state, and `read(payment)` when it left `state`: one trip to a thread."""
    if read is None:
        return _current_state(payment_id), None
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.state == state:
        return (payment.state if payment else None), None
    return payment.state, read(payment)


# Longest a timed-out wait waits for the watcher's read (one check interval, normally).
REFRESH_WAIT = 5.0


@dataclass(frozen=True)
class WaitResult:
    outcome: WaitOutcome
    # What `read` returned for the payment at the end (with a `read` only; None when it could
    # not be read for the caller: it reads the payment itself then).
    value: object = None


async def wait_for_change(
    payment_id: int,
    *,
    state: str,
    seconds: float,
    holder: str = "",
    read: Callable[[Payment], object] | None = None,
) -> WaitResult:
    """Await until the payment leaves `state`, `seconds` pass, or the wait is refused (a cap).

    The caller has just read the payment in `state`; a change since is found by the watcher's
    next check (see the module's docstring), so a wait costs no query until it is woken. `read`,
    if given, is applied to the payment as it is at the end (the API serializes it) and returned
    as the result's value: by the watcher, in its batched read, when its check found the change
    or the wait timed out; otherwise in the one trip to a thread that confirms an announced
    change. Cancelled (the client went away), the wait releases its place at once like any other
    ending.
    """
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    found: list[Seen] = []  # what the watcher read, when it was the one to wake this wait

    def deliver(seen: Seen | None) -> None:
        if seen is not None:
            found.append(seen)
        event.set()

    def wake(seen: Seen | None) -> None:
        # The request's loop may be closed already (its client went away): nothing to wake.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, seen)

    waiter = hub.acquire(payment_id, state, holder, wake, read)
    if waiter is None:
        return WaitResult(WaitOutcome.REFUSED)
    look = sync_to_async(_current)
    try:
        ends = loop.time() + max(0.0, float(seconds))
        while True:
            remaining = ends - loop.time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                break
            event.clear()
            if found:
                current, value = found[-1]
                found.clear()
            else:
                current, value = await look(payment_id, state, read)
            if current != state:
                return WaitResult(WaitOutcome.CHANGED, value)
        if read is None:
            return WaitResult(WaitOutcome.TIMED_OUT)
        # No change in time: the payment as it is now, read by the watcher with the others due.
        hub.refresh(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), REFRESH_WAIT)
        if not found:  # the watcher could not read it: the caller reads it itself
            return WaitResult(WaitOutcome.TIMED_OUT)
        current, value = found[-1]
        changed = WaitOutcome.CHANGED if current != state else WaitOutcome.TIMED_OUT
        return WaitResult(changed, value)
    finally:
        hub.release(waiter)


def wait_for_change_blocking(payment_id: int, *, state: str, seconds: float) -> WaitOutcome:
    """The same wait for synchronous callers (commands, tests): it holds the calling thread."""
    event = threading.Event()
    waiter = hub.acquire(payment_id, state, "", lambda seen: event.set())
    if waiter is None:
        return WaitOutcome.REFUSED
    try:
        ends = time.monotonic() + max(0.0, float(seconds))
        while _current_state(payment_id) == state:
            remaining = ends - time.monotonic()
            if remaining <= 0 or not event.wait(remaining):
                return WaitOutcome.TIMED_OUT
            event.clear()
        return WaitOutcome.CHANGED
    finally:
        hub.release(waiter)
