"""Counting failed attempts, so that secrets cannot be found by guessing.

Used by the order look-up (order codes) and the gate staff sign-in (passwords). Failures are counted
per key (a client address, an order code, a user name) in fixed windows of the movable clock (tests
move time instead of waiting). Counting *failures* only means that someone who types their code or
password correctly is never slowed down; a guesser runs into the per-address limit, and a targeted
attack on one code or account (from many addresses) runs into the per-target limit.

The counters live in Django's default cache: per process with the in-memory default, shared between
processes and hosts when the cache is Redis or the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache

from payments import clock

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ADDRESS = 10
MAX_FAILURES_PER_CODE = 5
MAX_FAILURES_PER_ACCOUNT = 5


def _bucket() -> tuple[int, int]:
    """(window number, seconds until it ends)."""
    now = int(clock.now().timestamp())
    return now // WINDOW_SECONDS, WINDOW_SECONDS - now % WINDOW_SECONDS


def _key(scope: str, kind: str, value: str, window: int) -> str:
    # Hashed: cache keys must be short and plain, and an address or code should not sit in a cache.
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]
    return f"{scope}:{kind}:{digest}:{window}"


@dataclass(frozen=True)
class FailureThrottle:
    """Failures of one kind of attempt, counted under each (kind, value, limit) of `limits`."""

    scope: str
    limits: tuple[tuple[str, str, int], ...]

    def _keys(self, window: int) -> list[tuple[str, int]]:
        return [
            (_key(self.scope, kind, value, window), limit) for kind, value, limit in self.limits
        ]

    def retry_after(self) -> int:
        """Seconds to wait before trying again; 0 when an attempt may be made now."""
        window, remaining = _bucket()
        keys = self._keys(window)
        counts = cache.get_many([key for key, _limit in keys])
        for key, limit in keys:
            if counts.get(key, 0) >= limit:
                return remaining
        return 0

    def record_failure(self) -> None:
        window, remaining = _bucket()
        for key, _limit in self._keys(window):
            # add() creates the counter atomically if missing; incr() is atomic on real caches.
            cache.add(key, 0, timeout=remaining + 5)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr: start again
                cache.set(key, 1, timeout=remaining + 5)


def lookup_throttle(address: str, code: str) -> FailureThrottle:
    """Order look-ups: per client address and per order code."""
    return FailureThrottle(
        "shop-lookup",
        (
            ("addr", address, MAX_FAILURES_PER_ADDRESS),
            ("code", code.upper(), MAX_FAILURES_PER_CODE),
        ),
    )


def sign_in_throttle(address: str, username: str) -> FailureThrottle:
    """Staff sign-ins: per client address and per account."""
    return FailureThrottle(
        "sign-in",
        (
            ("addr", address, MAX_FAILURES_PER_ADDRESS),
            ("user", username.strip().lower(), MAX_FAILURES_PER_ACCOUNT),
        ),
    )


def minutes_to_wait(seconds: int) -> int:
    """`retry_after()` as whole minutes for a message: rounded up, at least one."""
    return max((seconds + 59) // 60, 1)


def client_address(request) -> str:
    """The peer address. X-Forwarded-For is not trusted: anyone can send it to reset their count."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"
