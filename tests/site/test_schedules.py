"""The django-q2 Schedules come from migrations, so production (where load_demo never runs) has
every periodic job; load_demo's ensure_schedules writes the same definitions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_q.models import Schedule

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED = {
    "ticketing-sweep": ("ticketing.tasks.sweep", Schedule.MINUTES, 1),
    "ticketing-daily": ("ticketing.tasks.daily", Schedule.DAILY, None),
    "partner-api-purge-idempotency-keys": (
        "payments.api.tasks.purge_expired_keys",
        Schedule.DAILY,
        None,
    ),
}
MIGRATIONS = (("ticketing", "0010_schedules"), ("partner_api", "0004_schedules"))


def _schedules() -> dict[str, tuple]:
    return {s.name: (s.func, s.schedule_type, s.minutes) for s in Schedule.objects.all()}


def _migrate(forwards: bool) -> None:
    """Run the schedule migrations' operations as `migrate` does, with their historical models.

    The test database was migrated before the run, but transactional tests flush every table
    between tests, so the rows the migrations wrote are not there to look at any more.
    """
    loader = MigrationExecutor(connection).loader
    for key in MIGRATIONS:
        migration = loader.get_migration(*key)
        with connection.schema_editor(atomic=migration.atomic) as editor:
            if forwards:
                migration.apply(loader.project_state(key, at_end=False), editor)
            else:
                migration.unapply(loader.project_state(key, at_end=True), editor)


def test_migrations_create_the_periodic_jobs_idempotently_and_remove_them_on_reverse():
    Schedule.objects.all().delete()
    # A schedule edited by hand since is put back as defined.
    Schedule.objects.create(name="ticketing-daily", func="old.func", schedule_type=Schedule.HOURLY)
    _migrate(forwards=True)
    _migrate(forwards=True)
    assert _schedules() == EXPECTED
    _migrate(forwards=False)
    assert not Schedule.objects.exists()
    _migrate(forwards=True)
    assert _schedules() == EXPECTED


def test_ensure_schedules_writes_what_the_migrations_write():
    from payments.api.tasks import ensure_schedules as ensure_partner_api_schedules
    from ticketing.tasks import ensure_schedules as ensure_ticketing_schedules

    Schedule.objects.all().delete()
    ensure_ticketing_schedules()
    ensure_partner_api_schedules()
    assert _schedules() == EXPECTED
    _migrate(forwards=True)
    assert _schedules() == EXPECTED and Schedule.objects.count() == len(EXPECTED)
