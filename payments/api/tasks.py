"""django-q2 housekeeping of the partner API: expired idempotency keys are deleted daily, so the
table holds about one day of money-moving requests."""

from __future__ import annotations

import logging

from django_q.models import Schedule

from payments.api.idempotency import purge_expired

logger = logging.getLogger(__name__)

PURGE_SCHEDULE_NAME = "partner-api-purge-idempotency-keys"


def purge_expired_keys() -> int:
    deleted = purge_expired()
    logger.info("purged %d expired idempotency keys", deleted)
    return deleted


def ensure_schedules() -> None:
    """Create the daily purge schedule once (idempotent; load_demo and deploys call it)."""
    Schedule.objects.update_or_create(
        name=PURGE_SCHEDULE_NAME,
        defaults={
            "func": "payments.api.tasks.purge_expired_keys",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    )
