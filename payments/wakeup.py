"""Waking the poller: the one way any payments code asks for a poller to run soon.

Work that becomes due (a payment now pending, a cancel or refund to retry) is already recorded
in its row's `next_action_at`; waking the poller only makes it run sooner than the sweeper
would. The task is queued by its dotted path, so this module needs nothing above it.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django_q.tasks import async_task

from payments.leases import clear_kick, lease_is_held, take_kick

logger = logging.getLogger(__name__)

RUN_POLLER_TASK = "payments.tasks.run_poller"


def kick_poller() -> None:
    """Make sure a poller runs soon (queued; a no-op when one already holds the lease, or
    when a poller task is queued and not started yet). Its result is not saved: a poller that
    found nothing to do is no news, and saving each one cost the cluster's monitor more than
    the polling (bench/polling.py --pinned)."""
    if lease_is_held() or not take_kick():
        return
    try:
        async_task(RUN_POLLER_TASK, group="payments-poller", save=False)
    except Exception:
        # The broker (Redis) is out of reach. The work is already in its row's next_action_at and
        # the sweeper starts a poller within a minute; a request that has just changed a payment
        # must not fail for want of a wake-up (its client would retry what already happened).
        clear_kick()  # nothing was queued: the next kick may try again
        logger.warning("could not queue the poller; the sweeper will start it", exc_info=True)


def kick_poller_after_commit() -> None:
    """Kick the poller once the current transaction commits (now, outside one): a poller
    started earlier would not see the rows this transaction is writing."""
    transaction.on_commit(kick_poller)
