"""The "Partner API admins" role, and the permission to issue a terminal's token.

Partner API admins manage the registers that call the partner API: they add stores and
terminals (a new terminal's token is shown once), deactivate a terminal (a lost register) and
issue new tokens. Nobody else sees a token.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

GROUP = "Partner API admins"
PERMISSIONS = [
    ("partner_api", "view_store"),
    ("partner_api", "add_store"),
    ("partner_api", "view_terminal"),
    ("partner_api", "add_terminal"),
    ("partner_api", "change_terminal"),
    ("partner_api", "rotate_terminal_token"),
    ("partner_api", "view_terminaltoken"),
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
        ("partner_api", "0002_store_without_secondary_merchant"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="terminal",
            options={
                "ordering": ["store__store_id", "terminal_id"],
                "permissions": [("rotate_terminal_token", "Can issue a new token for a terminal")],
                "verbose_name": "terminal",
                "verbose_name_plural": "terminals",
            },
        ),
        migrations.RunPython(create_group, remove_group),
    ]
