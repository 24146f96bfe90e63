"""The "Needs attention" page's entry in the admin index: a model without a table.

The page (ticketing/attention/) reads payments, refunds, orders and reconciliation differences
without being any of them; an unmanaged model gives it an entry under Ticketing in the admin
index. It has no permission of its own: the page shows each part to staff who may view that
part's model, and refuses (403) staff who may view none of them.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class NeedsAttention(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("needs attention")
        verbose_name_plural = _("needs attention")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
