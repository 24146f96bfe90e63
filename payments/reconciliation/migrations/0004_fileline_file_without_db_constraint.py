"""A file line's link to its file is no longer a foreign key constraint in the database.

PostgreSQL checks such a constraint once per row a COPY writes, which cost as much as the COPY
itself (see FileLine.file). The link, its index and the ORM's cascade stay as they were.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0003_finance_permissions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="fileline",
            name="file",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lines",
                to="reconciliation.reconciliationfile",
            ),
        ),
    ]
