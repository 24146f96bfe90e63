"""The admin index's line on what needs a person: each queue's count and oldest age, linking to
the "Needs attention" page (ticketing/attention/), for staff who may view the queue."""

from __future__ import annotations

from django import template

from payments import clock
from ticketing.attention import queries

register = template.Library()


@register.inclusion_tag("admin/needs_attention_status.html", takes_context=True)
def needs_attention_status(context) -> dict:
    user = context["request"].user
    return {"queues": queries.queues(user, rows=False), "now": clock.now()}
