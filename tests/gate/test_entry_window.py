"""The entry window: a timed-entry ticket admits from its slot's start minus
TICKET_ENTRY_EARLY_MINUTES until its slot's end plus TICKET_ENTRY_LATE_MINUTES, a half-open
interval [opens, closes), online (the slot from the database) and offline (the token's slot start).

The clock is frozen so that the slot is 10:00-11:00 Shanghai time on 24 Dec 2026 (02:00-03:00
UTC): entry opens at 09:30 and closes at 11:30 with the default 30 minutes either side.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from ticketing import orders
from ticketing.etickets import checkin, keys
from ticketing.models import OrderEvent, Ticket

from ..ticketing.helpers import paid_order, tokens_of

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
SLOT_START = dt.datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI)
OPENS = SLOT_START - dt.timedelta(minutes=30)
CLOSES = SLOT_START + dt.timedelta(hours=1, minutes=30)
MINUTE = dt.timedelta(minutes=1)
TOO_EARLY = "Too early: entry opens at 09:30 on Thursday, Dec. 24, 2026."
EXPIRED = "This ticket was for 10:00-11:00 on Thursday, Dec. 24, 2026; entry closed at 11:30."


@pytest.fixture
def order(booking, clock):
    # booking.slot() starts tomorrow on the hour: 24 Dec 10:00 in Shanghai.
    clock.freeze(SLOT_START - dt.timedelta(days=1))
    order = paid_order(booking, adult=2)
    assert order.slot.starts_at == SLOT_START
    assert order.slot.ends_at == SLOT_START + dt.timedelta(hours=1)
    return order


def test_entry_opens_exactly_early_minutes_before_the_slot(order, clock):
    token = tokens_of(order)[0]
    clock.freeze(OPENS - MINUTE)
    verdict = checkin.check_ticket(token)
    assert not verdict.ok and verdict.code == "too_early"
    assert verdict.message == TOO_EARLY
    assert verdict.ticket.number == 1  # staff can still see whose ticket it is
    clock.freeze(OPENS - dt.timedelta(seconds=1))
    assert checkin.check_ticket(token).code == "too_early"
    clock.freeze(OPENS)
    assert checkin.check_ticket(token).code == "valid"


def test_entry_closes_late_minutes_after_the_slot_ends_and_the_closing_minute_is_too_late(
    order, clock
):
    token = tokens_of(order)[0]
    clock.freeze(CLOSES - MINUTE)
    assert checkin.check_ticket(token).code == "valid"
    clock.freeze(CLOSES - dt.timedelta(seconds=1))
    assert checkin.check_ticket(token).code == "valid"
    clock.freeze(CLOSES)
    verdict = checkin.check_ticket(token)
    assert not verdict.ok and verdict.code == "expired"
    assert verdict.message == EXPIRED


def test_a_ticket_for_another_day_is_refused_with_its_date(order, clock):
    token = tokens_of(order)[0]
    clock.freeze(SLOT_START - dt.timedelta(days=1))
    assert checkin.check_ticket(token).message == TOO_EARLY
    clock.freeze(SLOT_START + dt.timedelta(days=1))
    assert checkin.check_ticket(token).message == EXPIRED


def test_the_window_follows_the_settings(order, clock, settings):
    settings.TICKET_ENTRY_EARLY_MINUTES = 0
    settings.TICKET_ENTRY_LATE_MINUTES = 5
    token = tokens_of(order)[0]
    clock.freeze(SLOT_START - MINUTE)
    verdict = checkin.check_ticket(token)
    assert verdict.code == "too_early"
    assert verdict.message == "Too early: entry opens at 10:00 on Thursday, Dec. 24, 2026."
    clock.freeze(SLOT_START)
    assert checkin.check_ticket(token).ok
    clock.freeze(SLOT_START + dt.timedelta(minutes=64))
    assert checkin.check_ticket(token).ok
    clock.freeze(SLOT_START + dt.timedelta(minutes=65))
    verdict = checkin.check_ticket(token)
    assert verdict.code == "expired"
    assert (
        verdict.message
        == "This ticket was for 10:00-11:00 on Thursday, Dec. 24, 2026; entry closed at 11:05."
    )


def test_admit_refuses_outside_the_window_without_using_the_ticket(order, clock):
    token = tokens_of(order)[0]
    for moment, code in ((OPENS - MINUTE, "too_early"), (CLOSES, "expired")):
        clock.freeze(moment)
        verdict = checkin.admit(token, actor="gate:test")
        assert not verdict.ok and verdict.code == code
    ticket = order.tickets.get(number=1)
    assert ticket.state == Ticket.State.VALID and ticket.used_at is None
    assert not OrderEvent.objects.filter(order=order, kind="ticket_used").exists()
    clock.freeze(OPENS)
    verdict = checkin.admit(token, actor="gate:test")
    assert verdict.ok and verdict.code == "admitted"
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.USED and ticket.used_at == OPENS


def test_refusals_that_are_not_about_time_come_first(order, clock):
    first, second = tokens_of(order)
    clock.freeze(OPENS)
    assert checkin.admit(first, actor="gate:test").ok
    # Scanned again after entry closed: it is "used" (what staff must know), not "expired".
    clock.freeze(CLOSES + dt.timedelta(hours=5))
    assert checkin.check_ticket(first).code == "used"
    # A cancelled order's ticket scanned too early is "revoked", not "too early".
    clock.freeze(OPENS - dt.timedelta(hours=3))
    orders.cancel_order(order, actor="test")
    assert checkin.check_ticket(second).code == "revoked"
    assert checkin.check_ticket("garbage").code == "invalid_token"


def test_offline_with_the_slot_length_closes_exactly_like_online(order, clock):
    token = tokens_of(order)[0]
    public = keys.public_keys()

    def offline(at):
        return checkin.check_offline(
            token, public, revoked=set(), now=at, slot_minutes=60, tz=SHANGHAI
        )

    assert offline(OPENS - MINUTE).code == "too_early"
    assert offline(OPENS - MINUTE).message == TOO_EARLY
    assert offline(OPENS).code == "valid"
    assert offline(CLOSES - MINUTE).code == "valid"
    assert offline(CLOSES).code == "expired"
    assert offline(CLOSES).message == EXPIRED
    # Revocation comes before the window, as online.
    revoked = {order.tickets.get(number=1).uuid}
    assert checkin.check_offline(token, public, revoked, now=OPENS - MINUTE).code == "revoked"


def test_offline_without_the_slot_length_opens_exactly_and_closes_generously(order, clock):
    token = tokens_of(order)[0]
    public = keys.public_keys()
    clock.freeze(OPENS - MINUTE)  # `now` defaults to payments.clock
    verdict = checkin.check_offline(token, public, revoked=set())
    assert verdict.code == "too_early"
    # Without the attraction's time zone, times are told in UTC.
    assert verdict.message == "Too early: entry opens at 01:30 on Thursday, Dec. 24, 2026."
    clock.freeze(OPENS)
    assert checkin.check_offline(token, public, revoked=set()).ok
    # The slot's end is unknown: assumed at most OFFLINE_SLOT_LENGTH (12 h) after its start.
    closes = SLOT_START + checkin.OFFLINE_SLOT_LENGTH + dt.timedelta(minutes=30)
    clock.freeze(closes - MINUTE)
    assert checkin.check_offline(token, public, revoked=set(), tz=SHANGHAI).ok
    clock.freeze(closes)
    verdict = checkin.check_offline(token, public, revoked=set(), tz=SHANGHAI)
    assert verdict.code == "expired"
    assert (
        verdict.message
        == "This ticket was for 10:00 on Thursday, Dec. 24, 2026; entry closed at 22:30."
    )
