"""The pollers' backlog: which steps are due, how late the oldest is, who is polling, and the
staff alert when the lag passes PAYMENTS["POLLER_ALERT_SECONDS"].

Below the poller: `manage.py poller_status`, the health endpoint and the sweeper read the lag
without running a poller. A step being run is not counted: its claim moved `next_action_at`
ahead, so only steps nobody has taken are due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min

from payments import clock
from payments.alerts import alert_poller_lag
from payments.conf import conf
from payments.leases import lease_name, shard_count
from payments.models import Payment, Refund, WorkerLease

logger = logging.getLogger(__name__)

# Present while a lag incident is open: its staff alert went out, and is not repeated until the
# lag has fallen under half the threshold (the incident closed) and risen past it again.
INCIDENT_NAME = "payments-poller-lag"


def share(queryset, shard: int | None):
    """Rows of one shard (id modulo the shard count); all rows for shard None."""
    count = shard_count()
    if shard is None or count == 1:
        return queryset
    return queryset.annotate(poller_shard=F("pk") % count).filter(poller_shard=shard)


def active_payments(shard: int | None = None):
    return share(
        Payment.objects.filter(state__in=Payment.ACTIVE_STATES, next_action_at__isnull=False),
        shard,
    )


def active_refunds(shard: int | None = None):
    return share(
        Refund.objects.filter(state=Refund.State.REQUESTED, next_action_at__isnull=False), shard
    )


@dataclass(frozen=True)
class ShardLag:
    shard: int
    due: int  # steps due now that no poller has taken
    oldest_due_at: datetime | None
    past_deadline: int  # in-flight payments whose deadline passed and whose cancel has not begun
    holder: str  # the lease holder (host:pid:token), "" when nobody polls this shard
    lease_expires_at: datetime | None

    def overdue_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due_at).total_seconds()) if self.oldest_due_at else 0.0


@dataclass(frozen=True)
class PollerLag:
    at: datetime
    shards: list[ShardLag]
    alert_after: float

    @property
    def due(self) -> int:
        return sum(s.due for s in self.shards)

    @property
    def past_deadline(self) -> int:
        return sum(s.past_deadline for s in self.shards)

    @property
    def oldest_overdue(self) -> float:
        return max((s.overdue_seconds(self.at) for s in self.shards), default=0.0)

    @property
    def lagging(self) -> bool:
        return self.oldest_overdue > self.alert_after

    def public(self) -> dict:
        """Counts and ages only: what a public health check may show."""
        return {
            "status": "lagging" if self.lagging else "ok",
            "due": self.due,
            "oldest_overdue_seconds": round(self.oldest_overdue, 1),
            "past_deadline": self.past_deadline,
            "alert_after_seconds": self.alert_after,
            "shards": [
                {
                    "shard": s.shard,
                    "due": s.due,
                    "oldest_overdue_seconds": round(s.overdue_seconds(self.at), 1),
                    "past_deadline": s.past_deadline,
                    "polling": bool(s.holder),
                }
                for s in self.shards
            ],
        }


def _due(queryset, now: datetime) -> tuple[int, datetime | None]:
    row = queryset.filter(next_action_at__lte=now).aggregate(n=Count("pk"), m=Min("next_action_at"))
    return row["n"], row["m"]


def poller_lag() -> PollerLag:
    """The backlog per shard: a few aggregate queries per shard, no rows loaded."""
    now = clock.now()
    leases = {
        lease.name: lease
        for lease in WorkerLease.objects.filter(
            name__in=[lease_name(s) for s in range(shard_count())], expires_at__gt=now
        )
    }
    shards = []
    for shard in range(shard_count()):
        scope = shard if shard_count() > 1 else None
        payments, oldest_payment = _due(active_payments(scope), now)
        refunds, oldest_refund = _due(active_refunds(scope), now)
        late = (
            share(Payment.objects.filter(state__in=Payment.IN_FLIGHT_STATES), scope)
            .filter(deadline_at__lte=now)
            .count()
        )
        oldest = min((d for d in (oldest_payment, oldest_refund) if d is not None), default=None)
        lease = leases.get(lease_name(shard))
        shards.append(
            ShardLag(
                shard=shard,
                due=payments + refunds,
                oldest_due_at=oldest,
                past_deadline=late,
                holder=lease.holder if lease else "",
                lease_expires_at=lease.expires_at if lease else None,
            )
        )
    return PollerLag(at=now, shards=shards, alert_after=float(conf("POLLER_ALERT_SECONDS")))


def oldest_overdue() -> float:
    """Seconds since the oldest step nobody has taken was due (all shards); 0 when none."""
    now = clock.now()
    dues = [
        active_payments().filter(next_action_at__lte=now).aggregate(m=Min("next_action_at"))["m"],
        active_refunds().filter(next_action_at__lte=now).aggregate(m=Min("next_action_at"))["m"],
    ]
    dues = [d for d in dues if d is not None]
    return (now - min(dues)).total_seconds() if dues else 0.0


def check_lag() -> bool:
    """Alert staff once when the lag passes the threshold; close the incident when it falls
    under half of it. Pollers call this about once a second, the sweeper every minute (so a
    backlog with no poller at all is noticed too). Returns whether an incident is open."""
    threshold = float(conf("POLLER_ALERT_SECONDS"))
    lag = oldest_overdue()
    if lag > threshold:
        try:
            with transaction.atomic():
                WorkerLease.objects.create(
                    name=INCIDENT_NAME,
                    holder="poller lag alert sent",
                    expires_at=clock.now() - timedelta(seconds=lag),
                )
        except IntegrityError:
            return True  # already open: alerted once
        lagging = poller_lag()
        alert_poller_lag(
            oldest_overdue=lag,
            due=lagging.due,
            past_deadline=lagging.past_deadline,
            threshold=threshold,
        )
        return True
    incident = WorkerLease.objects.filter(name=INCIDENT_NAME).exists()
    if incident and lag < threshold / 2:
        WorkerLease.objects.filter(name=INCIDENT_NAME).delete()
        logger.warning("payments poller back in time: oldest overdue step %.1f s", lag)
        return False
    return incident
