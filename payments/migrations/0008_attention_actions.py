"""The permissions of the actions on payments and refunds needing attention, given to "Finance".

Check with Alipay now, refund instead and mark failed (payments/attention.py), each its own
permission; Support and view-only staff get none of them.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

GROUP = "Finance"
PERMISSIONS = [
    ("payments", "check_payment_with_alipay"),
    ("payments", "refund_payment_instead"),
    ("payments", "mark_payment_failed"),
    ("payments", "check_refund_with_alipay"),
    ("payments", "mark_refund_failed"),
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
    # Django adds new permissions only after the last migration has run (post_migrate): on a
    # fresh database they do not exist yet, so add them here first.
    config = apps.get_app_config("payments")
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
        ("payments", "0007_refund_without_limit"),
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
                    ("refund_without_limit", "Can refund without the support limit"),
                    (
                        "check_payment_with_alipay",
                        "Can check payments needing attention with Alipay",
                    ),
                    ("refund_payment_instead", "Can refund payments needing attention instead"),
                    ("mark_payment_failed", "Can mark payments needing attention failed"),
                ],
            },
        ),
        migrations.AlterModelOptions(
            name="refund",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("retry_refund", "Can retry refunds needing attention"),
                    (
                        "check_refund_with_alipay",
                        "Can check refunds needing attention with Alipay",
                    ),
                    ("mark_refund_failed", "Can mark refunds needing attention failed"),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
