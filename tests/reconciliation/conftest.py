"""Reconciliation fixtures: a Beijing day of real payments through the live sandbox.

The day is 27 Nov 2026 (Beijing); the clock is frozen at 10:00 that day and moved a minute
between movements so that the files list them in a known order.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from .helpers import DAY_START


@pytest.fixture
def recon(alipay_gateway, clock, mailoutbox, settings):
    """The sandbox over real HTTP as the only source; returns the clock."""
    settings.RECONCILIATION_SOURCES = ["sandbox"]
    settings.SANDBOX_FILE_KNOBS = ""
    settings.ADMINS = [("ops", "ops@entrada.example")]
    clock.freeze(DAY_START)
    return clock


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("auditor", password="x", is_staff=True)
