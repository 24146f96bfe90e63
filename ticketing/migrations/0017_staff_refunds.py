"""Staff refunds and cancels in the admin: their permissions, the slot cancellation tables, and
the roles that hold them.

Support refunds orders by amount or by ticket and cancels whole time slots, within the support
limit (SUPPORT_REFUND_LIMIT, payments.refund_limits); Finance does the same without a limit
(payments.refund_without_limit), and so also sees the orders it refunds. Both watch slot
cancellations run.
"""

import django.db.models.deletion
from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.db.models import Q

REFUNDING = [
    ("ticketing", "refund_order_amount"),
    ("ticketing", "refund_order_tickets"),
    ("ticketing", "view_timeslot"),
    ("ticketing", "cancel_slot"),
    ("ticketing", "view_slotcancellation"),
    ("ticketing", "view_slotcancellationorder"),
]
GRANTS = {
    "Support": REFUNDING,
    "Finance": [
        *REFUNDING,
        ("ticketing", "view_order"),
        ("ticketing", "view_orderline"),
        ("ticketing", "view_ticket"),
        ("ticketing", "view_orderevent"),
        ("ticketing", "cancel_order"),
        ("payments", "refund_without_limit"),
    ],
}


def _wanted(pairs):
    wanted = Q()
    for label, codename in pairs:
        wanted |= Q(content_type__app_label=label, codename=codename)
    return wanted


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    # Django adds new permissions only after the last migration has run (post_migrate): on a
    # fresh database they do not exist yet, so add them here first.
    for label in ("payments", "ticketing"):
        config = apps.get_app_config(label)
        saved = getattr(config, "models_module", None)
        config.models_module = saved or True  # historical app configs have none
        try:
            create_permissions(config, verbosity=0, using=alias, apps=apps)
        finally:
            config.models_module = saved
    for name, pairs in GRANTS.items():
        found = list(Permission.objects.using(alias).filter(_wanted(pairs)))
        if len(found) != len(pairs):
            raise RuntimeError(f"{name}: {len(found)} of {len(pairs)} permissions exist")
        group, _created = Group.objects.using(alias).get_or_create(name=name)
        group.permissions.add(*found)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    for name, pairs in GRANTS.items():
        group = Group.objects.using(alias).filter(name=name).first()
        if group is not None:
            group.permissions.remove(*Permission.objects.using(alias).filter(_wanted(pairs)))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("payments", "0007_refund_without_limit"),
        ("ticketing", "0016_refund_policy"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="order",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("cancel_order", "Can cancel orders"),
                    ("refund_order_amount", "Can refund part of an order by amount"),
                    ("refund_order_tickets", "Can refund tickets of an order"),
                ],
                "verbose_name": "order",
                "verbose_name_plural": "orders",
            },
        ),
        migrations.AlterModelOptions(
            name="timeslot",
            options={
                "ordering": ["attraction", "starts_at"],
                "permissions": [("cancel_slot", "Can cancel every order of a time slot")],
                "verbose_name": "time slot",
                "verbose_name_plural": "time slots",
            },
        ),
        migrations.CreateModel(
            name="SlotCancellation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[("queued", "Queued"), ("running", "Running"), ("done", "Done")],
                        default="queued",
                        max_length=10,
                        verbose_name="state",
                    ),
                ),
                ("reason", models.CharField(max_length=128, verbose_name="reason")),
                ("actor", models.CharField(max_length=150, verbose_name="by")),
                ("total", models.PositiveIntegerField(default=0, verbose_name="orders")),
                ("done", models.PositiveIntegerField(default=0, verbose_name="done")),
                ("failed", models.PositiveIntegerField(default=0, verbose_name="failed")),
                ("created_at", models.DateTimeField(verbose_name="started at")),
                ("updated_at", models.DateTimeField(verbose_name="updated at")),
                (
                    "finished_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="finished at"),
                ),
                (
                    "slot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cancellations",
                        to="ticketing.timeslot",
                        verbose_name="slot",
                    ),
                ),
            ],
            options={
                "verbose_name": "slot cancellation",
                "verbose_name_plural": "slot cancellations",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="SlotCancellationOrder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting"),
                            ("working", "Working"),
                            ("cancelled", "Reservation cancelled"),
                            ("refunded", "Cancelled, refunded to Alipay"),
                            ("cash_due", "Cancelled, cash to pay back at the box office"),
                            ("ended", "Already ended"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=10,
                        verbose_name="outcome",
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2, default=0, max_digits=12, verbose_name="amount"
                    ),
                ),
                ("currency", models.CharField(max_length=3, verbose_name="currency")),
                ("message", models.CharField(blank=True, max_length=500, verbose_name="message")),
                ("updated_at", models.DateTimeField(verbose_name="updated at")),
                (
                    "cancellation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="orders",
                        to="ticketing.slotcancellation",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="ticketing.order",
                        verbose_name="order",
                    ),
                ),
            ],
            options={
                "verbose_name": "order of a slot cancellation",
                "verbose_name_plural": "orders of a slot cancellation",
                "ordering": ["cancellation", "id"],
            },
        ),
        migrations.AddConstraint(
            model_name="slotcancellation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", ["queued", "running"])),
                fields=("slot",),
                name="slotcancellation_one_active_per_slot",
            ),
        ),
        migrations.AddIndex(
            model_name="slotcancellationorder",
            index=models.Index(fields=["cancellation", "outcome"], name="slotcancelorder_outcome"),
        ),
        migrations.AddConstraint(
            model_name="slotcancellationorder",
            constraint=models.UniqueConstraint(
                fields=("cancellation", "order"), name="slotcancellationorder_once"
            ),
        ),
        migrations.RunPython(grant, revoke),
    ]
