"""Helpers for the sandbox tests."""

from __future__ import annotations

import itertools

from payments import clock

_ids = itertools.count(1)


def new_id(prefix: str = "T") -> str:
    """A partner_trans_id no other test in the run uses."""
    return f"{prefix}{clock.now():%H%M%S%f}{next(_ids)}"
