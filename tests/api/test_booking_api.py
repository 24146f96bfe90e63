"""The public booking API: JSON in and out, one error shape, guarded order reads, throttled."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from rest_framework.test import APIClient

from ticketing.models import Order


@pytest.fixture
def booking_api():
    return APIClient()


def book(booking_api, booking, slot_row, key=None, **overrides):
    body = {
        "attraction": booking.attraction.slug,
        "slot": slot_row.pk,
        "quantities": [{"ticket_type": booking.types["adult"].id, "quantity": 2}],
        "buyer_name": "Ada Buyer",
        "email": "ada@example.com",
        "language": "zh-hans",
        **overrides,
    }
    return booking_api.post(
        "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4())
    )


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["message"] and isinstance(body["fields"], dict)
    return body


def test_catalogue_reads(booking_api, booking):
    slot = booking.slot(capacity=7)
    listed = booking_api.get("/api/v1/attractions/").json()
    assert [a["slug"] for a in listed] == [booking.attraction.slug]
    assert listed[0]["name_zh"] == "测试花园"
    detail = booking_api.get(f"/api/v1/attractions/{booking.attraction.slug}/").json()
    family = next(t for t in detail["ticket_types"] if t["code"] == "family")
    assert family["admissions"] == 4 and family["price"] == "200.00"
    types = booking_api.get(f"/api/v1/attractions/{booking.attraction.slug}/ticket-types/").json()
    assert [t["code"] for t in types] == ["adult", "child", "senior", "family", "infant"]
    day = slot.local_date.isoformat()
    days = booking_api.get(
        f"/api/v1/attractions/{booking.attraction.slug}/availability/?from={day}&to={day}"
    ).json()
    assert days == [
        {
            "date": day,
            "capacity": 7,
            "places_left": 7,
            "slots": [
                {
                    "id": slot.pk,
                    "starts_at": days[0]["slots"][0]["starts_at"],
                    "ends_at": days[0]["slots"][0]["ends_at"],
                    "capacity": 7,
                    "places_left": 7,
                    "bookable": True,
                }
            ],
        }
    ]
    slots = booking_api.get(
        f"/api/v1/attractions/{booking.attraction.slug}/slots/?date={day}"
    ).json()
    assert [s["id"] for s in slots] == [slot.pk]


@pytest.mark.parametrize(
    "query",
    [
        "from=yesterday",
        "from=2026-01-10&to=2026-01-01",
        "from=2026-01-01&to=2026-12-31",
        "from=0001-01-01&to=9999-12-31",
    ],
)
def test_bad_availability_ranges_are_400(booking_api, booking, query):
    response = booking_api.get(
        f"/api/v1/attractions/{booking.attraction.slug}/availability/?{query}"
    )
    assert_error(response, 400, "invalid_request")


def test_the_last_representable_day_is_an_empty_answer_not_an_error(booking_api, booking):
    response = booking_api.get(
        f"/api/v1/attractions/{booking.attraction.slug}/availability/?from=9999-12-31"
    )
    assert (response.status_code, response.json()) == (200, [])


def test_unknown_attractions_are_json_404(booking_api, db):
    assert_error(booking_api.get("/api/v1/attractions/nope/"), 404, "not_found")
    assert_error(
        booking_api.get("/api/v1/attractions/%20/slots/?date=2026-01-01"), 404, "not_found"
    )


def test_booking_holds_places_and_returns_a_token(booking_api, booking):
    slot = booking.slot(capacity=5)
    response = book(booking_api, booking, slot)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "held" and body["total"] == "160.00" and body["admissions"] == 2
    assert body["language"] == "zh-hans" and len(body["code"]) == 8 and body["token"]
    slot.refresh_from_db()
    assert slot.held == 2


def test_a_retried_booking_with_the_same_key_books_once(booking_api, booking):
    slot = booking.slot(capacity=5)
    first = book(booking_api, booking, slot, key="retry-1")
    again = book(booking_api, booking, slot, key="retry-1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    other = book(booking_api, booking, slot, key="retry-1", buyer_name="Someone Else")
    assert_error(other, 409, "idempotency_key_reused")


def test_booking_needs_an_idempotency_key(booking_api, booking):
    booking.slot()
    response = booking_api.post("/api/v1/orders/", {"attraction": "x"}, format="json")
    assert_error(response, 400, "idempotency_key_required")


def test_a_sold_out_slot_is_a_clean_409(booking_api, booking):
    slot = booking.slot(capacity=3)
    assert book(booking_api, booking, slot).status_code == 201
    body = assert_error(book(booking_api, booking, slot), 409, "sold_out")
    assert "places" in body["message"]
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"email": "nope"}, "invalid_request", "email"),
        ({"quantities": []}, "invalid_request", "quantities"),
        ({"quantities": [{"ticket_type": 1, "quantity": "many"}]}, "invalid_request", None),
        ({"language": "fr"}, "invalid_request", "language"),
        ({"slot": 999999}, "invalid_request", "slot"),
        ({"slot": 10**30}, "invalid_request", "slot"),
        ({"quantities": [{"ticket_type": 10**30, "quantity": 1}]}, "invalid_request", None),
        ({"quantities": [{"ticket_type": 999999, "quantity": 1}]}, "invalid_quantity", None),
        ({"buyer_name": "   "}, "invalid_request", "buyer_name"),
    ],
)
def test_bad_bookings_are_400_and_hold_nothing(booking_api, booking, overrides, code, field):
    slot = booking.slot()
    body = assert_error(book(booking_api, booking, slot, **overrides), 400, code)
    if field:
        assert any(name.split(".")[0] == field for name in body["fields"]), body
    slot.refresh_from_db()
    assert slot.held == 0 and not Order.objects.exists()


def test_non_json_bodies_are_refused(booking_api, booking):
    response = booking_api.post(
        "/api/v1/orders/",
        "attraction=x",
        content_type="application/x-www-form-urlencoded",
        HTTP_IDEMPOTENCY_KEY="k-form",
    )
    assert_error(response, 415, "unsupported_media_type")
    malformed = booking_api.post(
        "/api/v1/orders/", "{", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-bad"
    )
    assert_error(malformed, 400, "malformed_json")


def test_reading_an_order_needs_its_token_or_email(booking_api, booking):
    created = book(booking_api, booking, booking.slot()).json()
    code, token = created["code"], created["token"]
    by_token = booking_api.get(f"/api/v1/orders/{code}/?token={token}")
    assert by_token.status_code == 200
    assert by_token.json()["state"] == "held" and by_token.json()["seconds_left"] > 0
    by_email = booking_api.get(f"/api/v1/orders/{code.lower()}/?email=ADA@example.com")
    assert by_email.status_code == 200
    # No proof, a wrong proof and an unknown code are indistinguishable.
    for url in (
        f"/api/v1/orders/{code}/",
        f"/api/v1/orders/{code}/?token=wrong",
        f"/api/v1/orders/{code}/?email=eve@example.com",
        f"/api/v1/orders/ZZZZZZZZ/?token={token}",
        f"/api/v1/orders/{code}/?token=票票",
    ):
        assert_error(booking_api.get(url), 404, "not_found")


def test_tickets_of_an_unpaid_order_are_a_409(booking_api, booking):
    created = book(booking_api, booking, booking.slot()).json()
    response = booking_api.get(
        f"/api/v1/orders/{created['code']}/tickets.pdf?token={created['token']}"
    )
    assert_error(response, 409, "no_tickets")


def test_starting_payment_needs_the_token(booking_api, booking):
    created = book(booking_api, booking, booking.slot()).json()
    response = booking_api.post(f"/api/v1/orders/{created['code']}/payment/", {}, format="json")
    assert_error(response, 404, "not_found")


def test_order_lookups_are_throttled(booking_api, booking, settings):
    settings.TICKETING_API_RATES = {"public_lookup": "3/min"}
    from django.core.cache import cache

    cache.clear()
    for _ in range(3):
        assert booking_api.get("/api/v1/orders/ABCDEFGH/?email=a@example.com").status_code == 404
    response = booking_api.get("/api/v1/orders/ABCDEFGH/?email=a@example.com")
    assert_error(response, 429, "throttled")
    assert response["Retry-After"]


def test_the_booking_api_is_in_the_schema(booking_api, db):
    schema = booking_api.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/attractions/",
        "/api/v1/attractions/{slug}/availability/",
        "/api/v1/orders/",
        "/api/v1/orders/{code}/",
        "/api/v1/orders/{code}/payment/",
        "/api/v1/orders/{code}/tickets.pdf",
    ):
        assert path in schema["paths"], path


def test_availability_defaults_to_the_next_month(booking_api, booking, clock):
    booking.slot()
    days = booking_api.get(f"/api/v1/attractions/{booking.attraction.slug}/availability/").json()
    assert len(days) == 1
    assert dt.date.fromisoformat(days[0]["date"]) >= clock.now().date()


def test_the_fast_booking_answer_matches_the_documented_serializer(booking_api, booking):
    from ticketing.api.serializers import OrderCreatedSerializer

    body = book(
        booking_api,
        booking,
        booking.slot(),
        quantities=[
            {"ticket_type": booking.types["family"].id, "quantity": 1},
            {"ticket_type": booking.types["adult"].id, "quantity": 1},
        ],
    ).json()
    order = Order.objects.get(code=body["code"])
    assert body == OrderCreatedSerializer(order).data


def test_polling_with_the_token_is_not_held_to_the_lookup_rate(booking_api, booking, settings):
    settings.TICKETING_API_RATES = {"public_lookup": "2/min", "public_read": "100/min"}
    from django.core.cache import cache

    cache.clear()
    created = book(booking_api, booking, booking.slot()).json()
    for _ in range(5):
        response = booking_api.get(f"/api/v1/orders/{created['code']}/?token={created['token']}")
        assert response.status_code == 200
    for _ in range(2):
        booking_api.get(f"/api/v1/orders/{created['code']}/?email=eve@example.com")
    assert (
        booking_api.get(f"/api/v1/orders/{created['code']}/?email=ada@example.com").status_code
        == 429
    )


def test_a_wrong_token_beside_an_email_is_held_to_the_lookup_rate(booking_api, booking, settings):
    settings.TICKETING_API_RATES = {"public_lookup": "2/min", "public_read": "100/min"}
    from django.core.cache import cache

    cache.clear()
    created = book(booking_api, booking, booking.slot()).json()
    url = f"/api/v1/orders/{created['code']}/"
    for guess in ("eve@example.com", "bob@example.com"):
        assert booking_api.get(url, {"token": "not-the-token", "email": guess}).status_code == 404
    limited = booking_api.get(url, {"token": "not-the-token", "email": "ada@example.com"})
    assert_error(limited, 429, "throttled")
    # The same through the payment endpoint (the proof in the body) and the token header.
    header = booking_api.get(url, {"email": "ada@example.com"}, HTTP_X_ORDER_TOKEN="not-the-token")
    assert header.status_code == 429
    payment = booking_api.post(
        f"{url}payment/", {"token": "not-the-token", "email": "ada@example.com"}, format="json"
    )
    assert payment.status_code == 429
    # The real token still polls freely.
    assert booking_api.get(url, {"token": created["token"]}).status_code == 200
