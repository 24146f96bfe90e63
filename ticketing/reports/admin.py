"""The sales report in the admin: an entry in the index (under Ticketing) whose page is the report.

SalesReport has no table; its admin offers no list, add or change, only the report, to staff
holding `ticketing.view_sales_report` (the Finance and Support roles).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from ticketing.models import SalesReport

from .views import PERMISSION, sales_report_view


@admin.register(SalesReport)
class SalesReportAdmin(admin.ModelAdmin):
    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name

        def view(request):
            return sales_report_view(request, self.admin_site, self)

        return [path("", self.admin_site.admin_view(view), name="{}_{}_changelist".format(*info))]
