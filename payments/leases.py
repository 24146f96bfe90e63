"""The poller's leases: one expiring WorkerLease row per shard, held by the poller polling it.

Below the poller and the wake-up: asking whether a poller runs (before queueing another) needs
only these rows, not the poller itself.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction

from payments import clock
from payments.conf import conf, later
from payments.models import WorkerLease

LEASE_NAME = "payments-poller"
LEASE_SECONDS = 15.0
# A queued poller task blocks further kicks this long at most (a lost task, a full queue).
KICK_NAME = "payments-poller-kick"
KICK_SECONDS = 5.0


def shard_count() -> int:
    """PAYMENTS["POLLER_SHARDS"]: how many pollers may run at once, each on its share of rows."""
    return max(1, int(conf("POLLER_SHARDS")))


def shard_of(pk: int) -> int:
    return pk % shard_count()


def lease_name(shard: int) -> str:
    return f"{LEASE_NAME}-{shard}"


def acquire_lease(holder: str, shard: int = 0) -> bool:
    return _take(lease_name(shard), holder, LEASE_SECONDS)


def _take(name: str, holder: str, seconds: float) -> bool:
    """Take the named lease if it is free or expired (compare-and-set, or the insert's unique
    name when the row does not exist yet)."""
    now = clock.now()
    expires = now + timedelta(seconds=seconds)
    taken = WorkerLease.objects.filter(name=name, expires_at__lte=now).update(
        holder=holder, expires_at=expires
    )
    if taken:
        return True
    if WorkerLease.objects.filter(name=name).exists():
        return False
    try:
        with transaction.atomic():
            WorkerLease.objects.create(name=name, holder=holder, expires_at=expires)
        return True
    except IntegrityError:
        return False


def take_kick() -> bool:
    """May a poller task be queued now? Only one waits in the queue at a time: without this,
    every payment that goes pending while a shard has no poller queued one more task, and the
    cluster spent more on starting pollers that found every lease taken than on polling."""
    return _take(KICK_NAME, "queued", KICK_SECONDS)


def clear_kick() -> None:
    """A queued poller started: the next kick may queue another (for another shard)."""
    WorkerLease.objects.filter(name=KICK_NAME, expires_at__gt=clock.now()).update(
        expires_at=clock.now()
    )


def renew_lease(holder: str, shard: int = 0) -> bool:
    expires = later(LEASE_SECONDS)
    renewed = WorkerLease.objects.filter(name=lease_name(shard), holder=holder).update(
        expires_at=expires
    )
    return renewed == 1


def release_lease(holder: str, shard: int = 0) -> None:
    WorkerLease.objects.filter(name=lease_name(shard), holder=holder).update(
        holder="", expires_at=clock.now()
    )


def lease_is_held(shard: int | None = None) -> bool:
    """Is this shard's poller running (None: are all shards' pollers running)?"""
    names = [lease_name(s) for s in range(shard_count())] if shard is None else [lease_name(shard)]
    held = WorkerLease.objects.filter(name__in=names, expires_at__gt=clock.now()).count()
    return held == len(names)
