"""Template helpers of the box office: the signed-in cashier's shift and role for the heading."""

from __future__ import annotations

from django import template

from ticketing.counter.shifts import current_shift
from ticketing.views.approval import SUPERVISORS_GROUP
from ticketing.views.staff import in_group

register = template.Library()


@register.simple_tag(takes_context=True)
def counter_status(context) -> dict:
    """{"shift": the user's open shift or None, "supervisor": may see all shifts}."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"shift": None, "supervisor": False}
    shift = context.get("shift") or current_shift(user)
    return {"shift": shift, "supervisor": in_group(user, SUPERVISORS_GROUP)}
