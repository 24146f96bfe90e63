"""The daily purge of expired idempotency keys exists wherever the database is migrated, not
only where load_demo ran."""

from django.db import migrations

from payments.api import schedules


def create_schedules(apps, schema_editor):
    schedules.write_schedules(apps.get_model("django_q", "Schedule"))


def remove_schedules(apps, schema_editor):
    schedules.remove_schedules(apps.get_model("django_q", "Schedule"))


class Migration(migrations.Migration):
    dependencies = [
        ("partner_api", "0003_staff_roles"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
