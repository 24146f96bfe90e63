"""The wallet's way back to the shop: a return URL the shop passes along, checked before use.

Like Alipay's app, the sandbox wallet sends the buyer back to the merchant's page once they have
paid. The address arrives in the wallet's own URL, so anyone can craft one: it is followed only
when it is an order page (SANDBOX_RETURN_PATH) on this site or an allowed host (the notify
rules), never any other address, so the wallet cannot be used as an open redirect.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from .params import notify_host_allowed

MAX_LENGTH = 2000
# The shop's order page; the sandbox knows it only as a path shape, never by importing the shop.
DEFAULT_RETURN_PATH = r"^/orders/[A-Za-z0-9]{4,12}/$"


def return_url_allowed(value: str, request: HttpRequest) -> bool:
    if not value or len(value) > MAX_LENGTH or not value.isprintable() or " " in value:
        return False
    if "\\" in value:
        return False
    parts = urlsplit(value)
    if parts.query or parts.fragment or parts.username is not None:
        return False
    pattern = getattr(settings, "SANDBOX_RETURN_PATH", DEFAULT_RETURN_PATH)
    if not re.fullmatch(pattern, parts.path):
        return False
    if not parts.scheme and not parts.netloc:
        # A path on this site; "//host/..." has a netloc and is checked below as a host.
        return url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()})
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return url_has_allowed_host_and_scheme(
        value, allowed_hosts={parts.netloc}
    ) and notify_host_allowed(value, request)
