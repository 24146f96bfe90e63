"""Request rates for the anonymous public API, per client address.

Rates come from settings.TICKETING_API_RATES (environment: TICKETING_API_READ_RATE, ..._ORDER_RATE,
..._LOOKUP_RATE); the look-up rate is low on purpose: it is what stands between a guesser and
order codes. Counters live in the default cache (per process unless a shared cache is set).
The client address is the site's one definition (ticketing.views.throttle.client_address), so
X-Forwarded-For counts only behind TRUSTED_PROXIES proxies.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from ticketing.views.throttle import client_address

DEFAULT_RATES = {"public_read": "600/min", "public_order": "60/min", "public_lookup": "60/min"}


class PublicRateThrottle(SimpleRateThrottle):
    scope = "public_read"

    def get_rate(self) -> str | None:
        rates = {**DEFAULT_RATES, **getattr(settings, "TICKETING_API_RATES", {})}
        rate = rates.get(self.scope)
        return rate or None  # an empty rate switches the throttle off (benchmarks)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        return super().allow_request(request, view)

    def get_ident(self, request) -> str:
        return client_address(request)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PublicReadThrottle(PublicRateThrottle):
    scope = "public_read"


class PublicOrderThrottle(PublicRateThrottle):
    """Bookings per client address: the API's and the shop page's share one count."""

    scope = "public_order"


class PublicLookupThrottle(PublicRateThrottle):
    scope = "public_lookup"
