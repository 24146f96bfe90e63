"""Attempt counting for the order look-up, so order codes cannot be found by guessing.

Failed look-ups are counted per client address and per order code in fixed windows of the movable
clock (tests move time instead of waiting). Counting *failures* only means a buyer who types their
code and e-mail correctly is never slowed down; a guesser runs into the per-address limit, and a
targeted attack on one code (from many addresses) runs into the per-code limit.

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


def _bucket() -> tuple[int, int]:
    """(window number, seconds until it ends)."""
    now = int(clock.now().timestamp())
    return now // WINDOW_SECONDS, WINDOW_SECONDS - now % WINDOW_SECONDS


def _key(kind: str, value: str, window: int) -> str:
    # Hashed: cache keys must be short and plain, and an address or code should not sit in a cache.
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]
    return f"shop-lookup:{kind}:{digest}:{window}"


@dataclass(frozen=True)
class LookupThrottle:
    address: str
    code: str

    def _keys(self, window: int) -> list[tuple[str, int]]:
        return [
            (_key("addr", self.address, window), MAX_FAILURES_PER_ADDRESS),
            (_key("code", self.code.upper(), window), MAX_FAILURES_PER_CODE),
        ]

    def retry_after(self) -> int:
        """Seconds to wait before trying again; 0 when a look-up may be attempted now."""
        window, remaining = _bucket()
        counts = cache.get_many([key for key, _limit in self._keys(window)])
        for key, limit in self._keys(window):
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


def client_address(request) -> str:
    """The peer address. X-Forwarded-For is not trusted: anyone can send it to reset their count."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"
