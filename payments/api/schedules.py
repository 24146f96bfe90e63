"""The partner API's django-q2 Schedule, as plain data: one source for migration 0004 (which
creates it wherever the database is migrated, production included) and for
tasks.ensure_schedules (load_demo re-asserts it).

Imports nothing, not even django_q, so that a migration can load it without the app registry:
the schedule type is django_q's Schedule.DAILY ("D").
"""

from __future__ import annotations

PURGE_SCHEDULE_NAME = "partner-api-purge-idempotency-keys"

SCHEDULES: dict[str, dict[str, object]] = {
    PURGE_SCHEDULE_NAME: {
        "func": "payments.api.tasks.purge_expired_keys",
        "schedule_type": "D",
        "repeats": -1,
    },
}


def write_schedules(schedule_model) -> None:
    """Create or correct each schedule by name (idempotent); the model may be a migration's."""
    for name, defaults in SCHEDULES.items():
        schedule_model.objects.update_or_create(name=name, defaults=defaults)


def remove_schedules(schedule_model) -> None:
    schedule_model.objects.filter(name__in=list(SCHEDULES)).delete()
