"""The "Finance" role reads reconciliation and acts on its differences.

Finance imports files, reads the reports, sees files, lines, runs and differences, and may check
a difference with Alipay, refund its buyer, issue its order's tickets and resolve it with a note.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

GROUP = "Finance"
PERMISSIONS = [
    ("reconciliation", "view_reconciliationfile"),
    ("reconciliation", "view_fileline"),
    ("reconciliation", "view_reconciliationrun"),
    ("reconciliation", "view_difference"),
    ("reconciliation", "view_differenceevent"),
    ("reconciliation", "view_daysummary"),
    ("reconciliation", "import_reconciliation_file"),
    ("reconciliation", "view_reconciliation_report"),
    ("reconciliation", "check_difference_with_alipay"),
    ("reconciliation", "refund_difference"),
    ("reconciliation", "issue_difference_tickets"),
    ("reconciliation", "resolve_difference"),
]


def _query():
    wanted = Q()
    for label, codename in PERMISSIONS:
        wanted |= Q(content_type__app_label=label, codename=codename)
    return wanted


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    # Permissions appear only after the last migration (post_migrate): make them here first.
    config = apps.get_app_config("reconciliation")
    saved = getattr(config, "models_module", None)
    config.models_module = saved or True  # historical app configs have none
    try:
        create_permissions(config, verbosity=0, using=alias, apps=apps)
    finally:
        config.models_module = saved
    found = list(Permission.objects.using(alias).filter(_query()))
    if len(found) != len(PERMISSIONS):
        raise RuntimeError(f"{GROUP}: {len(found)} of {len(PERMISSIONS)} permissions exist")
    group, _created = Group.objects.using(alias).get_or_create(name=GROUP)
    group.permissions.add(*found)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    group = Group.objects.using(alias).filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*Permission.objects.using(alias).filter(_query()))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("payments", "0006_staff_roles"),
        ("reconciliation", "0002_daily_schedule"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
