"""The generic idempotency layer, through a small DRF view that creates a row per call: the
same key never runs the work twice, and only real answers are kept."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.api.auth import IsTerminal, TerminalTokenAuthentication
from payments.api.idempotency import (
    IDEMPOTENCY_TTL,
    KeyReused,
    RequestInProgress,
    _take_over,
    idempotent,
    purge_expired,
    request_fingerprint,
    run_once,
    run_once_atomic,
    stale_after,
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


def left_in_progress(terminal, body: dict, key: str = "k1") -> IdempotencyRecord:
    """The record a request leaves behind when its process dies mid-work: in progress, no answer."""
    from payments import clock

    now = clock.now()
    return IdempotencyRecord.objects.create(
        scope=terminal.idempotency_scope,
        key=key,
        fingerprint=request_fingerprint("POST", "/stores/", body),
        created_at=now,
        expires_at=now + IDEMPOTENCY_TTL,
    )


def test_stale_age_comes_from_the_settings(settings):
    assert stale_after() == timedelta(seconds=120)
    settings.PAYMENTS = {**settings.PAYMENTS, "IDEMPOTENCY_STALE_SECONDS": 300}
    assert stale_after() == timedelta(seconds=300)


def test_a_key_left_in_progress_by_a_dead_request_is_taken_over_once_stale(
    api, terminal_token, clock
):
    dead = left_in_progress(terminal_token[0], {"name": "a"})
    assert post(api, {"name": "a"}).json()["code"] == "idempotency_in_progress"
    clock.advance(stale_after().total_seconds() - 1)
    early = post(api, {"name": "a"})
    assert (early.status_code, early.json()["code"]) == (409, "idempotency_in_progress")
    assert not Store.objects.filter(name="a").exists()

    clock.advance(2)
    # Another body is still another request, stale or not: refused, and the record is left as is.
    other = post(api, {"name": "b"})
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert IdempotencyRecord.objects.get().created_at == dead.created_at

    retry = post(api, {"name": "a"})
    assert retry.status_code == 201
    assert not retry.has_header("Idempotent-Replayed")  # it ran, it was not replayed
    assert Store.objects.filter(name="a").count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.state == IdempotencyRecord.State.DONE
    assert record.created_at == clock.now()
    assert record.expires_at == clock.now() + IDEMPOTENCY_TTL

    again = post(api, {"name": "a"})
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == retry.json()
    assert Store.objects.filter(name__in=["a", "b"]).count() == 1


def test_only_one_of_two_retries_takes_over_a_stale_key(db, clock):
    now = clock.now()
    IdempotencyRecord.objects.create(
        scope="s", key="k", fingerprint="f", created_at=now, expires_at=now + IDEMPOTENCY_TTL
    )
    clock.advance(stale_after().total_seconds() + 1)
    # Both retries read the stale record before either writes.
    first_read = IdempotencyRecord.objects.get()
    second_read = IdempotencyRecord.objects.get()
    assert _take_over(first_read, clock.now()) is True
    assert _take_over(second_read, clock.now()) is False
    assert IdempotencyRecord.objects.get().created_at == clock.now()
    # The loser, going round again, finds a fresh claim: in progress, nothing run.
    ran = []
    with pytest.raises(RequestInProgress):
        run_once(scope="s", key="k", fingerprint="f", work=lambda: ran.append(1) or (201, {}))
    assert ran == []


def test_a_slow_request_cannot_overwrite_the_retry_that_took_its_key_over(db, clock):
    """Stale means presumed dead: should the first request still be running, its answer and its
    release must not touch the record the retry now holds."""

    def retry_work():
        return 201, {"by": "retry"}

    def slow_work():
        clock.advance(stale_after().total_seconds() + 1)
        inner = run_once(scope="s", key="k", fingerprint="f", work=retry_work)
        assert (inner.body, inner.replayed) == ({"by": "retry"}, False)
        return 201, {"by": "slow"}

    outer = run_once(scope="s", key="k", fingerprint="f", work=slow_work)
    assert outer.body == {"by": "slow"}  # the slow request still answers its own client
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.response_body) == (IdempotencyRecord.State.DONE, {"by": "retry"})
    replay = run_once(scope="s", key="k", fingerprint="f", work=slow_work)
    assert (replay.body, replay.replayed) == ({"by": "retry"}, True)


@pytest.mark.parametrize("slow_status", [201, 503], ids=["slow-answer", "slow-5xx"])
def test_a_slow_request_ending_leaves_the_retrys_claim_alone(transactional_db, clock, slow_status):
    """The slow request ends (an answer to store, or a 5xx to release) while the retry that took
    over still runs: the retry's record stays in progress, so a third request is told to wait
    instead of getting the slow answer or running the work again."""
    from django.db import connection

    slow_running, retry_running = threading.Event(), threading.Event()
    slow_may_end, retry_may_end = threading.Event(), threading.Event()
    results = {}

    def request(name, running, may_end, status):
        def work():
            running.set()
            assert may_end.wait(10)
            return status, {"by": name}

        try:
            results[name] = run_once(scope="s", key="k", fingerprint="f", work=work)
        finally:
            connection.close()

    slow = threading.Thread(target=request, args=("slow", slow_running, slow_may_end, slow_status))
    retry = threading.Thread(target=request, args=("retry", retry_running, retry_may_end, 201))
    try:
        slow.start()
        assert slow_running.wait(10)
        clock.advance(stale_after().total_seconds() + 1)
        retry.start()
        assert retry_running.wait(10)
        slow_may_end.set()
        slow.join(10)
        assert results["slow"].status == slow_status
        record = IdempotencyRecord.objects.get()
        assert record.state == IdempotencyRecord.State.IN_PROGRESS
        assert record.created_at == clock.now()  # the retry's claim
        with pytest.raises(RequestInProgress):
            run_once(scope="s", key="k", fingerprint="f", work=lambda: (201, {"by": "third"}))
        retry_may_end.set()
        retry.join(10)
        record.refresh_from_db()
        assert (record.state, record.response_body) == (
            IdempotencyRecord.State.DONE,
            {"by": "retry"},
        )
    finally:
        slow_may_end.set()
        retry_may_end.set()
        for thread in (slow, retry):
            if thread.ident is not None:  # started
                thread.join(10)


# --- atomic=True: the work and its record are one transaction --------------------------------


def _store_work(name: str, status: int = 201):
    """Work that leaves a trace (a Store) so a test can tell whether it was kept."""

    def work():
        Store.objects.create(store_id=f"A{Store.objects.count()}", name=name)
        return status, {"name": name}

    return work


def test_atomic_work_commits_with_its_answer_and_a_retry_replays_it(db):
    first = run_once_atomic(scope="s", key="k", fingerprint="f", work=_store_work("one"))
    record = IdempotencyRecord.objects.get()
    assert (first.status, first.body, first.replayed) == (201, {"name": "one"}, False)
    assert (record.state, record.response_status) == (IdempotencyRecord.State.DONE, 201)
    # The retry's work runs, meets the stored answer and is rolled back: one Store, one answer.
    again = run_once_atomic(scope="s", key="k", fingerprint="f", work=_store_work("two"))
    assert (again.status, again.body, again.replayed) == (201, {"name": "one"}, True)
    assert list(Store.objects.values_list("name", flat=True)) == ["one"]


def test_atomic_work_answering_5xx_or_raising_leaves_nothing(db):
    failed = run_once_atomic(scope="s", key="k", fingerprint="f", work=_store_work("x", 503))
    assert failed.status == 503
    with pytest.raises(ZeroDivisionError):
        run_once_atomic(scope="s", key="k", fingerprint="f", work=lambda: (1 / 0, None))
    assert not Store.objects.exists() and not IdempotencyRecord.objects.exists()
    # The key is still free: the next attempt runs and is kept.
    assert run_once_atomic(scope="s", key="k", fingerprint="f", work=_store_work("y")).status == 201
    assert Store.objects.count() == 1


def test_atomic_key_reused_for_another_request_is_refused_and_its_work_undone(db):
    run_once_atomic(scope="s", key="k", fingerprint="f", work=_store_work("one"))
    with pytest.raises(KeyReused):
        run_once_atomic(scope="s", key="k", fingerprint="other", work=_store_work("two"))
    assert Store.objects.count() == 1


def test_atomic_work_forgets_an_expired_record_of_its_key(db, clock):
    run_once_atomic(scope="s", key="k", fingerprint="f", work=_store_work("one"))
    clock.advance(IDEMPOTENCY_TTL.total_seconds() + 1)
    fresh = run_once_atomic(scope="s", key="k", fingerprint="other", work=_store_work("two"))
    assert (fresh.status, fresh.replayed) == (201, False)
    assert IdempotencyRecord.objects.get().fingerprint == "other"


def test_atomic_work_meeting_a_key_in_progress_is_told_to_wait(db, clock):
    # A key claimed by run_once (work that is not atomic) and not finished yet.
    IdempotencyRecord.objects.create(
        scope="s", key="k", fingerprint="f", expires_at=clock.now() + IDEMPOTENCY_TTL
    )
    with pytest.raises(RequestInProgress):
        run_once_atomic(scope="s", key="k", fingerprint="f", work=_store_work("one"))
    assert not Store.objects.exists()


def test_an_integrity_error_of_the_work_itself_is_not_taken_for_the_key(db):
    Store.objects.create(store_id="DUP", name="first")

    def work():
        Store.objects.create(store_id="DUP", name="second")
        return 201, {}

    with pytest.raises(IntegrityError):
        run_once_atomic(scope="s", key="k", fingerprint="f", work=work)
    assert not IdempotencyRecord.objects.exists()
