"""Each payment's query_count recounted from its recorded trade queries.

Until now a query that ended the payment (paid, closed), one a notification or staff sent, and
one whose round lost its claim were sent and recorded but not counted, so a payment's page could
read "Query count: 0" beside two listed queries. payments.transitions.record_exchange now counts
every one; this makes the rows already there agree with their exchanges.
"""

from django.db import migrations
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

QUERY = "alipay.acquire.overseas.query"


def recount(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    GatewayExchange = apps.get_model("payments", "GatewayExchange")
    alias = schema_editor.connection.alias
    queries = (
        GatewayExchange.objects.using(alias)
        .filter(payment=OuterRef("pk"), service=QUERY)
        .order_by()
        .values("payment")
        .annotate(n=Count("id"))
        .values("n")
    )
    Payment.objects.using(alias).update(query_count=Coalesce(Subquery(queries), 0))


class Migration(migrations.Migration):
    dependencies = [("payments", "0008_attention_actions")]

    operations = [migrations.RunPython(recount, migrations.RunPython.noop)]
