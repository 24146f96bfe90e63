"""The box office groups: "Box office" may sell at the counter (/box-office/), "Box office
supervisors" may approve refunds there.

The groups carry no model permissions; ticketing.views.box_office checks membership by name.
"""

from django.db import migrations

GROUPS = ("Box office", "Box office supervisors")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("ticketing", "0005_order_channel"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
