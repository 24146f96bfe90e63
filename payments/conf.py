"""The PAYMENTS settings and their defaults, in one place.

settings.py reads each one from the environment variable named PAYMENTS_<NAME>; the defaults here
apply to whatever settings.PAYMENTS leaves out (and settings.py takes its POLLER_SHARDS default
from here, so the code and the site cannot disagree on it). The lowest layer of the payments app:
it imports nothing of the project but the clock, so any module, even the API's idempotency
store, can read a setting without pulling in the lifecycle.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from payments import clock

DEFAULTS = {
    "FIRST_QUERY_DELAY": 3.0,
    "POLL_INTERVAL": 3.0,
    "DEADLINE_SECONDS": 60,
    "QR_DEADLINE_SECONDS": 300,
    "PAY_RESEND_MAX": 2,
    "CANCEL_MAX_ATTEMPTS": 8,
    "CANCEL_RETRY_INTERVAL": 3.0,
    "REFUND_MAX_ATTEMPTS": 6,
    "REFUND_RETRY_INTERVAL": 5.0,
    "SWEEP_GRACE_SECONDS": 10.0,
    "POLLER_THREADS": 16,
    # Pollers that may run at once (each on payment id modulo this), across workers and hosts.
    "POLLER_SHARDS": 2,
    # Staff are mailed once when the oldest due step has waited longer than this (payments.backlog).
    "POLLER_ALERT_SECONDS": 30.0,
    # How long a poller round owns a row it claimed; past it the row is due again (a crash).
    "CLAIM_SECONDS": 30.0,
    # Respect Alipay's 00:00-01:30 Beijing refund blackout (refunds.py); off only in tests.
    "REFUND_BLACKOUT": True,
    # How long an idempotent API request may hold its key before a retry takes it over (its
    # process died): well above the longest request (gateway connect + read timeouts per call).
    "IDEMPOTENCY_STALE_SECONDS": 120.0,
}


def conf(name: str):
    """A PAYMENTS setting, read at call time so tests and commands can change it."""
    return getattr(settings, "PAYMENTS", {}).get(name, DEFAULTS[name])


def later(seconds: float, *, start: datetime | None = None) -> datetime:
    return (start or clock.now()) + timedelta(seconds=seconds)
