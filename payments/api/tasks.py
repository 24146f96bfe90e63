"""django-q2 housekeeping of the partner API: expired idempotency keys are deleted daily, so the
table holds about one day of money-moving requests."""

from __future__ import annotations

import logging

from django_q.models import Schedule

from payments.api.idempotency import purge_expired
from payments.api.schedules import PURGE_SCHEDULE_NAME, write_schedules

logger = logging.getLogger(__name__)

__all__ = ["PURGE_SCHEDULE_NAME", "ensure_schedules", "purge_expired_keys"]


def purge_expired_keys() -> int:
    deleted = purge_expired()
    logger.info("purged %d expired idempotency keys", deleted)
    return deleted


def ensure_schedules() -> None:
    """Create the daily purge schedule (idempotent): what migration 0004 wrote, re-asserted by
    load_demo."""
    write_schedules(Schedule)
