"""Fixtures shared by the whole suite."""

import pytest

from payments import clock as entrada_clock


@pytest.fixture
def clock():
    """The movable clock, frozen at the real current time; reset after the test."""
    entrada_clock.freeze()
    yield entrada_clock
    entrada_clock.reset()
