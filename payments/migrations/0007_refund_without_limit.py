"""The permission to refund beyond the support limit (payments.refund_limits).

The Finance group is given it by ticketing 0017_staff_refunds, with the order refund actions.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0006_staff_roles"),
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
                ],
            },
        ),
    ]
