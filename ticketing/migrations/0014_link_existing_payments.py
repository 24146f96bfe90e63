"""Link the payments ticketing started before OrderPayment existed to their orders.

The order's own payment (Order.payment) is linked first. Older attempts (a failed QR, a
duplicate) are found by the reference ticketing gave them, "order:<code>", but only among
payments not taken through the partner API: those name their terminal in their first event
("terminal:<store>/<terminal>"), their partner_trans_id starts with the API's prefix "EK"
(payments.api.queries), and they may carry any reference a client wrote.
"""

from django.db import migrations
from django.db.models import Exists, OuterRef

PREFIX = "order:"
PARTNER_ACTOR = "terminal:"
PARTNER_TRANS_ID_PREFIX = "EK"


def link(apps, schema_editor):
    Order = apps.get_model("ticketing", "Order")
    OrderPayment = apps.get_model("ticketing", "OrderPayment")
    Payment = apps.get_model("payments", "Payment")
    PaymentEvent = apps.get_model("payments", "PaymentEvent")
    linked = set(OrderPayment.objects.values_list("payment_id", flat=True))
    rows = []
    for order_id, payment_id, at in Order.objects.filter(payment__isnull=False).values_list(
        "pk", "payment_id", "updated_at"
    ):
        if payment_id not in linked:
            linked.add(payment_id)
            rows.append(OrderPayment(order_id=order_id, payment_id=payment_id, created_at=at))
    by_partner = PaymentEvent.objects.filter(
        payment=OuterRef("pk"), to_state="created", actor__startswith=PARTNER_ACTOR
    )
    candidates = (
        Payment.objects.filter(reference__startswith=PREFIX)
        .exclude(Exists(by_partner))
        .exclude(partner_trans_id__startswith=PARTNER_TRANS_ID_PREFIX)
        .values_list("pk", "reference", "created_at")
    )
    codes = dict(Order.objects.values_list("code", "pk"))
    for payment_id, reference, created_at in candidates.iterator():
        order_id = codes.get(reference[len(PREFIX) :])
        if order_id is not None and payment_id not in linked:
            linked.add(payment_id)
            rows.append(
                OrderPayment(order_id=order_id, payment_id=payment_id, created_at=created_at)
            )
    OrderPayment.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0006_staff_roles"),
        ("ticketing", "0013_order_payment_link"),
    ]

    operations = [migrations.RunPython(link, migrations.RunPython.noop)]
