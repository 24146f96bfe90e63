"""GET /payments/health/poller: the pollers' lag for monitors, public and harmless.

A monitor or a status page reads it without credentials, so it shows counts and ages only:
no payment, no amount, no host or process name (those are in `manage.py poller_status`). It
answers 503 while the oldest due step has waited past PAYMENTS_POLLER_ALERT_SECONDS, so an
uptime check alerts on the status code alone. The lag is the whole cluster's, not this web
node's: a load balancer must not take nodes out on it (their own check is any page).
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from payments.backlog import poller_lag


@never_cache
@require_safe
def poller_health(request):
    lag = poller_lag()
    response = JsonResponse(lag.public(), status=503 if lag.lagging else 200)
    # Django logs every 5xx as an ERROR, which production mails to ADMINS: a monitor polling
    # this each minute would mail them each minute. The lag's own alert mails once per incident.
    response._has_been_logged = True
    return response
