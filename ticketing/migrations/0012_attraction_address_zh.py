from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ticketing", "0011_counter_shifts"),
    ]

    operations = [
        migrations.AddField(
            model_name="attraction",
            name="address_zh",
            field=models.CharField(blank=True, max_length=300, verbose_name="address (Chinese)"),
        ),
    ]
