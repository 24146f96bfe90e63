"""Reading and checking a gateway request the way Alipay does, before any business happens.

Every refusal here is a `Rejected` with Alipay's error code; the gateway answers it in the unsigned
is_success=F shape. The sandbox validates on its own (it is Alipay's side of the wire) instead of
trusting Entrada's client to have done so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from .scenarios import is_well_formed

CHARSETS = {"UTF-8": "UTF-8", "GBK": "GBK"}
SUPPORTED_CURRENCIES = frozenset(
    {
        "AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "IDR", "JPY", "KRW", "MYR",
        "NOK", "NZD", "PHP", "SEK", "SGD", "THB", "USD",
    }
)  # fmt: skip
ZERO_DECIMAL = frozenset({"JPY", "KRW"})
MAX_AMOUNT = Decimal("100000000.00")
_AMOUNT = re.compile(r"\d{1,9}(\.\d{1,2})?")
_TIMESTAMP = re.compile(r"\d{14}")


@dataclass
class Rejected(Exception):
    """A request Alipay refuses outright: `error` is the code, `message` for the sandbox's log."""

    error: str
    message: str = ""


def read_params(request: HttpRequest) -> tuple[str, dict[str, str]]:
    """The request's charset and its parameters (URL and form together, as Alipay reads them).

    Parsed from the raw bytes: Django only decodes UTF-8 forms, and a merchant may declare GBK.
    """
    # Latin-1 maps each byte to one character, so the charset is applied after unquoting.
    query = request.META.get("QUERY_STRING", "")
    body = ""
    if request.method == "POST" and not request.content_type.startswith("multipart/"):
        try:
            body = request.body.decode("latin-1")
        except RequestDataTooBig as exc:
            raise Rejected("ILLEGAL_ARGUMENT", "the request is too large") from exc
    pairs = [
        (key.encode("latin-1"), value.encode("latin-1"))
        for text in (query, body)
        for key, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1")
    ]
    charset_names = {v.decode("latin-1") for k, v in pairs if k == b"_input_charset"}
    if len(charset_names) > 1:
        raise Rejected("ILLEGAL_ARGUMENT", "_input_charset given twice with different values")
    charset_name = charset_names.pop() if charset_names else "UTF-8"
    charset = CHARSETS.get(charset_name.upper(), "")
    if not charset:
        raise Rejected("ILLEGAL_CHARSET", f"unsupported _input_charset {charset_name[:20]!r}")
    params: dict[str, str] = {}
    for raw_key, raw_value in pairs:
        key = raw_key.decode(charset, errors="replace")
        value = raw_value.decode(charset, errors="replace")
        if params.get(key, value) != value:
            raise Rejected("ILLEGAL_ARGUMENT", f"{key[:40]} given twice with different values")
        params[key] = value
    return charset, params


def require(params: dict[str, str], name: str, max_length: int = 256) -> str:
    value = params.get(name, "")
    if not value:
        raise Rejected("ILLEGAL_ARGUMENT", f"{name} is required")
    return check_length(name, value, max_length)


def optional(params: dict[str, str], name: str, max_length: int = 256) -> str:
    return check_length(name, params.get(name, ""), max_length)


def check_length(name: str, value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise Rejected("INVALID_PARAMETER", f"{name} is longer than {max_length} characters")
    if '"' in value:
        raise Rejected("INVALID_PARAMETER", f'{name} contains a half-width "')
    return value


def currency(params: dict[str, str], name: str = "currency") -> str:
    value = require(params, name, 3)
    if value not in SUPPORTED_CURRENCIES:
        raise Rejected("INVALID_PARAMETER", f"{name} {value!r} is not a supported currency")
    return value


def amount(params: dict[str, str], name: str, currency_code: str) -> Decimal:
    """0.01 to 100000000.00 with two decimals at most; whole numbers for JPY and KRW."""
    text = require(params, name, 16)
    if not _AMOUNT.fullmatch(text):
        raise Rejected("INVALID_PARAMETER", f"{name} {text!r} is not a plain amount")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # excluded by the pattern; kept for safety at the edge
        raise Rejected("INVALID_PARAMETER", f"{name} is not a number") from exc
    if currency_code in ZERO_DECIMAL and value != value.to_integral_value():
        raise Rejected("INVALID_PARAMETER", f"{currency_code} amounts take no decimals")
    if not Decimal("0.01") <= value <= MAX_AMOUNT:
        raise Rejected("INVALID_PARAMETER", f"{name} is out of range")
    return value


def buyer_code(params: dict[str, str]) -> str:
    code = require(params, "buyer_identity_code", 24)
    if not is_well_formed(code):
        raise Rejected("INVALID_PARAMETER", "buyer_identity_code is not a well-formed code")
    return code


def url(params: dict[str, str], name: str, *, required: bool = False) -> str:
    value = require(params, name, 512) if required else optional(params, name, 512)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise Rejected("INVALID_PARAMETER", f"{name} is not an http(s) URL")
    return value


def notify_url(params: dict[str, str], request: HttpRequest, *, required: bool = False) -> str:
    """A notify_url the sandbox may POST to: on this site or a host SANDBOX_NOTIFY_HOSTS allows.

    Anywhere else is refused with INVALID_PARAMETER before any trade is created, so nothing is
    stored and nothing is ever sent there: otherwise anyone who can reach the sandbox could make
    it send blind requests to internal addresses.
    """
    value = url(params, "notify_url", required=required)
    if value and not notify_host_allowed(value, request):
        raise Rejected("INVALID_PARAMETER", "notify_url is not on this site nor an allowed host")
    return value


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(text: str) -> tuple[str, int | None]:
    """(host, port) of a URL or a `host[:port]` entry; the port None when neither says it."""
    parts = urlsplit(text if "//" in text else f"//{text}")
    if parts.username is not None or "\\" in text:
        # Userinfo and backslashes are read differently by different URL parsers: refused.
        raise ValueError("userinfo or backslash in a notify host")
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)  # ValueError for a malformed port
    return (parts.hostname or "").rstrip(".").lower(), port


def notify_host_allowed(value: str, request: HttpRequest) -> bool:
    try:
        host, port = _host_port(value)
        # This site: the host the request came to, and its public URL (ENTRADA_PUBLIC_URL).
        site = {_host_port(text) for text in (request.get_host(), _public_url()) if text}
        listed = [_host_port(entry) for entry in settings.SANDBOX_NOTIFY_HOSTS]
    except ValueError:
        return False
    if not host:
        return False
    default = _DEFAULT_PORTS.get(request.scheme)
    on_site = any(h == host and (p or default) == port for h, p in site)
    # A listed host without a port allows any port on it; with one, that port only.
    return on_site or any(h == host and p in (None, port) for h, p in listed)


def _public_url() -> str:
    return str(settings.ALIPAY.get("NOTIFY_BASE_URL", ""))


def json_object(params: dict[str, str], name: str) -> dict[str, str]:
    # JSON needs the quotes other values must not carry (docs/alipay.md: extend_info is JSON).
    text = params.get(name, "")
    if not text:
        return {}
    if len(text) > 4096:
        raise Rejected("INVALID_PARAMETER", f"{name} is too long")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise Rejected("INVALID_PARAMETER", f"{name} is not JSON") from exc
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise Rejected("INVALID_PARAMETER", f"{name} must be a JSON object of strings")
    return value


def choice(params: dict[str, str], name: str, allowed: set[str]) -> str:
    value = params.get(name, "")
    if value and value not in allowed:
        raise Rejected("INVALID_PARAMETER", f"{name} must be one of {sorted(allowed)}")
    return value


def create_time(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if value and not _TIMESTAMP.fullmatch(value):
        raise Rejected("INVALID_PARAMETER", f"{name} must be yyyyMMddHHmmss")
    return value


def millis(params: dict[str, str], name: str, *, required: bool) -> str:
    value = require(params, name, 13) if required else optional(params, name, 13)
    if value and not value.isdigit():
        raise Rejected("INVALID_PARAMETER", f"{name} must be milliseconds since the epoch")
    return value
