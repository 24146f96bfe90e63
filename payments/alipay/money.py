"""Amounts as Alipay reads and writes them: plain strings in the currency's minor units.

Money is Decimal only (docs/architecture.md). Alipay takes 0.01 to 100000000.00 with two decimals,
and whole numbers for JPY and KRW (docs/alipay.md, spot.pay). A fraction the currency does not have
is refused
rather than rounded: rounding someone's money silently is a bug, not a convenience.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from payments.alipay.exceptions import InvalidRequest

# Currencies Alipay's overseas acquiring settles in (uppercase ISO 4217).
SUPPORTED_CURRENCIES = frozenset(
    {
        "AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "IDR", "JPY", "KRW", "MYR",
        "NOK", "NZD", "PHP", "SEK", "SGD", "THB", "USD",
    }
)  # fmt: skip
# Currencies without minor units; every other supported one has two decimals.
ZERO_DECIMAL = frozenset({"JPY", "KRW"})
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("100000000.00")
_AMOUNT_TEXT = re.compile(r"\d{1,12}(\.\d{1,12})?")


def exponent(currency: str) -> int:
    """Number of decimals the currency has (0 for JPY and KRW, 2 otherwise)."""
    return 0 if currency in ZERO_DECIMAL else 2


def check_currency(currency: object, field: str = "currency") -> str:
    if not isinstance(currency, str) or currency not in SUPPORTED_CURRENCIES:
        raise InvalidRequest(field, f"{currency!r} is not an uppercase currency Alipay supports")
    return currency


def _check(amount: Decimal, currency: str, field: str, *, allow_zero: bool) -> Decimal:
    if not amount.is_finite():
        raise InvalidRequest(field, "the amount must be a finite number")
    quantum = Decimal(1).scaleb(-exponent(currency))
    if amount != amount.quantize(quantum):
        raise InvalidRequest(
            field, f"{currency} amounts take {exponent(currency)} decimals at most"
        )
    floor = Decimal(0) if allow_zero else max(MIN_AMOUNT, quantum)
    if not floor <= amount <= MAX_AMOUNT:
        raise InvalidRequest(field, f"the amount must be between {floor} and {MAX_AMOUNT}")
    return amount.quantize(quantum)


def format_amount(amount: Decimal, currency: str, field: str = "amount") -> str:
    """Decimal -> Alipay's text ("12.50", "1200" for JPY); refuses floats and impossible amounts."""
    check_currency(currency)
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise InvalidRequest(field, "the amount must be a Decimal (never a float)")
    return f"{_check(Decimal(amount), currency, field, allow_zero=False):f}"


def parse_amount(
    text: str, currency: str, field: str = "amount", *, allow_zero: bool = False
) -> Decimal:
    """Alipay's text -> Decimal, same rules; zero allowed for reply fields such as discounts."""
    check_currency(currency)
    if not isinstance(text, str) or not _AMOUNT_TEXT.fullmatch(text.strip()):
        raise InvalidRequest(field, f"{text!r} is not a plain decimal amount")
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:  # pragma: no cover - the pattern above already excludes it
        raise InvalidRequest(field, f"{text!r} is not a plain decimal amount") from exc
    return _check(value, currency, field, allow_zero=allow_zero)
