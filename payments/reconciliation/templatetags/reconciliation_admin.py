"""The admin index's line on reconciliation: the last run and the open critical differences.

A template tag rather than a change to the admin site: the site belongs to ticketing, which
payments must not import.
"""

from __future__ import annotations

from django import template

from payments.reconciliation import report

register = template.Library()


@register.inclusion_tag("admin/reconciliation/index_status.html", takes_context=True)
def reconciliation_status(context) -> dict:
    user = context["request"].user
    if not (
        user.has_perm("reconciliation.view_reconciliation_report")
        or user.has_perm("reconciliation.view_difference")
    ):
        return {"shown": False}
    return {
        "shown": True,
        "last_run": report.last_run(),
        "open_critical": report.open_critical_count(),
        "may_report": user.has_perm("reconciliation.view_reconciliation_report"),
        "may_list": user.has_perm("reconciliation.view_difference"),
    }
