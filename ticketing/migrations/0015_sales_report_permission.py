"""The sales report's permission, given to the "Finance" and "Support" roles, and the indexes the
report reads orders and gate scans by ((attraction, paid_at) and used_at).

Numbered 0013 on purpose: 0011 and 0012 are reserved for work merged alongside this.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

GROUPS = ("Finance", "Support")
PERMISSION = ("ticketing", "view_sales_report")


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    # Django adds new permissions only after the last migration has run (post_migrate): on a
    # fresh database this one does not exist yet, so add it here first.
    config = apps.get_app_config("ticketing")
    saved = getattr(config, "models_module", None)
    config.models_module = saved or True  # historical app configs have none
    try:
        create_permissions(config, verbosity=0, using=alias, apps=apps)
    finally:
        config.models_module = saved
    permission = Permission.objects.using(alias).get(
        content_type__app_label=PERMISSION[0], codename=PERMISSION[1]
    )
    for name in GROUPS:
        group, _created = Group.objects.using(alias).get_or_create(name=name)
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.using(schema_editor.connection.alias).filter(
        content_type__app_label=PERMISSION[0], codename=PERMISSION[1]
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('payments', '0006_staff_roles'),
        ('ticketing', '0014_link_existing_payments'),
    ]

    operations = [
        migrations.CreateModel(
            name='SalesReport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
            options={
                'verbose_name': 'sales report',
                'verbose_name_plural': 'sales reports',
                'permissions': [('view_sales_report', 'Can view sales reports')],
                'managed': False,
                'default_permissions': (),
            },
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['attraction', 'paid_at'], name='order_attraction_paid'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['used_at'], name='ticket_used_at'),
        ),
        migrations.RunPython(grant, revoke),
    ]
