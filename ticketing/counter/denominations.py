"""The notes and coins a drawer is counted in, per currency; amounts typed at the counter.

A small table in code: denominations change once in a decade, and a wrong one is a code review,
not an admin's typo. A currency not listed is counted as one total instead.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ..exceptions import InvalidCash
from ..models import currency_exponent

DENOMINATIONS: dict[str, tuple[str, ...]] = {
    "CNY": ("100", "50", "20", "10", "5", "1", "0.5", "0.1"),
    "HKD": ("1000", "500", "100", "50", "20", "10", "5", "2", "1", "0.5", "0.2", "0.1"),
    "JPY": ("10000", "5000", "2000", "1000", "500", "100", "50", "10", "5", "1"),
    "KRW": ("50000", "10000", "5000", "1000", "500", "100", "50", "10"),
    "USD": ("100", "50", "20", "10", "5", "2", "1", "0.25", "0.1", "0.05", "0.01"),
    "EUR": ("500", "200", "100", "50", "20", "10", "5", "2", "1", "0.5", "0.2", "0.1", "0.05",
            "0.02", "0.01"),
    "GBP": ("50", "20", "10", "5", "2", "1", "0.5", "0.2", "0.1", "0.05", "0.02", "0.01"),
    "SGD": ("100", "50", "10", "5", "2", "1", "0.5", "0.2", "0.1", "0.05"),
    "THB": ("1000", "500", "100", "50", "20", "10", "5", "2", "1"),
}  # fmt: skip

MAX_AMOUNT = Decimal("100000000")
MAX_PIECES = 100000


def denominations(currency: str) -> list[Decimal]:
    places = currency_exponent(currency)
    quantum = Decimal(1).scaleb(-places)
    return [Decimal(d).quantize(quantum) for d in DENOMINATIONS.get(currency.upper(), ())]


def parse_amount(raw, currency: str, *, allow_zero: bool = True) -> Decimal:
    """A typed amount of money in `currency`, or InvalidCash (never a float, never 0.5 JPY)."""
    text = str(raw if raw is not None else "").strip().replace(",", "")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidCash() from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise InvalidCash()
    if value == 0 and not allow_zero:
        raise InvalidCash()
    quantum = Decimal(1).scaleb(-currency_exponent(currency))
    if value != value.quantize(quantum):
        raise InvalidCash(fields={"amount": [str(InvalidCash.default_message)]})
    return value.quantize(quantum)


def count_total(counted: dict, currency: str) -> tuple[dict[str, int], Decimal]:
    """Pieces per denomination ({"100.00": 3}) checked against the currency's table, and their sum.

    A currency without a table is counted as one total under the key "total".
    """
    table = denominations(currency)
    if not table:
        total = parse_amount(counted.get("total", "0"), currency)
        return {"total": str(total)}, total
    pieces: dict[str, int] = {}
    total = Decimal(0)
    known = {str(d): d for d in table}
    for key, raw in counted.items():
        if key not in known:
            raise InvalidCash()
        text = str(raw).strip() or "0"
        if not text.isdigit() or int(text) > MAX_PIECES:
            raise InvalidCash()
        if int(text):
            pieces[key] = int(text)
            total += known[key] * int(text)
    return pieces, total.quantize(Decimal(1).scaleb(-currency_exponent(currency)))
