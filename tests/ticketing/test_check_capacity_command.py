"""`manage.py check_capacity` alerts: each mismatch is logged as an ERROR, which production
mails to ADMINS."""

from __future__ import annotations

import io
import logging.config

import pytest
from django.core.management import CommandError, call_command

from ticketing import settings as production
from ticketing.models import TimeSlot


@pytest.fixture
def production_logging(settings):
    """The production LOGGING (test settings keep ERROR logs out of the mail), DEBUG off."""
    settings.DEBUG = False
    settings.ADMINS = [("ops", "ops@museum.example")]
    logging.config.dictConfig(production.LOGGING)
    yield
    logging.config.dictConfig(settings.LOGGING)


def test_a_mismatch_is_mailed_to_the_admins_in_production(booking, production_logging, mailoutbox):
    slot = booking.slot(capacity=10)
    TimeSlot.objects.filter(pk=slot.pk).update(held=3)
    with pytest.raises(CommandError):
        call_command("check_capacity", stdout=io.StringIO(), stderr=io.StringIO())
    alerts = [m for m in mailoutbox if "capacity counters disagree" in m.subject]
    assert len(alerts) == 1
    assert alerts[0].to == ["ops@museum.example"]


def test_matching_counters_mail_nobody(booking, production_logging, mailoutbox):
    booking.order(booking.slot(capacity=10), adult=2)
    out = io.StringIO()
    call_command("check_capacity", stdout=out)
    assert "match" in out.getvalue()
    assert mailoutbox == []


def test_an_alert_that_mails_itself_is_not_mailed_twice(production_logging, mailoutbox):
    logging.getLogger("payments.alerts").error("Payment E1 needs attention: cancel failed")
    logging.getLogger("ticketing.orders").error("paid payment has no order")
    assert [m.subject for m in mailoutbox] == ["[Django] ERROR: paid payment has no order"]
