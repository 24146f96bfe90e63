"""django-q2 tasks of the payment lifecycle: thin, idempotent, safe to run twice or never.

Correctness does not rest on the broker (docs/stack.md: the Redis broker can lose a task, the ORM
broker can run one twice): every row carries its own `next_action_at`, the poller claims rows by
compare-and-set, and the sweeper schedule restarts the poller whenever anything is overdue.
"""

from __future__ import annotations

import logging

from django_q.models import Schedule

from payments import poller
from payments.backlog import check_lag
from payments.conf import conf
from payments.wakeup import kick_poller

# kick_poller lives in payments.wakeup (transitions kick too); callers still find it here.
__all__ = ["ensure_schedules", "kick_poller", "run_poller", "sweep"]

logger = logging.getLogger(__name__)

SWEEPER_NAME = "payments-sweeper"


def run_poller() -> int:
    return poller.run()


def sweep() -> int:
    """Every minute: resume whatever is overdue (a killed worker, a lost task, a lost reply).

    It also checks the lag, so that a backlog with no poller running at all alerts staff.
    """
    check_lag()
    if not poller.due_soon():
        return 0
    # Work is overdue only if no live poller took it: a lease still held is then most likely
    # a killed poller's, so wait for it to expire rather than for the next sweep.
    overdue = poller.overdue(conf("SWEEP_GRACE_SECONDS"))
    return poller.run(wait_for_lease=poller.LEASE_SECONDS + 1 if overdue else 0)


def ensure_schedules() -> None:
    """Create the sweeper schedule once (idempotent; load_demo and deploys call it)."""
    Schedule.objects.update_or_create(
        name=SWEEPER_NAME,
        defaults={
            "func": "payments.tasks.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
