"""Counting failed attempts, so that secrets cannot be found by guessing.

Used by the order look-up (order codes) and every staff sign-in (passwords: gate, box office,
supervisor approvals, admin). Failures are counted per key (a client address, an order code, an
account from one address) in fixed windows of the movable clock (tests move time instead of
waiting). Counting *failures* only means that someone who types their code or password correctly is
never slowed down; a guesser runs into the per-address limit, and a targeted attack on one code
(from many addresses) runs into the per-code limit. Sign-ins count an account per address, so that
a stranger's failures can never lock the owner out from their own desk.

The client address is `client_address()`, the one definition the whole site uses (DRF's is set to
agree through NUM_PROXIES): the peer, or with TRUSTED_PROXIES the address the proxies saw.

The counters live in Django's default cache: per process with the in-memory default, shared between
processes and hosts when the cache is Redis or the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from payments import clock

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ADDRESS = 10
MAX_FAILURES_PER_CODE = 5


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
    """Staff sign-ins: per account from this address, and (a high cap) per address."""
    account = username.strip().lower()
    return FailureThrottle(
        "sign-in",
        (
            ("addr", address, settings.STAFF_SIGN_IN_FAILURES_PER_ADDRESS),
            ("user-addr", f"{account}\n{address}", settings.STAFF_SIGN_IN_FAILURES_PER_ACCOUNT),
        ),
    )


def minutes_to_wait(seconds: int) -> int:
    """`retry_after()` as whole minutes for a message: rounded up, at least one."""
    return max((seconds + 59) // 60, 1)


def client_address(request) -> str:
    """The address of the client, as far as it can be trusted.

    Each of the TRUSTED_PROXIES proxies appends the address it was reached from to
    X-Forwarded-For, so the client is the TRUSTED_PROXIES-th entry from the end; anything to its
    left the client wrote itself. With no proxies (the default) the header is ignored: anyone can
    send one to reset their count. Matches DRF's get_ident() with NUM_PROXIES = TRUSTED_PROXIES.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    return hops[-min(proxies, len(hops))] or remote
