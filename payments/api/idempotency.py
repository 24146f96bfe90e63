"""Idempotency keys (the IETF `Idempotency-Key` header draft): a retried POST never does twice
what it did once.

Generic on purpose: a *scope* says whose keys these are (a terminal of the partner API, an
anonymous client of the public API), so any DRF view can use it with `@idempotent(scope=...)`,
and any other code with `run_once(...)`.

The record is inserted before the work runs and the unique (scope, key) constraint is the lock:
- same key, same request, finished: the stored answer is replayed (a stored 4xx too), with the
  `Idempotent-Replayed: true` header, and nothing runs again;
- same key while the first request still runs: 409 `idempotency_in_progress`;
- same key, another request (method, path or body differ): 409 `idempotency_key_reused`;
- a 5xx or an unexpected exception is not stored: the key is released so the client may retry;
- same key and request, but the first one was left in progress for longer than
  PAYMENTS["IDEMPOTENCY_STALE_SECONDS"] (its process died mid-request): the retry takes the record
  over, by a compare-and-set on its `created_at` so that only one retry can, and runs the work
  again. Work must therefore be safe to re-run (as after a 5xx): the partner API finds what the
  dead request did by ids derived from the key (payments/api/views.py) instead of doing it twice.
  Finishing or releasing a record also compares `created_at`, so a request that was only slow,
  not dead, cannot overwrite or delete the record of the retry that took it over.
Records expire after IDEMPOTENCY_TTL (24 h); `purge_expired()` deletes them.

Work that only writes to this database (a booking: no gateway call, no e-mail) can instead run
with `atomic=True` (`run_once_atomic`): the work and the record of its answer commit in one
transaction, or neither does. No record is ever seen in progress: a concurrent duplicate waits on
the unique constraint (PostgreSQL) or the write lock (SQLite's IMMEDIATE transactions), then finds
the answer and replays it, its own work rolled back. It costs one INSERT and no commit of its own,
where the claim, the finish and their commits cost three statements of a booking's dozen.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from payments import clock, rows
from payments.api.models import IdempotencyRecord
from payments.conf import conf

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
IDEMPOTENCY_TTL = timedelta(hours=24)


class IdempotencyError(Exception):
    """A problem with the key itself; answered as 4xx JSON by the API's exception handler."""

    code = "idempotency_error"
    status_code = 400
    default_message = _("The Idempotency-Key header could not be used.")

    def __init__(self, message: str | None = None):
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class KeyRequired(IdempotencyError):
    code = "idempotency_key_required"
    default_message = _(
        "This request moves money: send an Idempotency-Key header (a unique string, e.g. a UUID) "
        "and reuse it when you retry."
    )


class KeyInvalid(IdempotencyError):
    code = "idempotency_key_invalid"
    default_message = _("The Idempotency-Key header must be 1 to 255 printable ASCII characters.")


class RequestInProgress(IdempotencyError):
    code = "idempotency_in_progress"
    status_code = 409
    default_message = _(
        "A request with this Idempotency-Key is still being processed; retry in a moment."
    )


class KeyReused(IdempotencyError):
    code = "idempotency_key_reused"
    status_code = 409
    default_message = _(
        "This Idempotency-Key was already used for a different request; use a new key."
    )


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    replayed: bool = False


def validate_key(raw: str | None) -> str:
    """The key as sent, or KeyRequired / KeyInvalid."""
    if raw is None or raw == "":
        raise KeyRequired()
    if len(raw) > MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in raw):
        raise KeyInvalid()
    return raw


def canonical_json(body: Any) -> str:
    """The same JSON document gives the same text, whatever its key order or spacing."""
    return json.dumps(body, cls=JSONEncoder, sort_keys=True, separators=(",", ":"))


def request_fingerprint(method: str, path: str, body: Any) -> str:
    text = f"{method.upper()}\n{path}\n{canonical_json(body)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stale_after() -> timedelta:
    """How long a request may hold its key before it is taken for dead (a setting, read live)."""
    return timedelta(seconds=conf("IDEMPOTENCY_STALE_SECONDS"))


@dataclass(frozen=True)
class _Claim:
    """The key is ours; `created_at` is the record's value we wrote, our proof of ownership."""

    created_at: datetime


def _claim(scope: str, key: str, fingerprint: str) -> _Claim | StoredResponse:
    """Take the key (a _Claim: the caller does the work) or learn what became of it."""
    # A few rounds: a record can be released, expire or be taken over between our insert and
    # our read.
    for _round in range(3):
        now = clock.now()
        record = IdempotencyRecord(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            created_at=now,
            expires_at=now + IDEMPOTENCY_TTL,
        )
        try:
            # A savepoint only when a caller's transaction is open: on its own, one INSERT is
            # already atomic, and BEGIN/COMMIT would add two round trips to every money POST.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                record.save(force_insert=True)
            return _Claim(now)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if record is None:
            continue
        if record.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=record.pk, expires_at__lte=now).delete()
            continue
        if record.fingerprint != fingerprint:
            raise KeyReused()
        if record.state == IdempotencyRecord.State.DONE:
            return StoredResponse(record.response_status, record.response_body, replayed=True)
        if record.created_at > now - stale_after():
            raise RequestInProgress()
        # Abandoned by a request that died. Of several retries, one takes it; the others go
        # round again and see it in progress (fresh) or done.
        if _take_over(record, now):
            return _Claim(now)
    raise RequestInProgress()


def _take_over(record: IdempotencyRecord, now: datetime) -> bool:
    """Compare-and-set on the stale record as it was read: only a retry that finds it unchanged
    (still in progress, same created_at) takes it, and restarts its clocks."""
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk,
        state=IdempotencyRecord.State.IN_PROGRESS,
        created_at=record.created_at,
    ).update(created_at=now, expires_at=now + IDEMPOTENCY_TTL)
    if taken:
        logger.warning(
            "idempotency takeover scope=%s: a request left the key in progress since %s",
            record.scope,
            record.created_at.isoformat(),
        )
    return bool(taken)


def _finish(scope: str, key: str, claim: _Claim, status: int, body: Any) -> None:
    IdempotencyRecord.objects.filter(
        scope=scope,
        key=key,
        state=IdempotencyRecord.State.IN_PROGRESS,
        created_at=claim.created_at,
    ).update(
        state=IdempotencyRecord.State.DONE,
        response_status=status,
        response_body=_storable(body),
    )


def _release(scope: str, key: str, claim: _Claim) -> None:
    IdempotencyRecord.objects.filter(
        scope=scope,
        key=key,
        state=IdempotencyRecord.State.IN_PROGRESS,
        created_at=claim.created_at,
    ).delete()


def run_once(
    *, scope: str, key: str, fingerprint: str, work: Callable[[], tuple[int, Any]]
) -> StoredResponse:
    """Run `work` (returning status and JSON body) once per (scope, key), or replay its answer.

    Raises KeyReused or RequestInProgress (409). Answers of 500 and above, and exceptions out of
    `work`, release the key instead of being stored, so the client can retry. A key left in
    progress past stale_after() is taken over and `work` runs again: it must be safe to re-run.
    """
    claim = _claim(scope, key, fingerprint)
    if isinstance(claim, StoredResponse):
        logger.info("idempotency replay scope=%s status=%s", scope, claim.status)
        return claim
    try:
        status, body = work()
    except BaseException:
        _release(scope, key, claim)
        raise
    if status >= 500:
        _release(scope, key, claim)
    else:
        _finish(scope, key, claim, status, body)
    return StoredResponse(status, body)


class _Unstored(Exception):
    """Rolls the atomic work back when its answer is not to be stored (5xx)."""

    def __init__(self, status: int, body: Any):
        self.status, self.body = status, body


def run_once_atomic(
    *, scope: str, key: str, fingerprint: str, work: Callable[[], tuple[int, Any]]
) -> StoredResponse:
    """As run_once, for work that only writes to the default database: the work and the record
    of its answer are one transaction. Answers of 500 and above, and exceptions, roll the work
    back and store nothing. Raises KeyReused (409) when the key already answered another request.
    """
    for _round in range(3):
        now = clock.now()
        try:
            with transaction.atomic():
                status, body = work()
                if status >= 500:
                    raise _Unstored(status, body)
                rows.insert(
                    IdempotencyRecord(
                        scope=scope,
                        key=key,
                        fingerprint=fingerprint,
                        state=IdempotencyRecord.State.DONE,
                        response_status=status,
                        response_body=_storable(body),
                        created_at=now,
                        expires_at=now + IDEMPOTENCY_TTL,
                    )
                )
            return StoredResponse(status, body)
        except _Unstored as unstored:
            return StoredResponse(unstored.status, unstored.body)
        except IntegrityError:
            # The key answered first, elsewhere or before (a retry): this work is rolled back.
            record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
            if record is None:
                raise  # not the key's constraint: the work's own error
        if record.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=record.pk, expires_at__lte=now).delete()
            continue
        if record.fingerprint != fingerprint:
            raise KeyReused()
        if record.state == IdempotencyRecord.State.DONE:
            logger.info("idempotency replay scope=%s status=%s", scope, record.response_status)
            return StoredResponse(record.response_status, record.response_body, replayed=True)
        raise RequestInProgress()  # a key claimed by run_once for work that is not atomic
    raise RequestInProgress()


def _storable(body: Any) -> Any:
    # PostgreSQL's jsonb cannot hold U+0000, which a refusal may quote back from the request.
    return json.loads(json.dumps(body, cls=JSONEncoder).replace("\\u0000", "\\ufffd"))


def idempotent(scope: Callable[[Request], str], *, atomic: bool = False) -> Callable:
    """Decorate a DRF view method: requires the Idempotency-Key header and runs the method once.

    Errors the method raises are turned into responses by the view's exception handler first, so
    a 4xx answer is stored and replayed like a success. `atomic`: the method only writes to the
    database, and runs in one transaction with its record (run_once_atomic).
    """
    runner = run_once_atomic if atomic else run_once

    def decorator(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(view, request: Request, *args, **kwargs) -> Response:
            key = validate_key(request.headers.get(HEADER))
            # Parsing the body here means malformed JSON or a wrong content type fails before
            # the key is taken: those answers are not stored.
            fingerprint = request_fingerprint(request.method, request.path, request.data)

            def work() -> tuple[int, Any]:
                try:
                    response = method(view, request, *args, **kwargs)
                except Exception as exc:
                    response = view.handle_exception(exc)
                return response.status_code, response.data

            result = runner(scope=scope(request), key=key, fingerprint=fingerprint, work=work)
            response = Response(result.body, status=result.status)
            if result.replayed:
                response[REPLAYED_HEADER] = "true"
            return response

        return wrapper

    return decorator


def purge_expired() -> int:
    """Delete expired records; returns how many. Safe to run at any time (e.g. daily)."""
    deleted, _detail = IdempotencyRecord.objects.filter(expires_at__lte=clock.now()).delete()
    return deleted
