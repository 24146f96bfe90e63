"""Fixtures of the payment lifecycle tests: the live sandbox gateway and a frozen clock.

With django-q2 in sync mode and the clock frozen, the poller runs inline when a payment goes
pending and clock.sleep advances the clock, so a 60 s polling chain runs in well under a second
while recording its real 3 s steps.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def sandbox_clock(alipay_gateway, clock, mailoutbox):
    """The sandbox over real HTTP and the clock frozen; returns the clock, which tests move."""
    return clock
