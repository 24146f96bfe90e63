"""`manage.py check_capacity` alerts: each mismatch is logged as an ERROR, which production
mails to ADMINS."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from ticketing.models import TimeSlot


def test_a_mismatch_is_mailed_to_the_admins_in_production(booking, settings, mailoutbox):
    settings.DEBUG = False
    settings.ADMINS = [("ops", "ops@museum.example")]
    slot = booking.slot(capacity=10)
    TimeSlot.objects.filter(pk=slot.pk).update(held=3)
    with pytest.raises(CommandError):
        call_command("check_capacity", stdout=io.StringIO(), stderr=io.StringIO())
    alerts = [m for m in mailoutbox if "capacity counters disagree" in m.subject]
    assert len(alerts) == 1
    assert alerts[0].to == ["ops@museum.example"]


def test_matching_counters_mail_nobody(booking, settings, mailoutbox):
    settings.DEBUG = False
    settings.ADMINS = [("ops", "ops@museum.example")]
    booking.order(booking.slot(capacity=10), adult=2)
    out = io.StringIO()
    call_command("check_capacity", stdout=out)
    assert "match" in out.getvalue()
    assert mailoutbox == []
