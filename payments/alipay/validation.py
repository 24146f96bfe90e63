"""Checks shared by the request builders: each returns the value to send or raises InvalidRequest.

docs/alipay.md "Common parameters": never send empty values, no half-width `"` inside values.
Control characters are refused too: they would end up in the signed string and on the buyer's bill.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from payments.alipay.exceptions import InvalidRequest

_ID = re.compile(r"[A-Za-z0-9_.\-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The payment code a buyer's Alipay app shows (spot.pay `buyer_identity_code`): 16 to 24 ASCII
# digits whose first two are 25 to 30. Unanchored, for fullmatch and for an OpenAPI pattern.
BUYER_CODE_PATTERN = r"(2[5-9]|30)[0-9]{14,22}"
_BUYER_CODE = re.compile(BUYER_CODE_PATTERN)


def is_buyer_code(value: object) -> bool:
    """Whether `value` is shaped like an Alipay payment code: the single statement of the rule
    that the lifecycle, the partner API, the box office and the sandbox all apply."""
    return isinstance(value, str) and _BUYER_CODE.fullmatch(value) is not None


def check_text(value: object, name: str, max_length: int) -> str:
    """Non-empty text without `"` or control characters, at most max_length characters."""
    if not isinstance(value, str):
        raise InvalidRequest(name, "expected text")
    text = value.strip()
    if not text:
        raise InvalidRequest(name, "must not be empty")
    if '"' in text:
        raise InvalidRequest(name, 'must not contain a double quote (")')
    if _CONTROL.search(text):
        raise InvalidRequest(name, "must not contain control characters")
    if len(text) > max_length:
        raise InvalidRequest(name, f"at most {max_length} characters")
    return text


def check_id(value: object, name: str, max_length: int = 64) -> str:
    """An identifier: letters, digits, '_', '-', '.'; at most 64 characters by default."""
    text = check_text(value, name, max_length)
    if not _ID.fullmatch(text):
        raise InvalidRequest(name, "only letters, digits, '_', '-' and '.' are allowed")
    return text


def check_url(value: object, name: str, max_length: int = 256) -> str:
    text = check_text(value, name, max_length)
    url = urlsplit(text)
    if url.scheme not in ("http", "https") or not url.netloc or " " in text:
        raise InvalidRequest(name, "expected an http(s) URL")
    return text


def check_yes_no(value: object, name: str) -> str:
    if value not in ("Y", "N"):
        raise InvalidRequest(name, "expected Y or N")
    return str(value)


def check_json_object(
    value: object, name: str, allowed: Mapping[str, int], required: tuple[str, ...]
) -> str:
    """A flat JSON object of text values (extend_info): known keys only, required ones present."""
    if not isinstance(value, Mapping):
        raise InvalidRequest(name, "expected a mapping of text values")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise InvalidRequest(name, f"unknown keys: {', '.join(map(str, unknown))}")
    missing = [key for key in required if key not in value]
    if missing:
        raise InvalidRequest(name, f"missing keys: {', '.join(missing)}")
    cleaned = {}
    for key in sorted(value):
        cleaned[key] = check_text(value[key], f"{name}.{key}", allowed[key])
    industry = cleaned.get("secondary_merchant_industry")
    if industry is not None and not (industry.isascii() and industry.isdigit()):
        raise InvalidRequest(f"{name}.secondary_merchant_industry", "expected a 4-digit MCC")
    # Sorted keys and fixed separators: a retry sends byte-identical parameters.
    return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
