"""The "Needs attention" page in the admin: an entry in the index (under Ticketing) whose page
lists, oldest first, what waits for a person, with counts and ages.

NeedsAttention has no table and no permission of its own: the page and its index entry appear
to staff who may view at least one of its queues (payments, refunds, orders, reconciliation
differences), and show each of them only its own queues; anyone else is refused (403).
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from payments import clock
from ticketing.models import NeedsAttention

from . import queries


@admin.register(NeedsAttention)
class NeedsAttentionAdmin(admin.ModelAdmin):
    def _may_see_any(self, request) -> bool:
        return bool(queries.may_see(request.user))

    def has_module_permission(self, request) -> bool:
        return self._may_see_any(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may_see_any(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "",
                self.admin_site.admin_view(self.page),
                name="{}_{}_changelist".format(*info),
            )
        ]

    def page(self, request):
        return needs_attention_view(request, self)


@require_GET
def needs_attention_view(request, model_admin) -> TemplateResponse:
    if not queries.may_see(request.user):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Needs attention"),
        "queues": {queue.key: queue for queue in queries.queues(request.user, rows=True)},
        "now": clock.now(),
        "shown": queries.ROWS,
    }
    return TemplateResponse(request, "admin/needs_attention.html", context)
