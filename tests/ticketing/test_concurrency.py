"""200 buyers race for 50 places through gunicorn (2 processes), on SQLite and on PostgreSQL.

Exactly 50 admissions are held, every loser gets a clean 409 `sold_out`, nobody gets a 5xx or a
"database is locked". Run against PostgreSQL by setting DATABASE_URL (CI does both).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
import requests

from ticketing.inventory import check_capacity
from ticketing.models import Order, TimeSlot

from .gunicorn_server import gunicorn
from .helpers import Booking, make_attraction

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BUYERS = 200
PLACES = 50


def race(base: str, body_for, buyers: int) -> list[tuple[int, dict]]:
    start = threading.Barrier(buyers)
    results: list[tuple[int, dict]] = [(0, {})] * buyers

    def buyer(index: int) -> None:
        session = requests.Session()
        start.wait()
        try:
            response = session.post(
                f"{base}/api/v1/orders/",
                json=body_for(index),
                headers={"Idempotency-Key": str(uuid.uuid4())},
                timeout=60,
            )
            try:
                payload = response.json()
            except ValueError:
                payload = {"raw": response.text[:200]}
            results[index] = (response.status_code, payload)
        except requests.RequestException as exc:
            results[index] = (-1, {"error": repr(exc)})
        finally:
            session.close()

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def one_adult(slug: str, slot_id: int, adult_id: int):
    """Buyer `index`'s order body: one adult ticket in the slot."""

    def body(index: int) -> dict:
        return {
            "attraction": slug,
            "slot": slot_id,
            "quantities": [{"ticket_type": adult_id, "quantity": 1}],
            "buyer_name": f"Buyer {index}",
            "email": f"buyer{index}@example.com",
            "language": "en",
        }

    return body


def test_two_hundred_buyers_fifty_places_exactly_fifty_sold_no_errors(transactional_db):
    booking = Booking(make_attraction("race"))
    slot = booking.slot(capacity=PLACES)
    adult = booking.types["adult"].id

    body = one_adult("race", slot.pk, adult)

    with gunicorn() as base:
        results = race(base, body, BUYERS)
    statuses = Counter(status for status, _body in results)
    assert statuses == {201: PLACES, 409: BUYERS - PLACES}, results[:5]
    assert {body["code"] for status, body in results if status == 409} == {"sold_out"}
    slot.refresh_from_db()
    assert (slot.held, slot.sold) == (PLACES, 0)
    assert Order.objects.filter(slot=slot).count() == PLACES
    assert check_capacity([slot.pk]) == []


def test_mixed_party_sizes_never_oversell(transactional_db):
    """Families (4), couples and singles: the slot fills up to, never past, its capacity."""
    booking = Booking(make_attraction("race-mixed"))
    slot = booking.slot(capacity=PLACES)
    sizes = [("family", 1), ("adult", 2), ("adult", 1)]

    def body(index: int) -> dict:
        code, quantity = sizes[index % len(sizes)]
        return {
            "attraction": "race-mixed",
            "slot": slot.pk,
            "quantities": [
                {"ticket_type": booking.types[code].id, "quantity": quantity},
                {"ticket_type": booking.types["infant"].id, "quantity": index % 2},
            ],
            "buyer_name": f"Buyer {index}",
            "email": f"buyer{index}@example.com",
            "language": "zh-hans",
        }

    with gunicorn() as base:
        results = race(base, body, 120)
    statuses = Counter(status for status, _body in results)
    assert set(statuses) <= {201, 409} and statuses[201] > 0, statuses
    slot = TimeSlot.objects.get(pk=slot.pk)
    held = sum(o.admissions for o in Order.objects.filter(slot=slot))
    assert slot.held == held <= PLACES
    # Whoever lost, lost because their party no longer fitted.
    assert PLACES - held < 4
    assert check_capacity([slot.pk]) == []


def test_buyers_racing_for_places_of_expired_holds_reclaim_each_exactly_once(transactional_db):
    """The slot is full of abandoned holds: every buyer's sold-out path expires them at once,
    concurrently. Each expires once, its places are taken once, and the slot ends exactly full."""
    from datetime import timedelta

    from payments import clock

    booking = Booking(make_attraction("race-expired"))
    slot = booking.slot(capacity=PLACES)
    clock.freeze(clock.now() - timedelta(minutes=30))  # booked half an hour ago, then abandoned
    try:
        abandoned = [booking.order(slot, email=f"gone{i}@example.com").pk for i in range(PLACES)]
    finally:
        clock.reset()
    adult = booking.types["adult"].id

    body = one_adult("race-expired", slot.pk, adult)

    with gunicorn() as base:
        results = race(base, body, 120)
    statuses = Counter(status for status, _body in results)
    assert statuses == {201: PLACES, 409: 120 - PLACES}, statuses
    assert set(Order.objects.filter(pk__in=abandoned).values_list("state", flat=True)) == {
        Order.State.EXPIRED
    }
    expired_events = Order.objects.filter(pk__in=abandoned, events__kind="hold_expired").count()
    assert expired_events == PLACES  # each hold expired exactly once
    slot.refresh_from_db()
    assert (slot.held, slot.sold) == (PLACES, 0)
    assert check_capacity([slot.pk]) == []
