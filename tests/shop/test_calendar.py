"""The date strip's window: which days it shows for what the buyer asked (no database)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ticketing.views.calendar import HORIZON_DAYS, STRIP_DAYS, Window, parse_day

TODAY = date(2026, 11, 28)


def test_without_a_choice_the_strip_starts_today():
    window = Window.around(TODAY, None, None)
    assert (window.start, window.end, window.chosen) == (TODAY, TODAY + timedelta(13), None)
    assert window.earlier is None
    assert window.later == TODAY + timedelta(STRIP_DAYS)


def test_a_day_beyond_the_strip_moves_the_strip_to_it():
    wanted = TODAY + timedelta(days=40)
    window = Window.around(TODAY, wanted, TODAY)
    assert window.start == wanted
    assert window.chosen == wanted
    assert window.earlier == wanted - timedelta(STRIP_DAYS)


def test_a_day_inside_the_strip_keeps_the_strip_where_it_was():
    window = Window.around(TODAY, TODAY + timedelta(days=20), TODAY + timedelta(days=14))
    assert window.start == TODAY + timedelta(days=14)


@pytest.mark.parametrize("days", [-1, -400, HORIZON_DAYS, 5000])
def test_days_in_the_past_or_beyond_the_horizon_fall_back_to_today(days):
    window = Window.around(TODAY, TODAY + timedelta(days=days), None)
    assert window.out_of_range
    assert window.chosen is None
    assert window.start == TODAY


def test_the_strip_stops_at_the_horizon():
    last = TODAY + timedelta(days=HORIZON_DAYS - 1)
    window = Window.around(TODAY, last, None)
    assert (window.start, window.end) == (last, last)
    assert window.later is None


@pytest.mark.parametrize("value", ["2026-02-30", "2026-1-01", "26-01-01", "2026/01/01", "x"])
def test_parse_day_refuses_what_is_not_an_iso_date(value):
    with pytest.raises(ValueError):
        parse_day(value)


def test_parse_day_reads_iso_dates_and_absence():
    assert parse_day("2026-12-01") == date(2026, 12, 1)
    assert parse_day(None) is None
    assert parse_day("") is None
