"""Signals ticketing sends about its orders.

`order_changed` fires once for every committed state change of an order (ticketing.orders.states
sends it on commit, so a rolled-back change is never announced). Receivers get the order's id,
not the object: they read what they need afresh.
"""

from __future__ import annotations

from django.dispatch import Signal

# sender=Order; kwargs: order_id, from_state, to_state, kind (the audit event's kind), actor.
order_changed = Signal()
