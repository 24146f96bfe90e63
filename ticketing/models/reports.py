"""The sales report's permission holder, and the daily rows the report sums.

Django permissions hang on a content type, and the report reads orders, payments and tickets
without being any of them. An unmanaged model gives `ticketing.view_sales_report` a home of its
own and an entry in the admin index, without touching the permissions of the models it reads.

DailySales and DailyTicketTypeSales hold each local day's figures, so that a report over a year
of a million orders sums a few thousand rows (ticketing.reports.ledger keeps them).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SalesReport(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_sales_report", "Can view sales reports")]
        verbose_name = _("sales report")
        verbose_name_plural = _("sales reports")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


# attraction_id of a partner-API sale: a payment the partner API took with no order has no
# attraction (0 rather than NULL so that one unique key, and one upsert, covers every row).
NO_ATTRACTION = 0


class DailySales(models.Model):
    """One local day of sales: per attraction, channel and currency, the figures the sales report
    adds up, kept in step with the orders, refunds and gate scans they come from.

    Written only by ticketing.reports.ledger, in the transaction of the change it counts (an
    order paid, a refund succeeded, a ticket scanned, a partner-API payment paid), so a report
    sums a few rows per day instead of every order; `manage.py rebuild_sales_summary` recomputes
    them from the raw rows. `day` is the attraction's own local date (the site's for the partner
    API's sales), as the report counts it.
    """

    day = models.DateField()
    attraction_id = models.PositiveIntegerField()
    channel = models.CharField(max_length=20)
    currency = models.CharField(max_length=3)
    orders = models.PositiveIntegerField(default=0)
    tickets = models.PositiveIntegerField(default=0)
    admitted = models.PositiveIntegerField(default=0)
    gross = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    refunds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "attraction_id", "channel", "currency"], name="daily_sales_key"
            )
        ]
        # Derived rows: nobody adds, changes or deletes them by hand.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.day} {self.attraction_id} {self.channel} {self.currency}"


class DailyTicketTypeSales(models.Model):
    """Tickets sold per ticket type on one local day (the report's "by ticket type" table): units
    and what they were sold for, from the order lines of the orders paid that day."""

    day = models.DateField()
    attraction_id = models.PositiveIntegerField()
    channel = models.CharField(max_length=20)
    currency = models.CharField(max_length=3)
    ticket_type_id = models.PositiveIntegerField()
    tickets = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "attraction_id", "channel", "currency", "ticket_type_id"],
                name="daily_ticket_type_sales_key",
            )
        ]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.day} {self.ticket_type_id} {self.channel} {self.currency}"
