"""The sales report's permission holder: a model without a table.

Django permissions hang on a content type, and the report reads orders, payments and tickets
without being any of them. An unmanaged model gives `ticketing.view_sales_report` a home of its
own and an entry in the admin index, without touching the permissions of the models it reads.
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
