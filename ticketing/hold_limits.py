"""How many unpaid holds one client may keep: per browser session and per client address.

Without a cap, one client could book a slot empty (each order holds up to
TICKETING_MAX_ADMISSIONS places for TICKETING_HOLD_MINUTES) and book it again when the holds end.
The shop page and the public API check `ensure_room()` before creating an order, create it with
`client_key(request)` (the order keeps a keyed hash of the client address, `Order.client_key`,
never the address itself: written in the order's own INSERT), and pages call `remember()` right
after, so the browser session keeps its order codes. An order counts while it is
held (hold not yet over) or awaiting payment. Two requests racing past the check can exceed a cap
by the requests in flight at once, which the per-address booking rate keeps small.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.utils.crypto import salted_hmac

from payments import clock
from ticketing.exceptions import TooManyHolds
from ticketing.models import Order
from ticketing.views.throttle import client_address

SESSION_KEY = "ticketing_holds"


def client_key(request) -> str:
    """The client address, hashed with the site's secret: an address space is small enough to
    reverse a plain hash by trying every address."""
    return salted_hmac(
        "ticketing.hold_limits", client_address(request), algorithm="sha256"
    ).hexdigest()


def _active() -> Q:
    return Q(state=Order.State.AWAITING_PAYMENT) | Q(
        state=Order.State.HELD, hold_expires_at__gt=clock.now()
    )


def ensure_room(request, *, session: bool) -> None:
    """Raise TooManyHolds when this client already has its share of unpaid holds.

    `session`: also count the browser session's holds (pages; API clients keep no session).
    """
    per_address = settings.TICKETING_HOLDS_PER_ADDRESS
    if per_address and (
        Order.objects.filter(_active(), client_key=client_key(request)).count() >= per_address
    ):
        raise TooManyHolds()
    per_session = settings.TICKETING_HOLDS_PER_SESSION
    if session and per_session:
        codes = request.session.get(SESSION_KEY, [])
        active = list(
            Order.objects.filter(_active(), code__in=codes).values_list("code", flat=True)
        )
        # Forget the codes whose holds are over, so the session does not grow without end.
        if len(active) != len(codes):
            request.session[SESSION_KEY] = active
        if len(active) >= per_session:
            raise TooManyHolds()


def remember(request, order: Order) -> None:
    """Attribute a new order to the browser session that booked it (pages)."""
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), order.code]
