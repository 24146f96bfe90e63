"""The one clock of Entrada and its sandbox: nothing else calls datetime.now() or time.sleep().

Tests move it instead of waiting: `clock.freeze(at)` stops it, `clock.advance(seconds)` moves it,
and while frozen `clock.sleep(seconds)` advances instead of blocking, so a polling chain that waits
3 s between queries runs instantly and still records its 3 s steps. A subprocess (a real qcluster
in a crash test) follows the same moved clock when ENTRADA_CLOCK_FILE names a file holding an
offset in seconds.

It imports nothing from the project (only the standard library) and must stay that way: it is
the lowest module of the whole site, used by payments, the sandbox and ticketing alike, and it
lives in payments only because payments never imports ticketing. The protocol package
(payments.alipay) does not use it: it must stand alone.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_frozen_at: datetime | None = None
_offset = timedelta(0)


def _file_offset() -> timedelta:
    path = os.environ.get("ENTRADA_CLOCK_FILE")
    if not path:
        return timedelta(0)
    try:
        with open(path, encoding="ascii") as handle:
            return timedelta(seconds=float(handle.read().strip() or 0))
    except (OSError, ValueError):
        return timedelta(0)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    with _lock:
        if _frozen_at is not None:
            return _frozen_at
        offset = _offset
    return datetime.now(UTC) + offset + _file_offset()


def sleep(seconds: float) -> None:
    """Wait `seconds` of clock time: really, unless the clock is frozen (then it advances)."""
    if seconds <= 0:
        return
    with _lock:
        frozen = _frozen_at is not None
    if frozen:
        advance(seconds)
    else:
        time.sleep(seconds)


def monotonic() -> float:
    """Seconds for measuring durations (latency); not movable, never compared with now()."""
    return time.monotonic()


def freeze(at: datetime | None = None) -> datetime:
    global _frozen_at
    with _lock:
        _frozen_at = (at or datetime.now(UTC) + _offset).astimezone(UTC)
        return _frozen_at


def advance(seconds: float) -> datetime:
    """Move the clock forward, frozen or not."""
    global _frozen_at, _offset
    with _lock:
        if _frozen_at is not None:
            _frozen_at += timedelta(seconds=seconds)
        else:
            _offset += timedelta(seconds=seconds)
    return now()


def reset() -> None:
    """Back to real time (tests call this on teardown)."""
    global _frozen_at, _offset
    with _lock:
        _frozen_at = None
        _offset = timedelta(0)


def is_frozen() -> bool:
    return _frozen_at is not None
