from django.db import migrations, models
from django.db.models import Max


def backfill(apps, schema_editor):
    """A paid payment already cancelled was reversed when it entered `cancelled` (its audit row)."""
    Payment = apps.get_model("payments", "Payment")
    PaymentEvent = apps.get_model("payments", "PaymentEvent")
    reversed_at = (
        PaymentEvent.objects.filter(
            to_state="cancelled", payment__state="cancelled", payment__paid_at__isnull=False
        )
        .values("payment_id")
        .annotate(at=Max("at"))
        .order_by()
    )
    for row in reversed_at.iterator():
        Payment.objects.filter(pk=row["payment_id"]).update(reversed_at=row["at"])


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0009_query_count_from_exchanges"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="reversed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
