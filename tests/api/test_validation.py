"""Bad input to the partner API: always a 4xx JSON error with a stable code, never a 500, and
nothing is stored or sent to Alipay (no gateway is even configured here: a request that got as far
as the gateway would show up as a Payment row)."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from payments.api.models import IdempotencyRecord
from payments.api.throttling import TerminalRateThrottle
from payments.models import Payment

GOOD = {
    "amount": "12.50",
    "currency": "HKD",
    "description": "2 adult tickets",
    "buyer_code": "280000000000000001",
}


def create(api, body, key=None, **extra):
    return api.post(
        "/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
        **extra,
    )  # fmt: skip


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code, body
    assert body["message"]
    if field:
        assert field in body["fields"], body
    return body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount",
    ["", ".", "1.", ".5", "1e3", "1E3", "-1", "+1", "1.234", "0", "0.00", "01.50", " 1", "1 ",
     "1,50", "NaN", "Infinity", "0x10", "100000000.01", "1000000000", "١٢", 12.5, 12, None, [], {}],
)  # fmt: skip
def test_bad_amounts_are_refused(api, amount):
    body = assert_error(create(api, {**GOOD, "amount": amount}), 400, "invalid_amount", "amount")
    assert body["fields"]["amount"]
    assert not Payment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("currency", "amount"), [("JPY", "100.5"), ("KRW", "1.00"), ("JPY", "0")])
def test_amounts_must_fit_the_currency(api, currency, amount):
    body = create(api, {**GOOD, "currency": currency, "amount": amount})
    assert_error(body, 400, "invalid_amount", "amount")


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["hkd", "XXX", "", "HK", "HKDX", 344, None])
def test_unknown_currencies_are_refused(api, currency):
    body = assert_error(create(api, {**GOOD, "currency": currency}), 400, "unsupported_currency")
    assert "currency" in body["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code",
    ["", "12345", "240000000000000001", "310000000000000001", "280000000000001",
     "2800000000000000000000001", "28000000000000000a", "2800000000 0000001", 280000000000000001,
     None, ["280000000000000001"]],
)  # fmt: skip
def test_bad_buyer_codes_are_refused(api, code):
    assert_error(create(api, {**GOOD, "buyer_code": code}), 400, "invalid_buyer_code", "buyer_code")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": ""}, "description"),
        ({"description": "x" * 257}, "description"),
        ({"description": 'say "hi"'}, "description"),
        ({"description": "line\nbreak"}, "description"),
        ({"reference": "r" * 65}, "reference"),
        ({"description": 42}, "description"),
        ({"reference": None}, "reference"),
        ({"ammount": "1.00"}, "ammount"),
    ],
)
def test_other_bad_fields_are_named(api, change, field):
    assert_error(create(api, {**GOOD, **change}), 400, "invalid_request", field)


@pytest.mark.django_db
def test_missing_fields_are_listed(api):
    body = assert_error(create(api, {}), 400, "invalid_request")
    assert set(body["fields"]) == {"amount", "currency", "description", "buyer_code"}


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["{not json", "[1, 2", '{"amount": "1.00",}', "\xff"])
def test_malformed_json(api, payload):
    response = api.post(
        "/api/v1/payments/", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_error(response, 400, "malformed_json")
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ['["a list"]', '"text"', "null", "42"])
def test_json_that_is_not_an_object(api, payload):
    response = api.post(
        "/api/v1/payments/", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_error(response, 400, "invalid_request")


@pytest.mark.django_db
def test_form_bodies_are_unsupported_media(api):
    response = api.post("/api/v1/payments/", GOOD, format="multipart", HTTP_IDEMPOTENCY_KEY="k")
    assert_error(response, 415, "unsupported_media_type")
    response = api.post(
        "/api/v1/payments/", "amount=1", content_type="text/plain", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_missing_idempotency_key(api):
    response = api.post("/api/v1/payments/", GOOD, format="json")
    assert_error(response, 400, "idempotency_key_required")
    pid = uuid.uuid4()
    for url in [f"/api/v1/payments/{pid}/cancel/", f"/api/v1/payments/{pid}/refunds/"]:
        assert_error(
            api.post(url, {"amount": "1.00"}, format="json"), 400, "idempotency_key_required"
        )
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_auth_is_required_everywhere():
    client = APIClient()
    pid = uuid.uuid4()
    calls = [
        ("post", "/api/v1/payments/"),
        ("get", f"/api/v1/payments/{pid}/"),
        ("post", f"/api/v1/payments/{pid}/cancel/"),
        ("get", f"/api/v1/payments/{pid}/refunds/"),
        ("post", f"/api/v1/payments/{pid}/refunds/"),
        ("get", f"/api/v1/payments/{pid}/refunds/{uuid.uuid4()}/"),
    ]
    for method, url in calls:
        response = getattr(client, method)(url, GOOD, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Token"
    for header in ["Token wrong", "Token", "Token a b", "Bearer x", "Token \u00e9t\u00e9"]:
        client.credentials(HTTP_AUTHORIZATION=header)
        assert_error(client.get(f"/api/v1/payments/{pid}/"), 401, "not_authenticated")
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("pid", ["not-a-uuid", "123", str(uuid.uuid4())])
def test_unknown_payment_ids_are_not_found(api, pid):
    assert_error(api.get(f"/api/v1/payments/{pid}/"), 404, "not_found")
    assert_error(api.get(f"/api/v1/payments/{pid}/refunds/"), 404, "not_found")
    response = api.post(
        f"/api/v1/payments/{pid}/cancel/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_error(response, 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("wait", ["-1", "31", "abc", "1.5", "1e1"])
def test_bad_wait_is_refused(api, wait):
    body = assert_error(
        api.get(f"/api/v1/payments/{uuid.uuid4()}/?wait={wait}"), 400, "invalid_request"
    )
    assert "wait" in body["fields"]


@pytest.mark.django_db
def test_wrong_methods(api):
    assert_error(api.put("/api/v1/payments/", {}), 405, "method_not_allowed")
    assert_error(api.delete(f"/api/v1/payments/{uuid.uuid4()}/"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_only_json_is_offered(api):
    response = api.get(f"/api/v1/payments/{uuid.uuid4()}/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"


@pytest.mark.django_db
def test_throttling_per_terminal(api, other_store_token):
    original = TerminalRateThrottle.THROTTLE_RATES
    TerminalRateThrottle.THROTTLE_RATES = {"partner_terminal": "3/min"}
    cache.clear()
    try:
        statuses = [api.get(f"/api/v1/payments/{uuid.uuid4()}/").status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        body = assert_error(api.get(f"/api/v1/payments/{uuid.uuid4()}/"), 429, "throttled")
        assert body["message"]
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Token {other_store_token[1]}")
        assert other.get(f"/api/v1/payments/{uuid.uuid4()}/").status_code == 404
    finally:
        TerminalRateThrottle.THROTTLE_RATES = original
        cache.clear()


@pytest.mark.django_db
def test_a_misconfigured_gateway_is_503_without_details_and_releases_the_key(api, settings):
    settings.ALIPAY = {
        **settings.ALIPAY,
        "SIGN_TYPE": "RSA2",
        "PRIVATE_KEY": "",
        "PRIVATE_KEY_FILE": "/nonexistent/merchant-private.pem",
    }
    response = create(api, GOOD, key="sale-1")
    body = assert_error(response, 503, "gateway_unavailable")
    assert body["fields"] == {}
    assert "nonexistent" not in response.content.decode()
    assert not Payment.objects.exists()
    # Nothing was sent, so the key is free for the retry once the gateway is fixed.
    assert not IdempotencyRecord.objects.filter(key="sale-1").exists()


@pytest.mark.django_db
def test_an_unknown_known_state_is_refused(api):
    body = assert_error(
        api.get(f"/api/v1/payments/{uuid.uuid4()}/?wait=5&state=asleep"), 400, "invalid_request"
    )
    assert "state" in body["fields"]
