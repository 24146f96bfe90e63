"""A request rate per terminal, so one runaway register cannot crowd out the others.

The rate is REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["partner_terminal"] (PARTNER_API_RATE in the
environment). Counters live in the default cache: per process with the local-memory cache, shared
when a shared cache is configured. A throttled call answers 429 `throttled` with Retry-After.
"""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from payments.api.models import Terminal


class TerminalRateThrottle(SimpleRateThrottle):
    scope = "partner_terminal"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.user, Terminal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
