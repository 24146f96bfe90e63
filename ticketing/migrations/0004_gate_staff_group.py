"""The "Gate staff" group: its members (and superusers) may use the check-in page at /gate/.

The group carries no model permissions; ticketing.views.gate checks membership by name.
"""

from django.db import migrations

GROUP = "Gate staff"


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=GROUP)


def remove_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("ticketing", "0003_ticket_revocation_index"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
