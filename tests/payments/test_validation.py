"""Bad input is refused with a stable code before anything is recorded or sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments import lifecycle
from payments.exceptions import (
    GatewayUnavailable,
    InvalidAmount,
    InvalidBuyerCode,
    InvalidPaymentRequest,
    UnsupportedCurrency,
)
from payments.models import Payment

from .helpers import SUCCESS

pytestmark = pytest.mark.django_db


def barcode(**changes):
    kwargs = {
        "amount": Decimal("10.00"),
        "currency": "USD",
        "description": "Entry",
        "buyer_code": SUCCESS,
        "store_id": "STORE-1",
        "terminal_id": "POS-1",
        **changes,
    }
    return lifecycle.create_barcode_payment(**kwargs)


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"amount": Decimal("0")}, InvalidAmount, "invalid_amount"),
        ({"amount": Decimal("-1.00")}, InvalidAmount, "invalid_amount"),
        ({"amount": Decimal("10.005")}, InvalidAmount, "invalid_amount"),
        ({"amount": 10.5}, InvalidAmount, "invalid_amount"),
        ({"amount": Decimal("100000000.01")}, InvalidAmount, "invalid_amount"),
        ({"amount": Decimal("10.50"), "currency": "JPY"}, InvalidAmount, "invalid_amount"),
        ({"amount": Decimal("NaN")}, InvalidAmount, "invalid_amount"),
        ({"currency": "usd"}, UnsupportedCurrency, "unsupported_currency"),
        ({"currency": "XXX"}, UnsupportedCurrency, "unsupported_currency"),
        ({"buyer_code": "123"}, InvalidBuyerCode, "invalid_buyer_code"),
        ({"buyer_code": "310000000000000001"}, InvalidBuyerCode, "invalid_buyer_code"),
        ({"buyer_code": "28000000000000000a"}, InvalidBuyerCode, "invalid_buyer_code"),
        ({"description": ""}, InvalidPaymentRequest, "invalid_request"),
        ({"description": 'say "hi"'}, InvalidPaymentRequest, "invalid_request"),
        ({"description": "x" * 257}, InvalidPaymentRequest, "invalid_request"),
        ({"store_id": "store 1"}, InvalidPaymentRequest, "invalid_request"),
    ],
)
def test_bad_payment_requests_are_refused_with_a_code(changes, error, code):
    with pytest.raises(error) as refused:
        barcode(**changes)
    assert refused.value.code == code
    assert str(refused.value.message)
    assert Payment.objects.count() == 0


def test_an_unusable_gateway_configuration_refuses_before_recording(settings):
    settings.ALIPAY = {**settings.ALIPAY, "PARTNER_ID": "12345", "PRIVATE_KEY_FILE": "/nope"}
    with pytest.raises(GatewayUnavailable) as refused:
        barcode()
    assert refused.value.code == "gateway_unavailable"
    assert Payment.objects.count() == 0
