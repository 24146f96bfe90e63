"""The sales report's daily rows (ticketing.reports.ledger), filled from the sales made so far."""

from django.db import migrations, models


def backfill(apps, schema_editor):
    Order = apps.get_model("ticketing", "Order")
    Payment = apps.get_model("payments", "Payment")
    if not Order.objects.exists() and not Payment.objects.exists():
        return  # a fresh database: nothing sold yet
    # Imported here, not at the top: the figures have one definition, the report's raw
    # aggregation over today's models, which `manage.py rebuild_sales_summary` runs as well.
    from ticketing.reports import ledger

    ledger.rebuild()


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0009_query_count_from_exchanges'),
        ('ticketing', '0019_slot_change'),
    ]

    operations = [
        migrations.CreateModel(
            name='DailySales',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('attraction_id', models.PositiveIntegerField()),
                ('channel', models.CharField(max_length=20)),
                ('currency', models.CharField(max_length=3)),
                ('orders', models.PositiveIntegerField(default=0)),
                ('tickets', models.PositiveIntegerField(default=0)),
                ('admitted', models.PositiveIntegerField(default=0)),
                ('gross', models.DecimalField(decimal_places=2, default=0, max_digits=16)),
                ('refunds', models.DecimalField(decimal_places=2, default=0, max_digits=16)),
            ],
            options={
                'default_permissions': (),
                'constraints': [models.UniqueConstraint(fields=('day', 'attraction_id', 'channel', 'currency'), name='daily_sales_key')],
            },
        ),
        migrations.CreateModel(
            name='DailyTicketTypeSales',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('attraction_id', models.PositiveIntegerField()),
                ('channel', models.CharField(max_length=20)),
                ('currency', models.CharField(max_length=3)),
                ('ticket_type_id', models.PositiveIntegerField()),
                ('tickets', models.PositiveIntegerField(default=0)),
                ('amount', models.DecimalField(decimal_places=2, default=0, max_digits=16)),
            ],
            options={
                'default_permissions': (),
                'constraints': [models.UniqueConstraint(fields=('day', 'attraction_id', 'channel', 'currency', 'ticket_type_id'), name='daily_ticket_type_sales_key')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
