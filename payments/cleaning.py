"""Cleaning what callers hand the lifecycle (amounts, texts, ids, buyer codes) before anything is
recorded: each function returns the value to store or raises a domain exception naming the field.

Shared by payments and refunds, so that both refuse the same input in the same words.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from payments.alipay import money
from payments.alipay.exceptions import InvalidRequest
from payments.alipay.validation import is_buyer_code
from payments.exceptions import (
    InvalidAmount,
    InvalidBuyerCode,
    InvalidPaymentRequest,
    UnsupportedCurrency,
)

_ID = re.compile(r"[A-Za-z0-9_.\-]+")


def clean_money(amount: object, currency: object) -> tuple[Decimal, str]:
    """A Decimal amount valid for `currency` (quantized to its minor units), and the currency."""
    if not isinstance(currency, str) or currency not in money.SUPPORTED_CURRENCIES:
        raise UnsupportedCurrency(fields={"currency": str(currency)[:8]})
    if isinstance(amount, bool | float):
        raise InvalidAmount(fields={"amount": "a decimal amount, never a float"})
    try:
        value = Decimal(str(amount)) if isinstance(amount, int | str) else amount
    except InvalidOperation:
        raise InvalidAmount(fields={"amount": "not a number"}) from None
    if not isinstance(value, Decimal):
        raise InvalidAmount(fields={"amount": "not a number"})
    try:
        money.format_amount(value, currency, "amount")
    except InvalidRequest as exc:
        raise InvalidAmount(fields={"amount": exc.message}) from None
    return value.quantize(Decimal(1).scaleb(-money.exponent(currency))), currency


def clean_text(value: object, name: str, max_length: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidPaymentRequest(fields={name: "expected text"})
    text = value.strip()
    if required and not text:
        raise InvalidPaymentRequest(fields={name: "must not be empty"})
    if len(text) > max_length:
        raise InvalidPaymentRequest(fields={name: f"at most {max_length} characters"})
    if '"' in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidPaymentRequest(fields={name: "no double quotes or control characters"})
    return text


def clean_id(value: object, name: str, max_length: int) -> str:
    text = clean_text(value, name, max_length, required=False)
    if text and not _ID.fullmatch(text):
        raise InvalidPaymentRequest(fields={name: "only letters, digits, '_', '-' and '.'"})
    return text


def clean_buyer_code(buyer_code: object) -> str:
    """The scanned Alipay payment code, trimmed, or InvalidBuyerCode (nothing is recorded)."""
    code = buyer_code.strip() if isinstance(buyer_code, str) else ""
    if not is_buyer_code(code):
        raise InvalidBuyerCode(fields={"buyer_code": "16 to 24 digits starting 25 to 30"})
    return code
