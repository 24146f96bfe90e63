"""Downloading a reconciliation file: GET /sandbox/files/<transactions|settlement>/.

Authenticated like a gateway request: `partner`, `date` (yyyyMMdd, a Beijing day), `sign_type`
and `sign` over the other parameters with the merchant's key.
"""

from __future__ import annotations

from datetime import datetime

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotFound,
)
from django.views.decorators.http import require_GET

from .files import FILES, FileKnobs, file_name
from .gateway import authenticate
from .params import Rejected


@require_GET
def download(request: HttpRequest, kind: str) -> HttpResponse:
    make = FILES.get(kind)
    if make is None:
        return HttpResponseNotFound("Unknown file: use transactions or settlement.")
    p = {key: request.GET[key] for key in request.GET}
    try:
        day = datetime.strptime(p.get("date", ""), "%Y%m%d").date()
    except ValueError:
        return HttpResponseBadRequest("date must be yyyyMMdd.")
    try:
        merchant = authenticate(p)
    except Rejected as refusal:
        return HttpResponseForbidden(refusal.error)
    try:
        knobs = FileKnobs.from_settings()
    except ValueError as exc:
        return HttpResponseBadRequest(f"SANDBOX_FILE_KNOBS: {exc}")
    response = HttpResponse(make(merchant, day, knobs), content_type="text/csv; charset=utf-8")
    name = file_name(kind, merchant.partner_id, day)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
