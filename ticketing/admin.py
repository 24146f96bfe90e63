"""Admin for the catalogue, slots and orders.

Staff never edit counters or order states here: slots show `held`/`sold` read-only, the capacity
override goes through inventory.set_capacity_override, and order actions call ticketing.orders,
whose domain errors appear as admin messages. Each action needs its own permission: viewing
grants none of them. The orders' money actions (cancel, refund an amount, refund tickets) live in
ticketing/admin_refunds.py, the cancelling of a whole time slot in ticketing/admin_slots.py.
"""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import inventory, local_time
from .admin_refunds import OrderMoneyActions
from .admin_slots import TimeSlotCancelActions
from .admin_time import PageTimeZoneMixin

# The "Needs attention" page registers its own admin entry (ticketing/attention/admin.py).
from .attention import admin as attention_admin  # noqa: F401
from .exceptions import TicketingError
from .models import (
    Attraction,
    ClosedDay,
    OpeningRule,
    Order,
    OrderEvent,
    OrderLine,
    RefundPolicy,
    SlotChange,
    SpecialOpening,
    Ticket,
    TicketType,
    TimeSlot,
)

# The sales report registers its own admin page (ticketing/reports/admin.py).
from .reports import admin as reports_admin  # noqa: F401
from .slot_generation import generate_slots


class TicketTypeInline(admin.TabularInline):
    model = TicketType
    extra = 0
    fields = (
        "code",
        "name",
        "name_zh",
        "price",
        "admissions",
        "refundable",
        "active",
        "sort_order",
    )


class RefundPolicyInline(admin.StackedInline):
    model = RefundPolicy
    # One blank form shown: an attraction without a policy offers no cancelling at all.
    extra = 1
    max_num = 1
    can_delete = True


class OpeningRuleInline(admin.TabularInline):
    model = OpeningRule
    extra = 0
    fields = ("weekday", "opens", "closes", "slot_minutes", "capacity", "valid_from", "valid_until")


class SpecialOpeningInline(admin.TabularInline):
    model = SpecialOpening
    extra = 0


class ClosedDayInline(admin.TabularInline):
    model = ClosedDay
    extra = 0


@admin.register(Attraction)
class AttractionAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "timezone", "currency", "active", "sort_order")
    list_filter = ("active",)
    search_fields = ("name", "name_zh", "slug", "address", "address_zh")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [
        TicketTypeInline,
        RefundPolicyInline,
        OpeningRuleInline,
        SpecialOpeningInline,
        ClosedDayInline,
    ]
    actions = ["generate_90_days"]

    def has_generate_slots_permission(self, request) -> bool:
        # Generating adds slots and closes or reopens existing ones.
        return request.user.has_perms(["ticketing.add_timeslot", "ticketing.change_timeslot"])

    @admin.action(
        description=_("Generate time slots for the next 90 days"), permissions=["generate_slots"]
    )
    def generate_90_days(self, request, queryset):
        result = generate_slots(90, attractions=list(queryset))
        self.message_user(
            request,
            _("%(created)s slots created, %(closed)s closed, %(reopened)s reopened.")
            % {"created": result.created, "closed": result.closed, "reopened": result.reopened},
            messages.SUCCESS,
        )


class TimeSlotForm(forms.ModelForm):
    class Meta:
        model = TimeSlot
        fields = ["capacity_override"]

    def clean_capacity_override(self):
        # Tells staff next to the field; inventory.set_capacity_override enforces it race-free.
        value = self.cleaned_data["capacity_override"]
        taken = self.instance.held + self.instance.sold
        if value is not None and value < taken:
            raise forms.ValidationError(
                _("%(taken)s places are already held or sold: the capacity cannot be lower.")
                % {"taken": taken}
            )
        return value


def _attraction_zone(model, object_id: str):
    """The zone of the attraction an order or a slot belongs to (None: no such row)."""
    try:
        name = (
            model.objects.filter(pk=object_id)
            .values_list("attraction__timezone", flat=True)
            .first()
        )
    except (ValueError, TypeError):
        return None  # not an id: Django's change view answers it
    return zoneinfo.ZoneInfo(name) if name else None


@admin.register(TimeSlot)
class TimeSlotAdmin(TimeSlotCancelActions, PageTimeZoneMixin, admin.ModelAdmin):
    form = TimeSlotForm
    actions = ["cancel_slot_orders"]
    list_display = (
        "attraction",
        "starts_local",
        "ends_local",
        "capacity",
        "capacity_override",
        "held",
        "sold",
        "is_open",
    )
    list_filter = ("attraction", "is_open", "local_date")
    date_hierarchy = "starts_at"
    list_select_related = ("attraction",)
    readonly_fields = (
        "attraction",
        "starts_at",
        "ends_at",
        "local_date",
        "capacity",
        "held",
        "sold",
        "is_open",
        "rule",
    )
    fields = (*readonly_fields[:5], "capacity_override", *readonly_fields[5:])

    @admin.display(description=_("starts (attraction's time)"), ordering="starts_at")
    def starts_local(self, slot: TimeSlot) -> str:
        return local_time.format_datetime(slot.starts_at, slot.attraction.tz)

    @admin.display(description=_("ends (attraction's time)"), ordering="ends_at")
    def ends_local(self, slot: TimeSlot) -> str:
        return local_time.format_datetime(slot.ends_at, slot.attraction.tz)

    def page_zone(self, object_id: str):
        return _attraction_zone(TimeSlot, object_id)

    def has_add_permission(self, request):
        return False  # slots come from opening rules (generate_slots)

    def has_delete_permission(self, request, obj=None):
        return False  # orders point at slots; close the day instead

    def save_model(self, request, obj, form, change):
        # The one writable field goes through inventory: never below what is held and sold.
        try:
            inventory.set_capacity_override(obj.pk, obj.capacity_override)
        except TicketingError as exc:
            self.message_user(request, str(exc.message), messages.ERROR)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ("ticket_type", "quantity", "unit_price", "admissions_each")

    def has_add_permission(self, request, obj=None):
        return False


class TicketInline(admin.TabularInline):
    model = Ticket
    extra = 0
    can_delete = False
    readonly_fields = (
        "number",
        "ticket_type",
        "part",
        "parts",
        "price",
        "state",
        "uuid",
        "used_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "kind", "from_state", "to_state", "actor", "detail")

    def has_add_permission(self, request, obj=None):
        return False


class SlotChangeInline(admin.TabularInline):
    """Changes of time that needed a price difference paid: held, made, or given back."""

    model = SlotChange
    extra = 0
    can_delete = False
    readonly_fields = (
        "created_at",
        "from_slot",
        "to_slot",
        "amount",
        "currency",
        "state",
        "outcome",
        "hold_expires_at",
        "payment",
    )
    fields = readonly_fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("from_slot__attraction", "to_slot__attraction", "payment")
        )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(OrderMoneyActions, PageTimeZoneMixin, admin.ModelAdmin):
    list_display = (
        "code",
        "attraction",
        "slot",
        "buyer_name",
        "email",
        "state",
        "channel",
        "total",
        "currency",
        "created_local",
    )
    list_filter = ("state", "channel", "attraction")
    search_fields = ("code", "email", "buyer_name")
    list_select_related = ("attraction", "slot", "slot__attraction")
    readonly_fields = [f.name for f in Order._meta.fields if f.name != "token"]
    exclude = ("token",)
    inlines = [OrderLineInline, TicketInline, SlotChangeInline, OrderEventInline]
    actions = ["cancel_orders"]

    def page_zone(self, object_id: str):
        return _attraction_zone(Order, object_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Every field is read-only and states move only through ticketing.orders: saving the
        # form would write the whole row back as it was read, over a transition made meanwhile.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("created (attraction's time)"), ordering="created_at")
    def created_local(self, order: Order) -> str:
        return local_time.format_datetime(order.created_at, order.attraction.tz)


# django-q2's task records, made view-only; the counter's tills and shifts have an admin module
# of their own.
from . import admin_tasks  # noqa: E402, F401
from .counter import admin as counter_admin  # noqa: E402, F401
