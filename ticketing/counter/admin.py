"""Admin for the counter: tills are set up here; shifts, their ledger and events are read-only
(they change only through ticketing.counter, at the box office), their times in the box office's
zone as its slips print them."""

from __future__ import annotations

from django.contrib import admin

from ..admin_time import PageTimeZoneMixin
from ..models import Shift, ShiftEvent, Till, TillMovement
from .reports import box_office_time_zone


@admin.register(Till)
class TillAdmin(admin.ModelAdmin):
    list_display = ("name", "active")
    list_filter = ("active",)
    search_fields = ("name",)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TillMovementInline(ReadOnlyInline):
    model = TillMovement
    fields = ("at", "kind", "amount", "tendered", "change", "order", "actor")
    readonly_fields = fields


class ShiftEventInline(ReadOnlyInline):
    model = ShiftEvent
    fields = ("at", "kind", "actor", "detail")
    readonly_fields = fields


@admin.register(Shift)
class ShiftAdmin(PageTimeZoneMixin, admin.ModelAdmin):
    list_display = (
        "pk", "till", "cashier", "state", "opened_at", "closed_at", "opening_float",
        "expected_cash", "counted_cash", "variance", "approved_by",
    )  # fmt: skip
    list_filter = ("state", "till")
    list_select_related = ("till", "cashier")
    date_hierarchy = "opened_at"
    inlines = [TillMovementInline, ShiftEventInline]

    def page_zone(self, object_id: str):
        return box_office_time_zone()

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
