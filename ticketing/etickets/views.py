"""What gates fetch to verify tickets offline: the public key(s) and the revocation list.

Both are public on purpose: a public key and the uuids of cancelled tickets let nobody make or
use a ticket. Both answer with an ETag, so a gate polling every minute mostly gets 304s.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_safe

from payments import clock
from ticketing.models import Ticket

from .exceptions import InvalidSince
from .keys import public_key_pem, public_key_raw_b64, public_keys
from .tokens import TOKEN_LENGTH, key_id

# Revoked tickets of slots that ended longer ago than this are left out: no gate admits them anyway.
REVOCATION_HORIZON = timedelta(days=1)
# At most this many entries per answer; `more` tells the gate to ask again from `next_since`.
REVOCATION_PAGE = 5000


def _etag(content: str, *, weak: bool = False) -> str:
    tag = '"' + hashlib.sha256(content.encode()).hexdigest()[:32] + '"'
    return "W/" + tag if weak else tag


def _etag_matches(request: HttpRequest, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored."""
    header = request.headers.get("If-None-Match", "")
    if header.strip() == "*":
        return True
    sent = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag.removeprefix("W/") in sent


def _with_etag(request: HttpRequest, etag: str, build) -> HttpResponse:
    response = HttpResponseNotModified() if _etag_matches(request, etag) else build()
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=60)
    return response


@require_safe
def public_key(request: HttpRequest) -> HttpResponse:
    """The keys that sign ticket tokens: current first, then retired ones still accepted."""
    keys = public_keys()
    entries = [
        {
            "key_id": key_id(key).hex(),
            "algorithm": "Ed25519",
            "public_key_pem": public_key_pem(key),
            "public_key_raw": public_key_raw_b64(key),
        }
        for key in keys
    ]
    etag = _etag("".join(entry["public_key_raw"] for entry in entries))
    body = {
        **entries[0],
        "keys": entries,
        "token": {
            "encoding": "base32 (RFC 4648, upper case, no padding)",
            "length": TOKEN_LENGTH,
            "layout": "32-byte payload + 64-byte Ed25519 signature of "
            '"entrada-ticket-v1\\0" + payload',
            "payload": "version u8, key_id 2 bytes, ticket uuid 16 bytes, slot start u32 "
            "(minutes since 1970-01-01 UTC), attraction id u32, ticket type id u32, "
            "admissions u8; big-endian",
        },
    }
    return _with_etag(request, etag, lambda: JsonResponse(body))


@require_safe
def public_key_pem_view(request: HttpRequest) -> HttpResponse:
    """The current public key as a PEM file, for tools that want just that."""
    pem = public_key_pem(public_keys()[0])
    etag = _etag(pem)
    return _with_etag(
        request, etag, lambda: HttpResponse(pem, content_type="application/x-pem-file")
    )


def _parse_since(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = parse_datetime(value.strip()) if len(value) <= 64 else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        raise InvalidSince(fields={"since": [InvalidSince.default_message]})
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # documented: a time without offset is UTC
    return parsed


@require_safe
def revoked(request: HttpRequest) -> HttpResponse:
    """Revoked tickets of current and future slots, revoked at or after `?since=` (ISO 8601).

    Gates keep the union of what they fetched and ask again with the answer's `next_since`;
    entries at exactly `next_since` come again (harmless, uuids are a set), so none is missed.
    """
    try:
        since = _parse_since(request.GET.get("since"))
    except InvalidSince as exc:
        return JsonResponse(exc.as_dict(), status=exc.http_status)
    now = clock.now()
    rows = Ticket.objects.filter(
        state=Ticket.State.REVOKED, slot__ends_at__gte=now - REVOCATION_HORIZON
    )
    if since is not None:
        rows = rows.filter(revoked_at__gte=since)
    summary = rows.aggregate(count=Count("id"), latest=Max("revoked_at"))
    latest = summary["latest"]
    fingerprint = f"{since}|{summary['count']}|{latest.isoformat() if latest else ''}"
    # Weak: the same list may come with a different `generated_at`.
    etag = _etag(fingerprint, weak=True)

    def build() -> JsonResponse:
        page = list(
            rows.order_by("revoked_at", "id").values_list("uuid", "revoked_at")[
                : REVOCATION_PAGE + 1
            ]
        )
        more = len(page) > REVOCATION_PAGE
        page = page[:REVOCATION_PAGE]
        next_since = page[-1][1] if page else since
        return JsonResponse(
            {
                "revoked": [
                    {"uuid": str(ticket_uuid), "revoked_at": at.isoformat() if at else None}
                    for ticket_uuid, at in page
                ],
                "count": len(page),
                "more": more,
                "next_since": next_since.isoformat() if next_since else None,
                "generated_at": now.isoformat(),
            }
        )

    return _with_etag(request, etag, build)
