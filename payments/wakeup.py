"""Waking the poller: the one way any payments code asks for a poller to run soon.

Work that becomes due (a payment now pending, a cancel or refund to retry) is already recorded
in its row's `next_action_at`; waking the poller only makes it run sooner than the sweeper
would. The task is queued by its dotted path, so this module needs nothing above it.
"""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task

from payments.leases import lease_is_held, take_kick

RUN_POLLER_TASK = "payments.tasks.run_poller"


def kick_poller() -> None:
    """Make sure a poller runs soon (queued; a no-op when one already holds the lease, or
    when a poller task is queued and not started yet). Its result is not saved: a poller that
    found nothing to do is no news, and saving each one cost the cluster's monitor more than
    the polling (bench/polling.py --pinned)."""
    if lease_is_held() or not take_kick():
        return
    async_task(RUN_POLLER_TASK, group="payments-poller", save=False)


def kick_poller_after_commit() -> None:
    """Kick the poller once the current transaction commits (now, outside one): a poller
    started earlier would not see the rows this transaction is writing."""
    transaction.on_commit(kick_poller)
