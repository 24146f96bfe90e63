"""The "Finance" role, and the permissions of the payments admin's actions.

Finance sees every payment and refund (with their events and gateway exchanges), and may refund,
cancel, retry the cancel of payments needing attention and retry refunds needing attention.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

GROUP = "Finance"
PERMISSIONS = [
    ("payments", "view_payment"),
    ("payments", "view_paymentevent"),
    ("payments", "view_gatewayexchange"),
    ("payments", "view_refund"),
    ("payments", "cancel_payment"),
    ("payments", "refund_payment"),
    ("payments", "resolve_payment"),
    ("payments", "retry_refund"),
]


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    # Django adds new permissions only after the last migration has run (post_migrate): on a
    # fresh database they do not exist yet, so add them here first.
    for label in {label for label, _codename in PERMISSIONS}:
        config = apps.get_app_config(label)
        saved = getattr(config, "models_module", None)
        config.models_module = saved or True  # historical app configs have none
        try:
            create_permissions(config, verbosity=0, using=alias, apps=apps)
        finally:
            config.models_module = saved
    wanted = Q()
    for label, codename in PERMISSIONS:
        wanted |= Q(content_type__app_label=label, codename=codename)
    found = list(Permission.objects.using(alias).filter(wanted))
    if len(found) != len(PERMISSIONS):
        raise RuntimeError(f"{GROUP}: {len(found)} of {len(PERMISSIONS)} permissions exist")
    group, _created = Group.objects.using(alias).get_or_create(name=GROUP)
    group.permissions.set(found)


def remove_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("payments", "0005_event_state_length"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="payment",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("cancel_payment", "Can cancel payments"),
                    ("refund_payment", "Can refund payments"),
                    ("resolve_payment", "Can retry payments needing attention"),
                ],
            },
        ),
        migrations.AlterModelOptions(
            name="refund",
            options={
                "ordering": ["-created_at"],
                "permissions": [("retry_refund", "Can retry refunds needing attention")],
            },
        ),
        migrations.RunPython(create_group, remove_group),
    ]
