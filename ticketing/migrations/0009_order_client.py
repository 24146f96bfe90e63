from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ticketing", "0008_staff_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="client_key",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["client_key", "state"], name="order_client_state"),
        ),
    ]
