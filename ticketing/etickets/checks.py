"""`manage.py check` (run by migrate and runserver) refuses a production site without a ticket key.

The settings module cannot refuse at import without breaking sites that only run tasks or tests;
a system check fails deployment early instead of at the first paid order.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def check_ticket_signing_key(app_configs, **kwargs) -> list[checks.CheckMessage]:
    configured = settings.TICKET_SIGNING_KEY or settings.TICKET_SIGNING_KEY_FILE
    if not configured and not (settings.DEBUG or settings.SANDBOX_ENABLED):
        return [
            checks.Error(
                "No ticket signing key is configured.",
                hint="Set TICKET_SIGNING_KEY_FILE (an Ed25519 PEM) or TICKET_SIGNING_KEY.",
                id="etickets.E001",
            )
        ]
    if configured:
        from .keys import key_ring

        try:
            key_ring()
        except ImproperlyConfigured as exc:
            return [checks.Error(str(exc), id="etickets.E002")]
    return []
