"""Orders under review: how long an order keeps its places while its payment needs attention
(review_ends_at), the outcome reasons of a review, and the "Needs attention" page's entry in the
admin index (NeedsAttention, a model without a table).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ticketing', '0017_staff_refunds'),
    ]

    operations = [
        migrations.CreateModel(
            name='NeedsAttention',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
            options={
                'verbose_name': 'needs attention',
                'verbose_name_plural': 'needs attention',
                'managed': False,
                'default_permissions': (),
            },
        ),
        migrations.AddField(
            model_name='order',
            name='review_ends_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='under review until'),
        ),
        migrations.AlterField(
            model_name='order',
            name='outcome_reason',
            field=models.CharField(blank=True, choices=[('hold_expired', 'Reservation ended before payment'), ('payment_not_completed', 'Payment not completed in time'), ('cancelled', 'Cancelled before payment'), ('cancelled_refund', 'Cancelled after payment and refunded'), ('late_payment_honoured', 'Late payment honoured'), ('late_payment_sold_out', 'Late payment refunded: slot full'), ('paid_after_cancel', 'Paid after cancellation and refunded'), ('refunded', 'Refunded'), ('payment_returned', 'Payment given back to the buyer'), ('review_expired', 'Places given back: payment under review too long'), ('review_refunded', 'Payment under review given back to the buyer'), ('late_payment_slot_over', 'Late payment refunded: slot over')], max_length=60),
        ),
    ]
