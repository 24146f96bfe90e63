"""The generic idempotency layer, through a small DRF view that creates a row per call: the
same key never runs the work twice, and only real answers are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.api.auth import IsTerminal, TerminalTokenAuthentication
from payments.api.idempotency import (
    IDEMPOTENCY_TTL,
    idempotent,
    purge_expired,
    request_fingerprint,
)
from payments.api.models import IdempotencyRecord, Store


class StoreCreator(APIView):
    """Creates a Store per executed call, so a test can count executions in the database."""

    authentication_classes = [TerminalTokenAuthentication]
    permission_classes = [IsTerminal]

    @idempotent(scope=lambda request: request.user.idempotency_scope)
    def post(self, request):
        name = request.data.get("name")
        if name == "invalid":
            raise serializers.ValidationError({"name": ["not this one"]})
        if name == "boom":
            raise RuntimeError("a bug")
        store = Store.objects.create(store_id=f"X{Store.objects.count()}", name=name)
        if name == "nested":
            # A second request with the same key while this one still runs.
            nested = self.client.post(
                "/stores/", {"name": "nested"}, format="json", HTTP_IDEMPOTENCY_KEY="k-nested"
            )
            return Response({"nested_status": nested.status_code, "nested": nested.json()}, 201)
        return Response({"store_id": store.store_id}, status=201)


urlpatterns = [path("stores/", StoreCreator.as_view())]
pytestmark = pytest.mark.urls(__name__)


def post(api, body, key="k1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post("/stores/", body, format="json", **headers)


def test_same_key_and_body_runs_once_and_replays(api):
    first = post(api, {"name": "a", "n": 1})
    again = post(api, {"n": 1, "name": "a"})  # same document, other key order
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Store.objects.filter(name="a").count() == 1


def test_same_key_other_body_is_refused(api):
    post(api, {"name": "a"})
    response = post(api, {"name": "b"})
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Store.objects.filter(name="b").exists()


def test_keys_are_per_terminal(api, other_store_token):
    post(api, {"name": "a"})
    api.credentials(HTTP_AUTHORIZATION=f"Token {other_store_token[1]}")
    response = post(api, {"name": "a"})
    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert Store.objects.filter(name="a").count() == 2


def test_missing_and_invalid_keys(api):
    missing = post(api, {"name": "a"}, key=None)
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_required"
    for bad in ["x" * 256, "tab\there", "caf\u00e9"]:
        response = api.post("/stores/", {"name": "a"}, format="json", HTTP_IDEMPOTENCY_KEY=bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "idempotency_key_invalid"
    assert post(api, {"name": "a"}, key="x" * 255).status_code == 201
    assert Store.objects.filter(name="a").count() == 1


def test_a_4xx_is_stored_and_replayed(api):
    first = post(api, {"name": "invalid"})
    again = post(api, {"name": "invalid"})
    assert first.status_code == again.status_code == 400
    assert (
        again.json()
        == first.json()
        == {
            "code": "invalid_request",
            "message": "name: not this one",
            "fields": {"name": ["not this one"]},
        }
    )
    assert again["Idempotent-Replayed"] == "true"


def test_an_unexpected_error_releases_the_key(api):
    response = post(api, {"name": "boom"})
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert not IdempotencyRecord.objects.filter(key="k1").exists()
    # Once fixed (here: another body is allowed, since nothing was stored), the key is free.
    assert post(api, {"name": "a"}).status_code == 201


def test_a_concurrent_duplicate_is_told_to_wait(api):
    StoreCreator.client = api
    response = post(api, {"name": "nested"}, key="k-nested")
    assert response.status_code == 201
    assert response.json()["nested_status"] == 409
    assert response.json()["nested"]["code"] == "idempotency_in_progress"
    assert Store.objects.filter(name="nested").count() == 1


def test_malformed_json_is_not_stored(api):
    response = api.post(
        "/stores/", "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert not IdempotencyRecord.objects.exists()


def test_expired_keys_are_forgotten(api, clock):
    post(api, {"name": "a"})
    clock.advance(IDEMPOTENCY_TTL.total_seconds() + 1)
    # An expired key is a new key: the work runs again, with whatever body.
    assert post(api, {"name": "b"}).status_code == 201
    assert Store.objects.filter(name="b").count() == 1
    clock.advance(IDEMPOTENCY_TTL.total_seconds() + 1)
    assert purge_expired() == 1
    assert not IdempotencyRecord.objects.exists()


def test_fingerprint_covers_method_path_and_canonical_body():
    base = request_fingerprint("POST", "/a/", {"x": 1, "y": [1, 2]})
    assert base == request_fingerprint("post", "/a/", {"y": [1, 2], "x": 1})
    assert base != request_fingerprint("POST", "/b/", {"x": 1, "y": [1, 2]})
    assert base != request_fingerprint("POST", "/a/", {"x": 1, "y": [2, 1]})
    assert base != request_fingerprint("POST", "/a/", {"x": "1", "y": [1, 2]})


def test_record_expiry_is_a_day(api, clock):
    post(api, {"name": "a"})
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.created_at == timedelta(hours=24)
    assert record.state == IdempotencyRecord.State.DONE


def test_the_daily_schedule_purges_expired_keys(api, clock):
    from django_q.models import Schedule

    from payments.api.tasks import PURGE_SCHEDULE_NAME, ensure_schedules, purge_expired_keys

    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name=PURGE_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type) == (
        "payments.api.tasks.purge_expired_keys",
        Schedule.DAILY,
    )
    post(api, {"name": "a"})
    assert purge_expired_keys() == 0  # not expired yet
    clock.advance(IDEMPOTENCY_TTL.total_seconds())
    assert purge_expired_keys() == 1
