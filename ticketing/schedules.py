"""The django-q2 Schedules of ticketing, as plain data: one source for migration 0010 (which
creates them wherever the database is migrated, production included) and for
tasks.ensure_schedules (load_demo re-asserts them).

Imports nothing, not even django_q, so that a migration can load it without the app registry:
the schedule types are django_q's Schedule.MINUTES ("I") and Schedule.DAILY ("D").
"""

from __future__ import annotations

SWEEPER_NAME = "ticketing-sweep"
DAILY_NAME = "ticketing-daily"

SCHEDULES: dict[str, dict[str, object]] = {
    SWEEPER_NAME: {
        "func": "ticketing.tasks.sweep",
        "schedule_type": "I",
        "minutes": 1,
        "repeats": -1,
    },
    DAILY_NAME: {"func": "ticketing.tasks.daily", "schedule_type": "D", "repeats": -1},
}


def write_schedules(schedule_model) -> None:
    """Create or correct each schedule by name (idempotent); the model may be a migration's."""
    for name, defaults in SCHEDULES.items():
        schedule_model.objects.update_or_create(name=name, defaults=defaults)


def remove_schedules(schedule_model) -> None:
    schedule_model.objects.filter(name__in=list(SCHEDULES)).delete()
