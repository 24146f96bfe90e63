"""Requests are built as docs/alipay.md describes; every bad parameter is refused before sending."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payments.alipay import services
from payments.alipay.exceptions import InvalidRequest
from payments.alipay.signing import Verifier

STORE = {"secondary_merchant_id": "ENTRADA-1", "store_id": "BOX-1"}
WHEN = datetime(2026, 11, 27, 16, 30, 5, tzinfo=UTC)
PAY = {
    "partner_trans_id": "E-2026-0001",
    "amount": Decimal("120.00"),
    "currency": "HKD",
    "buyer_identity_code": "281234567890123456",
    "trans_name": "故宫 Museum, 2 adults",
    "trans_create_time": WHEN,
    "extend_info": STORE,
}
REFUND = {
    "partner_trans_id": "E-2026-0001",
    "partner_refund_id": "E-2026-0001-R1",
    "refund_amount": Decimal("20.00"),
    "currency": "HKD",
}


@pytest.fixture(params=["MD5", "RSA", "RSA2"])
def config(request, make_config):
    return make_config(request.param)


def test_pay_request_has_every_field_and_a_signature_alipay_verifies(config, demo_rsa_keys):
    request = services.build_pay(config, **PAY, memo="gate 3", quantity=2)
    params = request.params
    assert params["service"] == "alipay.acquire.overseas.spot.pay"
    assert params["partner"] == params["alipay_seller_id"] == "2088000000000001"
    assert params["_input_charset"] == "UTF-8"
    assert params["trans_amount"] == "120.00" and params["currency"] == "HKD"
    assert params["trans_create_time"] == "20261128003005"  # Beijing time, GMT+8
    assert params["biz_product"] == "OVERSEAS_MBARCODE_PAY"
    assert params["identity_code_type"] == "barcode" and params["quantity"] == "2"
    assert params["extend_info"] == '{"secondary_merchant_id":"ENTRADA-1","store_id":"BOX-1"}'
    assert "notify_url" not in params and "trans_currency" not in params
    assert params["sign_type"] == config.sign_type
    # Alipay's side checks the signature, _input_charset included.
    verifier = Verifier(
        config.sign_type, md5_key=config.md5_key, public_key_pem=demo_rsa_keys["merchant_public"]
    )
    assert verifier.verify(params, params["sign"])
    assert not verifier.verify({**params, "_input_charset": "GBK"}, params["sign"])


def test_audit_params_have_no_signature_and_mask_the_buyer_code(make_config):
    request = services.build_pay(make_config("MD5"), **PAY)
    audit = request.audit_params()
    assert "sign" not in audit and audit["sign_type"] == "MD5"
    assert audit["buyer_identity_code"] == "2812**********3456"
    assert request.params["buyer_identity_code"] == "281234567890123456"
    assert "281234567890123456" not in request.ids


def test_identical_calls_give_identical_parameters(make_config):
    config = make_config("RSA2")
    first = services.build_cancel(config, out_trade_no="E-1", timestamp_ms=1_764_000_000_000)
    again = services.build_cancel(config, out_trade_no="E-1", timestamp_ms=1_764_000_000_000)
    assert first.params == again.params
    assert first.params["timestamp"] == "1764000000000"


def test_jpy_amounts_are_whole_numbers(make_config):
    config = make_config("MD5")
    request = services.build_pay(config, **{**PAY, "amount": Decimal(1200), "currency": "JPY"})
    assert request.params["trans_amount"] == "1200"
    refund = services.build_refund(config, **{**REFUND, "currency": "KRW", "refund_amount": 5})
    assert refund.params["refund_amount"] == "5"


def test_trans_amount_follows_trans_currency(make_config):
    request = services.build_pay(
        make_config("MD5"), **{**PAY, "currency": "USD", "trans_currency": "JPY", "amount": 800}
    )
    assert request.params["trans_amount"] == "800" and request.params["trans_currency"] == "JPY"


def test_other_services_build_their_parameters(make_config):
    config = make_config("MD5")
    qr = services.build_precreate(
        config,
        out_trade_no="E-9",
        amount=Decimal("9.90"),
        currency="USD",
        subject="Zoo",
        notify_url="https://shop.example/alipay/notify",
        timestamp_ms=1_764_000_000_000,
        extend_params=STORE,
    )
    assert qr.params["service"] == "alipay.acquire.precreate"
    assert qr.params["total_fee"] == "9.90" and qr.params["it_b_pay"] == "5m"
    assert qr.params["seller_id"] == config.partner and qr.params["trans_currency"] == "USD"
    query = services.build_query(config, alipay_trans_id="2013112011001004330000121536")
    assert query.params["alipay_trans_id"] == "2013112011001004330000121536"
    assert "partner_trans_id" not in query.params
    refund = services.build_refund(config, **REFUND, refund_reason="visitor ill", is_sync="N")
    assert refund.params["is_sync"] == "N" and refund.params["refund_amount"] == "20.00"
    refund_query = services.build_refund_query(
        config, partner_trans_id="E-1", partner_refund_id="E-1-R1"
    )
    assert refund_query.params["service"] == "alipay.acquire.refund.query"
    verify = services.build_notify_verify(config, notify_id="abc123")
    assert verify.params["service"] == "notify_verify" and verify.params["notify_id"] == "abc123"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"partner_trans_id": "x" * 65}, "partner_trans_id"),
        ({"partner_trans_id": ""}, "partner_trans_id"),
        ({"partner_trans_id": "a b"}, "partner_trans_id"),
        ({"trans_name": "x" * 257}, "trans_name"),
        ({"trans_name": "   "}, "trans_name"),
        ({"trans_name": 'the "best" museum'}, "trans_name"),
        ({"trans_name": "line\nbreak"}, "trans_name"),
        ({"buyer_identity_code": "2812345678901"}, "buyer_identity_code"),  # too short
        ({"buyer_identity_code": "2" * 25}, "buyer_identity_code"),  # too long
        ({"buyer_identity_code": "311234567890123456"}, "buyer_identity_code"),  # prefix 31
        ({"buyer_identity_code": "241234567890123456"}, "buyer_identity_code"),  # prefix 24
        ({"buyer_identity_code": "28123456789012345a"}, "buyer_identity_code"),
        ({"identity_code_type": "soundwave"}, "identity_code_type"),
        ({"amount": 120.0}, "trans_amount"),
        ({"amount": Decimal("120.001")}, "trans_amount"),
        ({"amount": Decimal("0")}, "trans_amount"),
        ({"currency": "JPY", "amount": Decimal("10.50")}, "trans_amount"),
        ({"currency": "hkd"}, "currency"),
        ({"trans_currency": "ABC"}, "trans_currency"),
        ({"trans_create_time": datetime(2026, 11, 27, 16, 30)}, "trans_create_time"),  # naive
        ({"trans_create_time": "2026-11-27 16:30:05"}, "trans_create_time"),
        ({"trans_create_time": "20261327163005"}, "trans_create_time"),
        ({"extend_info": {"store_id": "BOX-1"}}, "extend_info"),
        ({"extend_info": {"secondary_merchant_id": "M"}}, "extend_info"),
        ({"extend_info": {**STORE, "colour": "red"}}, "extend_info"),
        ({"extend_info": {**STORE, "store_name": ""}}, "extend_info.store_name"),
        ({"extend_info": {**STORE, "store_name": 'a "b"'}}, "extend_info.store_name"),
        ({"extend_info": {**STORE, "secondary_merchant_industry": "79A1"}}, None),
        ({"extend_info": '{"secondary_merchant_id": "M"}'}, "extend_info"),
        ({"memo": ""}, "memo"),
        ({"quantity": 0}, "quantity"),
        ({"notify_url": "not a url"}, "notify_url"),
    ],
)
def test_pay_refuses_bad_parameters(make_config, change, field):
    with pytest.raises(InvalidRequest) as info:
        services.build_pay(make_config("MD5"), **{**PAY, **change})
    assert info.value.code == "invalid_request"
    assert info.value.field == (field or "extend_info.secondary_merchant_industry")
    assert info.value.message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"partner_refund_id": "E-2026-0001"}, "partner_refund_id"),  # same as the payment's
        ({"partner_refund_id": "r" * 65}, "partner_refund_id"),
        ({"refund_reason": "x" * 129}, "refund_reason"),
        ({"is_sync": "yes"}, "is_sync"),
        ({"refund_amount": Decimal("-5.00")}, "refund_amount"),
        ({"currency": "XXX"}, "currency"),
    ],
)
def test_refund_refuses_bad_parameters(make_config, change, field):
    with pytest.raises(InvalidRequest) as info:
        services.build_refund(make_config("MD5"), **{**REFUND, **change})
    assert info.value.field == field


def test_query_cancel_precreate_refuse_bad_parameters(make_config):
    config = make_config("MD5")
    with pytest.raises(InvalidRequest, match="partner_trans_id"):
        services.build_query(config)
    for stamp in (1_764_000_000, "1764000000000", True, 10**13):
        with pytest.raises(InvalidRequest) as info:
            services.build_cancel(config, out_trade_no="E-1", timestamp_ms=stamp)
        assert info.value.field == "timestamp"
    base = {
        "out_trade_no": "E-9",
        "amount": Decimal("9.90"),
        "currency": "USD",
        "subject": "Zoo",
        "notify_url": "https://shop.example/n",
        "timestamp_ms": 1_764_000_000_000,
        "extend_params": STORE,
    }
    for change, field in [
        ({"timeout": "5 minutes"}, "it_b_pay"),
        ({"timeout": "0m"}, "it_b_pay"),
        ({"subject": "s" * 257}, "subject"),
        ({"body": "b" * 401}, "body"),
        ({"notify_url": ""}, "notify_url"),
        ({"extend_params": {}}, "extend_params"),
    ]:
        with pytest.raises(InvalidRequest) as info:
            services.build_precreate(config, **{**base, **change})
        assert info.value.field == field
    with pytest.raises(InvalidRequest):
        services.build_notify_verify(config, notify_id="")
