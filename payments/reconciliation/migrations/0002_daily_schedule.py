"""The daily reconciliation schedule exists wherever the database is migrated."""

from datetime import datetime, time, timedelta, timezone

from django.conf import settings
from django.db import migrations

SCHEDULE = "reconciliation-daily"
BEIJING = timezone(timedelta(hours=8))


def next_run_at(now=None):
    hours, _, minutes = settings.RECONCILIATION_RUN_AT.partition(":")
    at = time(int(hours), int(minutes or 0))
    local = (now or datetime.now(timezone.utc)).astimezone(BEIJING)
    candidate = datetime.combine(local.date(), at, tzinfo=BEIJING)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(timezone.utc)


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE,
        defaults={
            "func": "payments.reconciliation.tasks.daily",
            "schedule_type": "D",  # Schedule.DAILY
            "repeats": -1,
            "next_run": next_run_at(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
