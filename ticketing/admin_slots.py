"""Cancelling whole time slots in the admin (the attraction closes for weather), and watching it.

The time slot list's action and the button on a slot's page show a dry run first: per slot its
open orders, what happens to them, and the money going back per currency. Nothing changes until
it is confirmed; then each slot is closed for sale and its orders are cancelled by a background
task (ticketing.orders.slot_cancelling), whose progress page shows a progress bar (updated by
static/ticketing_admin/progress.js from a small JSON status) and every order that failed.

Needs `ticketing.cancel_slot`; refunding paid orders also needs `payments.refund_payment`, and
what the cancel gives back counts against the user's refund limit (payments.refund_limits).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from payments.admin_confirmation import Plan, Step, action_page, confirm_then, is_confirming

from .admin_refunds import REFUND_PAYMENT, ReasonForm, actor
from .models import Order, SlotCancellation, SlotCancellationOrder
from .orders import slot_cancelling, staff
from .templatetags.shop import money

CANCEL_SLOT = "ticketing.cancel_slot"


class SlotReasonForm(ReasonForm):
    reason_required = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = _(
            "Told to every buyer in the e-mail (for example: closed for a typhoon warning)."
        )


def _describe(slot_plan: slot_cancelling.SlotPlan) -> str:
    counts = slot_plan.counts
    parts = []
    if counts[staff.ALIPAY]:
        parts.append(
            ngettext(
                "%(n)d paid order refunded to Alipay",
                "%(n)d paid orders refunded to Alipay",
                counts[staff.ALIPAY],
            )
            % {"n": counts[staff.ALIPAY]}
        )
    if counts[staff.CASH]:
        parts.append(
            ngettext(
                "%(n)d cash sale owed back at the box office",
                "%(n)d cash sales owed back at the box office",
                counts[staff.CASH],
            )
            % {"n": counts[staff.CASH]}
        )
    if counts[staff.NONE]:
        parts.append(
            ngettext("%(n)d free order", "%(n)d free orders", counts[staff.NONE])
            % {"n": counts[staff.NONE]}
        )
    holds, paying = counts[Order.State.HELD], counts[Order.State.AWAITING_PAYMENT]
    if holds:
        parts.append(
            ngettext("%(n)d reservation cancelled", "%(n)d reservations cancelled", holds)
            % {"n": holds}
        )
    if paying:
        parts.append(
            ngettext(
                "%(n)d reservation cancelled with its payment in progress stopped",
                "%(n)d reservations cancelled with their payments in progress stopped",
                paying,
            )
            % {"n": paying}
        )
    if not parts:
        return _("No open orders: the slot is closed for sale.")
    sums = slot_plan.sums
    money_text = "; ".join(money(total, currency) for currency, total in sorted(sums.items()))
    text = _("Closed for sale; %(what)s.") % {"what": ", ".join(parts)}
    if money_text:
        text += " " + _("Going back: %(money)s.") % {"money": money_text}
    return text


class TimeSlotCancelActions:
    """Mixed into TimeSlotAdmin: cancel every order of a slot."""

    def has_cancel_slot_permission(self, request) -> bool:
        return request.user.has_perm(CANCEL_SLOT)

    def _plan(self, request, slots) -> tuple[Plan, int]:
        may_refund = request.user.has_perm(REFUND_PAYMENT)
        steps, orders = [], 0
        for slot_plan in slot_cancelling.plan(slots):
            sums = slot_plan.sums
            # One attraction, one currency: a slot's money is all in its attraction's currency.
            currency = slot_plan.slot.attraction.currency
            amount = sums.get(currency, Decimal("0"))
            paid = sum(1 for _order, back in slot_plan.orders if back.amount > 0)
            text, possible = _describe(slot_plan), True
            if amount > 0 and not may_refund:
                text = _("Refunding its paid orders needs the refund permission.")
                possible = False
            orders += len(slot_plan.orders)
            steps.append(Step(str(slot_plan.slot), text, currency, amount, possible, count=paid))
        return Plan(steps), orders

    def _headline(self, slots, orders: int) -> str:
        return _("Open orders to cancel: %(orders)d, in time slots: %(slots)d.") % {
            "orders": orders,
            "slots": len(slots),
        }

    def _start(self, request, slots, plan: Plan, reason: str) -> HttpResponse:
        started = [
            slot_cancelling.start(slot, actor=actor(request), reason=reason)
            for slot, step in zip(slots, plan.steps, strict=True)
            if step.possible
        ]
        if len(started) == 1:
            return HttpResponseRedirect(
                reverse("admin:ticketing_slotcancellation_change", args=[started[0].pk])
            )
        return HttpResponseRedirect(reverse("admin:ticketing_slotcancellation_changelist"))

    @admin.action(
        description=gettext_lazy("Cancel every order and close (attraction closed)"),
        permissions=["cancel_slot"],
    )
    def cancel_slot_orders(self, request, queryset):
        slots = list(queryset.select_related("attraction").order_by("starts_at", "pk"))
        plan, orders = self._plan(request, slots)
        form = SlotReasonForm(request.POST if is_confirming(request) else None)
        return action_page(
            self,
            request,
            queryset,
            action="cancel_slot_orders",
            title=_("Cancel time slots (dry run)"),
            plan=plan,
            perform=lambda data: self._start(request, slots, plan, data["reason"]),
            form=form,
            headline=self._headline(slots, orders),
            intro=_("Nothing has changed yet. Confirming closes each slot for sale and cancels "
                    "its orders in the background; every buyer with an e-mail address is told."),
            confirm_label=_("Cancel these slots"),
        )  # fmt: skip

    def cancel_slot_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not (self.has_view_permission(request) and self.has_cancel_slot_permission(request)):
            raise PermissionDenied
        slot = self.get_object(request, unquote(object_id))
        if slot is None:
            raise Http404
        plan, orders = self._plan(request, [slot])
        form = SlotReasonForm(request.POST if is_confirming(request) else None)
        return confirm_then(
            self,
            request,
            title=_("Cancel %(slot)s (dry run)") % {"slot": slot},
            plan=plan,
            carry={},
            perform=lambda data: self._start(request, [slot], plan, data["reason"]),
            back_url=reverse("admin:ticketing_timeslot_change", args=[slot.pk]),
            form=form,
            headline=self._headline([slot], orders),
            confirm_label=_("Cancel this slot"),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/cancel-orders/",
                self.admin_site.admin_view(self.cancel_slot_view),
                name="ticketing_timeslot_cancel_orders",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        if self.has_cancel_slot_permission(request):
            extra["cancel_slot_url"] = reverse(
                "admin:ticketing_timeslot_cancel_orders", args=[object_id]
            )
            extra["cancel_slot_label"] = _("Cancel every order")
        return super().change_view(request, object_id, form_url, extra)


class SlotCancellationOrderInline(admin.TabularInline):
    model = SlotCancellationOrder
    extra = 0
    can_delete = False
    fields = ("order_link", "outcome", "amount", "currency", "message", "updated_at")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("order"))
    def order_link(self, item: SlotCancellationOrder) -> str:
        url = reverse("admin:ticketing_order_change", args=[item.order_id])
        return format_html('<a href="{}">{}</a>', url, item.order.code)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SlotCancellation)
class SlotCancellationAdmin(admin.ModelAdmin):
    """Read-only: each run is written by ticketing.orders.slot_cancelling alone."""

    list_display = ("slot", "state", "progress", "failed", "actor", "reason", "created_at")
    list_filter = ("state",)
    list_select_related = ("slot", "slot__attraction")
    readonly_fields = (
        "slot",
        "state",
        "reason",
        "actor",
        "total",
        "done",
        "failed",
        "created_at",
        "finished_at",
    )
    fields = readonly_fields
    inlines = (SlotCancellationOrderInline,)

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, run: SlotCancellation) -> str:
        return f"{run.done + run.failed} / {run.total}"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "<path:object_id>/progress.json",
                self.admin_site.admin_view(self.progress_view),
                name="ticketing_slotcancellation_progress",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = self.get_object(request, unquote(object_id))
        if run is None:
            raise Http404
        return JsonResponse(_status(run))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if run is not None:
            extra.update(
                progress=_status(run),
                progress_url=reverse("admin:ticketing_slotcancellation_progress", args=[run.pk]),
                failures=slot_cancelling.failures(run),
            )
        return super().change_view(request, object_id, form_url, extra)


def _status(run: SlotCancellation) -> dict:
    return {
        "state": run.state,
        "state_label": str(run.get_state_display()),
        "total": run.total,
        "done": run.done,
        "failed": run.failed,
        "finished": run.done + run.failed,
        "percent": run.percent,
    }
