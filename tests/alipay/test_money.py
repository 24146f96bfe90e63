"""Amounts go out as plain strings in the currency's minor units; anything else is refused."""

from decimal import Decimal

import pytest

from payments.alipay.exceptions import InvalidRequest
from payments.alipay.money import format_amount, parse_amount


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("12.5"), "HKD", "12.50"),
        (Decimal("0.01"), "USD", "0.01"),
        (Decimal("1200"), "JPY", "1200"),
        (Decimal("1200.00"), "KRW", "1200"),
        (Decimal("100000000.00"), "EUR", "100000000.00"),
        (7, "CNY", "7.00"),
        (Decimal("1E+2"), "GBP", "100.00"),
    ],
)
def test_format_amount(amount, currency, text):
    assert format_amount(amount, currency) == text


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (12.5, "HKD"),  # float
        ("12.50", "HKD"),  # text
        (True, "HKD"),
        (Decimal("12.345"), "HKD"),  # a fraction HKD does not have
        (Decimal("1200.5"), "JPY"),
        (Decimal("0.5"), "KRW"),
        (Decimal("0"), "USD"),
        (Decimal("-1.00"), "USD"),
        (Decimal("0.001"), "USD"),
        (Decimal("100000000.01"), "USD"),
        (Decimal("NaN"), "USD"),
        (Decimal("Infinity"), "USD"),
        (Decimal("10.00"), "hkd"),  # lowercase
        (Decimal("10.00"), "XYZ"),  # unsupported
    ],
)
def test_format_amount_refuses(amount, currency):
    with pytest.raises(InvalidRequest) as info:
        format_amount(amount, currency, "trans_amount")
    assert info.value.field in ("trans_amount", "currency")
    assert info.value.code == "invalid_request"


def test_parse_amount():
    assert parse_amount("3997.60", "HKD") == Decimal("3997.60")
    assert parse_amount("1200", "JPY") == Decimal("1200")
    assert parse_amount("1200.00", "JPY") == Decimal("1200")
    assert parse_amount("0.00", "USD", allow_zero=True) == Decimal("0.00")


@pytest.mark.parametrize(
    "text", ["", "1e3", "-1.00", "1,000.00", "0.00", "12.345", " ", "NaN", "1."]
)
def test_parse_amount_refuses(text):
    with pytest.raises(InvalidRequest):
        parse_amount(text, "USD")
