"""Which orders this browser may see: the codes it booked or looked up, kept in its session.

An order's pages show the buyer's name and e-mail and hand out its tickets, so knowing (or guessing)
an order code is not enough: the code must have been booked in this session, proven with the
e-mail address on the look-up page (rate-limited), or opened with the order's secret token.
"""

from __future__ import annotations

from django.http import HttpRequest

SESSION_KEY = "shop_orders"
# Enough for a family booking several visits; the oldest codes drop out first.
MAX_CODES = 20


def allow(request: HttpRequest, code: str) -> None:
    codes = [c for c in request.session.get(SESSION_KEY, []) if c != code]
    codes.append(code)
    request.session[SESSION_KEY] = codes[-MAX_CODES:]
    # A new order changes what this session may read: a fresh session id defeats fixation.
    request.session.cycle_key()


def is_allowed(request: HttpRequest, code: str) -> bool:
    return code in request.session.get(SESSION_KEY, [])
