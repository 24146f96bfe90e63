"""Errors of the e-tickets package, shaped like every ticketing error (code, message, status)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ticketing.exceptions import TicketingError


class NoTickets(TicketingError):
    """The order has nothing to print: it is not paid yet, or its tickets were revoked."""

    code = "no_tickets"
    http_status = 409
    default_message = _("This order has no valid tickets (it is not paid, or it was cancelled).")


class InvalidSince(TicketingError):
    code = "invalid_since"
    default_message = _("`since` must be an ISO 8601 date and time, e.g. 2026-05-01T08:00:00Z.")
