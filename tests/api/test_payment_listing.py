"""The partner API's listing and day summary: what a cash register reads for its end-of-day.

Payments are taken the real way (POST /api/v1/payments/ against the sandbox gateway); the box
office's are made by the lifecycle call the box office makes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from payments import lifecycle
from payments.api.terminals import get_or_create_terminal, issue_token

PAID_BUYER = "280000000000000001"
BROKE_BUYER = "280000000000000002"
LIST = "/api/v1/payments/"
SUMMARY = "/api/v1/payments/summary/"


def client_for(store_id: str, terminal_id: str) -> APIClient:
    terminal, _created = get_or_create_terminal(store_id, terminal_id)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(terminal)}")
    return client


def sell(client: APIClient, amount="10.00", currency="HKD", buyer=PAID_BUYER) -> dict:
    body = {"amount": amount, "currency": currency, "description": "Tickets", "buyer_code": buyer}
    response = client.post(LIST, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 201, response.content
    return response.json()


def refund(client: APIClient, payment: dict, amount: str) -> dict:
    response = client.post(
        f"{LIST}{payment['id']}/refunds/",
        {"amount": amount},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 201, response.content
    return response.json()


def listed(client: APIClient, **params) -> list[dict]:
    """Every page of the listing, following `next`."""
    results, url, query = [], LIST, params
    while url:
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        page = response.json()
        results += page["results"]
        url, query = page["next"], None
    return results


def ids(payments: list[dict]) -> list[str]:
    return [p["id"] for p in payments]


@pytest.fixture
def r1(alipay_gateway, clock) -> APIClient:
    return client_for("S1", "R1")


@pytest.fixture
def r2(alipay_gateway) -> APIClient:
    """Another register of the same store."""
    return client_for("S1", "R2")


def test_a_terminal_never_sees_another_stores_payments(r1, r2, clock):
    own = [sell(r1, "10.00"), sell(r2, "20.00")]
    refund(r1, own[0], "4.00")
    zoo = client_for("S2", "R9")
    theirs = sell(zoo, "99.00")
    refund(zoo, theirs, "9.00")
    # The box office (or the shop) under the same store id and terminal id, without the API.
    lifecycle.create_barcode_payment(
        amount="50.00",
        currency="HKD",
        description="Box office sale",
        buyer_code=PAID_BUYER,
        reference="",
        store_id="S1",
        terminal_id="R1",
        actor="box-office:cashier",
    )

    assert sorted(ids(listed(r1))) == sorted(ids(own))
    assert ids(listed(zoo)) == [theirs["id"]]
    assert listed(r1, terminal="R9") == []

    today = timezone.localdate(clock.now()).isoformat()
    summary = r1.get(SUMMARY, {"date": today}).json()
    assert summary["store_id"] == "S1"
    assert summary["payments"] == [
        {"state": "paid", "currency": "HKD", "count": 1, "amount": "20.00"},
        {"state": "partially_refunded", "currency": "HKD", "count": 1, "amount": "10.00"},
    ]
    assert summary["refunds"] == [{"currency": "HKD", "count": 1, "amount": "4.00"}]
    other = zoo.get(SUMMARY, {"date": today}).json()
    assert [(t["count"], t["amount"]) for t in other["payments"]] == [(1, "99.00")]
    assert other["refunds"] == [{"currency": "HKD", "count": 1, "amount": "9.00"}]


def test_filters_by_time_state_and_terminal(r1, r2, clock):
    first = sell(r1)
    clock.advance(60)
    middle = sell(r2, buyer=BROKE_BUYER)
    clock.advance(60)
    last = sell(r1, "30.00")
    refund(r1, last, "30.00")

    assert ids(listed(r1)) == ids([first, middle, last])
    assert ids(listed(r1, created_after=middle["created_at"])) == ids([middle, last])
    assert ids(listed(r1, created_before=middle["created_at"])) == ids([first])
    window = {"created_after": first["created_at"], "created_before": last["created_at"]}
    assert ids(listed(r1, **window)) == ids([first, middle])
    # Another offset, the same instant.
    at_plus8 = (clock.now() - timedelta(seconds=30)).astimezone(timezone.get_fixed_timezone(480))
    assert ids(listed(r1, created_after=at_plus8.isoformat())) == ids([last])

    assert ids(listed(r1, state="failed")) == ids([middle])
    assert ids(listed(r1, state="failed,refunded")) == ids([middle, last])
    assert ids(listed(r1, state=["paid", "refunded"])) == ids([first, last])
    assert ids(listed(r1, terminal="R2")) == ids([middle])
    assert ids(listed(r2, terminal="R1", state="paid")) == ids([first])


def test_cursor_pages_are_stable_when_payments_share_a_time_and_new_ones_arrive(r1, clock):
    # The clock stands still: every payment has the same created_at, the id breaks the tie.
    sold = [sell(r1, f"{n}.00") for n in range(1, 6)]
    first = r1.get(LIST, {"page_size": 2}).json()
    assert ids(first["results"]) == ids(sold[:2]) and first["previous"] is None
    late = sell(r1, "9.00")  # sold while the register pages: it comes at the end, once
    seen = first["results"]
    url = first["next"]
    while url:
        page = r1.get(url).json()
        assert len(page["results"]) <= 2
        seen += page["results"]
        url = page["next"]
    assert ids(seen) == ids([*sold, late])
    back = r1.get(r1.get(first["next"]).json()["previous"]).json()
    assert ids(back["results"]) == ids(sold[:2])


def test_listing_queries_do_not_grow_with_the_payments(r1):
    sell(r1)

    def count() -> tuple[int, int]:
        """(payments listed, queries run) for one page."""
        with CaptureQueriesContext(connection) as queries:
            response = r1.get(LIST, {"page_size": 200})
        assert response.status_code == 200
        return len(response.json()["results"]), len(queries)

    one = count()
    for _n in range(29):
        sell(r1)
    thirty = count()
    assert (one[0], thirty[0]) == (1, 30)
    assert one[1] == thirty[1]


def test_summary_counts_the_sites_day_and_names_its_zone(r1, clock, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    zone = timezone.get_default_timezone()
    # 23:30 in Beijing, two days ago (the sandbox refunds only what is in its past): sales
    # before midnight belong to that day, after it to the next.
    evening = (timezone.now() - timedelta(days=2)).astimezone(zone)
    evening = evening.replace(hour=23, minute=30, second=0, microsecond=0)
    clock.freeze(evening)
    paid = sell(r1, "100.00")
    sell(r1, "7.00", buyer=BROKE_BUYER)
    sell(r1, "1200", currency="JPY")
    clock.advance(3600)  # 00:30 the next day
    sell(r1, "5.00")
    clock.advance(2 * 3600)  # 02:30, after Alipay's refund blackout (00:00-01:30 Beijing)
    refund(r1, paid, "25.00")  # refunded the next day: that day's refund

    day = evening.date()
    summary = r1.get(SUMMARY, {"date": day.isoformat()}).json()
    assert summary["timezone"] == "Asia/Shanghai"
    assert summary["date"] == day.isoformat()
    assert (summary["start"], summary["end"]) == (
        f"{day.isoformat()}T00:00:00+08:00",
        f"{(day + timedelta(days=1)).isoformat()}T00:00:00+08:00",
    )
    assert summary["payments"] == [
        {"state": "failed", "currency": "HKD", "count": 1, "amount": "7.00"},
        # Counted under the state it is in now: refunded in part since.
        {"state": "partially_refunded", "currency": "HKD", "count": 1, "amount": "100.00"},
        {"state": "paid", "currency": "JPY", "count": 1, "amount": "1200"},
    ]
    assert summary["refunds"] == []

    next_day = r1.get(SUMMARY, {"date": (day + timedelta(days=1)).isoformat()}).json()
    assert next_day["payments"] == [
        {"state": "paid", "currency": "HKD", "count": 1, "amount": "5.00"}
    ]
    assert next_day["refunds"] == [{"currency": "HKD", "count": 1, "amount": "25.00"}]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (LIST, "created_after=yesterday", "created_after"),
        (LIST, "created_after=2026-12-02T10:00:00", "created_after"),  # no offset
        (LIST, "created_before=2026-13-02T10:00:00%2B08:00", "created_before"),
        (LIST, "created_before=0001-01-01T00:00:00%2B14:00", "created_before"),
        (
            LIST,
            "created_after=2026-12-02T10:00:00Z&created_before=2026-12-01T10:00:00Z",
            "created_before",
        ),
        (LIST, "state=paid,bogus", "state"),
        (LIST, "state=", "state"),
        (LIST, "terminal=no%20spaces", "terminal"),
        (LIST, "page_size=0", "page_size"),
        (LIST, "page_size=201", "page_size"),
        (LIST, "page_size=ten", "page_size"),
        (LIST, "cursor=abc", "cursor"),  # not base64
        (LIST, "cursor=cD1ub3QtYS1kYXRl", "cursor"),  # base64 of "p=not-a-date"
        (LIST, "created_afer=2026-12-02T10:00:00Z", "created_afer"),  # misspelt filter
        (SUMMARY, "", "date"),
        (SUMMARY, "date=02.12.2026", "date"),
        (SUMMARY, "date=2026-02-30", "date"),
        (SUMMARY, "date=9999-12-31", "date"),
    ],
)
def test_bad_query_is_400_naming_the_parameter(api, path, query, field):
    response = api.get(f"{path}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_request"
    assert list(body["fields"]) == [field]
    assert body["message"].startswith(f"{field}: ")


def test_listing_and_summary_need_a_terminal_token(client):
    for path in (LIST, f"{SUMMARY}?date=2026-12-02"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_schema_documents_the_listing_and_the_summary(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    listing = schema["paths"]["/api/v1/payments/"]["get"]
    summary = schema["paths"]["/api/v1/payments/summary/"]["get"]
    for operation in (listing, summary):
        assert operation["security"] == [{"TerminalToken": []}]
        assert {"200", "400", "401"} <= set(operation["responses"])
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert set(parameters) == {
        "created_after",
        "created_before",
        "state",
        "terminal",
        "page_size",
        "cursor",
    }
    assert parameters["state"]["explode"] is True
    assert "paid" in parameters["state"]["schema"]["items"]["enum"]
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][page.rsplit("/", 1)[-1]]["properties"]) == {
        "next",
        "previous",
        "results",
    }
    (date,) = summary["parameters"]
    assert (date["name"], date["required"]) == ("date", True)
    body = summary["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert "timezone" in schema["components"]["schemas"][body.rsplit("/", 1)[-1]]["properties"]
