"""The gateway refuses what Alipay refuses, in Alipay's shapes, and answers every sign type."""

from decimal import Decimal

import pytest
import requests
import xmltodict

from payments import clock as entrada_clock
from payments.alipay.client import AlipayClient
from payments.alipay.config import ClientConfig
from payments.alipay.signing import Signer, Verifier
from payments.sandbox.models import SandboxNotification, SandboxTrade

from .helpers import EXTEND_INFO

QUERY = "alipay.acquire.overseas.query"


def parse(response) -> dict:
    """The reply as a dict, decoded with the charset its prolog declares."""
    prolog, _, body = response.content.partition(b"?>")
    charset = "gbk" if b'encoding="GBK"' in prolog else "utf-8"
    return xmltodict.parse(body.decode(charset))["alipay"]


def error_of(response) -> str:
    doc = parse(response)
    assert doc["is_success"] == "F"
    assert "sign" not in doc  # a refusal is never signed
    return doc["error"]


def test_a_request_signed_with_the_wrong_key_is_illegal_sign(raw_gateway, demo_rsa_keys):
    wrong = Signer(sign_type="RSA2", private_key_pem=demo_rsa_keys["alipay_private"])
    response = raw_gateway(
        {"service": QUERY, "partner_trans_id": "X1"}, sign_type="RSA2", signer=wrong
    )
    assert response.status_code == 200
    assert error_of(response) == "ILLEGAL_SIGN"


def test_a_tampered_parameter_breaks_the_md5_signature(alipay_gateway):
    params = {"service": QUERY, "partner": alipay_gateway["PARTNER_ID"], "partner_trans_id": "X1"}
    params["sign"] = Signer(sign_type="MD5", md5_key=alipay_gateway["MD5_KEY"]).sign(params)
    params.update(sign_type="MD5", partner_trans_id="X2")
    response = requests.post(alipay_gateway["GATEWAY_URL"], data=params, timeout=5)
    assert error_of(response) == "ILLEGAL_SIGN"


def test_unknown_partner_service_and_sign_type_are_refused(raw_gateway, alipay_gateway):
    assert error_of(raw_gateway({"service": QUERY, "partner": "2088999999999999"})) == (
        "ILLEGAL_PARTNER"
    )
    assert error_of(raw_gateway({"service": "alipay.unknown"})) == "ILLEGAL_EXTERFACE"
    signer = Signer(sign_type="MD5", md5_key="x")
    response = raw_gateway({"service": QUERY, "partner_trans_id": "1"}, signer=signer)
    assert error_of(response) == "ILLEGAL_SIGN"
    params = {"service": QUERY, "partner": alipay_gateway["PARTNER_ID"], "sign": "x"}
    params["sign_type"] = "SHA1"
    response = requests.post(alipay_gateway["GATEWAY_URL"], data=params, timeout=5)
    assert error_of(response) == "ILLEGAL_SIGN_TYPE"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"partner_trans_id": "T1", "trans_amount": "10.001"}, "INVALID_PARAMETER"),
        ({"partner_trans_id": "T1", "trans_amount": "-1"}, "INVALID_PARAMETER"),
        (
            {"partner_trans_id": "T1", "currency": "JPY", "trans_amount": "100.5"},
            "INVALID_PARAMETER",
        ),
        ({"partner_trans_id": "T1", "currency": "hkd"}, "INVALID_PARAMETER"),
        (
            {"partner_trans_id": "T1", "buyer_identity_code": "180000000000000001"},
            "INVALID_PARAMETER",
        ),
        ({"partner_trans_id": "T1", "buyer_identity_code": "2800000001"}, "INVALID_PARAMETER"),
        ({"partner_trans_id": "T" * 65}, "INVALID_PARAMETER"),
        ({"partner_trans_id": ""}, "ILLEGAL_ARGUMENT"),
        ({"partner_trans_id": "T1", "extend_info": "{not json"}, "INVALID_PARAMETER"),
        ({"partner_trans_id": "T1", "notify_url": "ftp://x"}, "INVALID_PARAMETER"),
        ({"trans_name": 'Say "hi"'}, "INVALID_PARAMETER"),
        ({"identity_code_type": "nfc"}, "INVALID_PARAMETER"),
        ({"partner_trans_id": "T1", "alipay_seller_id": "2088000000000002"}, "INVALID_PARAMETER"),
    ],
)
def test_bad_pay_parameters_are_refused_and_change_nothing(raw_gateway, params, error):
    base = {
        "partner_trans_id": "T1",
        "service": "alipay.acquire.overseas.spot.pay",
        "alipay_seller_id": "2088000000000001",
        "trans_name": "Tickets",
        "currency": "HKD",
        "trans_amount": "10.00",
        "buyer_identity_code": "280000000000000001",
    }
    response = raw_gateway({**base, **params})
    assert error_of(response) == error
    assert not SandboxTrade.objects.exists()


def test_get_and_post_with_charset_in_the_url_both_work(raw_gateway, alipay_gateway):
    by_get = raw_gateway({"service": QUERY, "partner_trans_id": "NOPE"}, method="get")
    doc = parse(by_get)
    assert doc["is_success"] == "T"
    assert doc["response"]["alipay"]["error"] == "TRADE_NOT_EXIST"
    # POST with _input_charset only in the URL: still part of what is signed.
    params = {"service": QUERY, "partner": alipay_gateway["PARTNER_ID"], "partner_trans_id": "N"}
    signed = {**params, "_input_charset": "UTF-8"}
    params["sign"] = Signer(sign_type="MD5", md5_key=alipay_gateway["MD5_KEY"]).sign(signed)
    params["sign_type"] = "MD5"
    url = alipay_gateway["GATEWAY_URL"] + "?_input_charset=UTF-8"
    doc = parse(requests.post(url, data=params, timeout=5))
    assert doc["is_success"] == "T"


def test_a_gbk_request_is_read_in_gbk_and_answered_in_gbk(raw_gateway, alipay_gateway):
    from urllib.parse import urlencode

    params = {
        "service": "alipay.acquire.overseas.spot.pay",
        "partner": alipay_gateway["PARTNER_ID"],
        "_input_charset": "GBK",
        "alipay_seller_id": alipay_gateway["PARTNER_ID"],
        "partner_trans_id": "GBK-1",
        "trans_name": "博物馆门票",
        "currency": "HKD",
        "trans_amount": "10.00",
        "buyer_identity_code": "280000000000000001",
    }
    params["sign"] = Signer(sign_type="MD5", md5_key=alipay_gateway["MD5_KEY"]).sign(params)
    params["sign_type"] = "MD5"
    body = urlencode(params, encoding="gbk")
    response = requests.post(
        alipay_gateway["GATEWAY_URL"],
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.content.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    doc = parse(response)
    assert doc["response"]["alipay"]["result_code"] == "SUCCESS"
    assert SandboxTrade.objects.get(partner_trans_id="GBK-1").subject == "博物馆门票"


def test_garbage_never_yields_a_500(alipay_gateway):
    url = alipay_gateway["GATEWAY_URL"]
    for response in (
        requests.post(url, data=b"\xff\xfe%%%", timeout=5),
        requests.get(url, params={"_input_charset": "EBCDIC"}, timeout=5),
        requests.post(url, data={"service": QUERY}, timeout=5),
    ):
        assert response.status_code == 200
        assert error_of(response) in {"ILLEGAL_EXTERFACE", "ILLEGAL_CHARSET", "ILLEGAL_PARTNER"}
    assert requests.put(url, timeout=5).status_code == 405


@pytest.mark.parametrize("sandbox_merchant", ["MD5", "RSA", "RSA2"], indirect=True)
def test_every_sign_type_round_trips_through_our_client(sandbox_merchant, pay, client):
    partner_trans_id, result = pay("280000000000000001", "12.50")
    assert result.ok, result
    assert result.signature == "valid"
    assert result.fields["trans_amount"] == "12.50"
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_SUCCESS"


def test_replies_are_signed_over_the_response_children_only(
    raw_gateway, alipay_gateway, demo_rsa_keys
):
    response = raw_gateway({"service": QUERY, "partner_trans_id": "NOPE"}, sign_type="RSA2")
    doc = parse(response)
    fields = doc["response"]["alipay"]
    verifier = Verifier(sign_type="RSA2", public_key_pem=demo_rsa_keys["alipay_public"])
    assert doc["sign_type"] == "RSA2"
    assert verifier.verify(fields, doc["sign"])
    assert not verifier.verify({**fields, "error": "OTHER"}, doc["sign"])


def test_a_parameter_given_twice_with_different_values_is_refused(alipay_gateway):
    url = alipay_gateway["GATEWAY_URL"] + "?partner_trans_id=A"
    response = requests.post(url, data={"service": QUERY, "partner_trans_id": "B"}, timeout=5)
    assert error_of(response) == "ILLEGAL_ARGUMENT"


@pytest.mark.parametrize("sandbox_merchant", ["RSA2", "MD5"], indirect=True)
@pytest.mark.parametrize("request_sign_type", ["MD5", "RSA", "RSA2"])
def test_a_reply_is_signed_in_the_sign_type_of_its_request(
    sandbox_merchant, alipay_gateway, request_sign_type
):
    """A merchant holding only the key of the type it signs with can verify every answer."""
    only_its_keys = {**alipay_gateway, "SIGN_TYPE": request_sign_type}
    if request_sign_type == "MD5":
        only_its_keys.update(PRIVATE_KEY="", ALIPAY_PUBLIC_KEY="")
    else:
        only_its_keys.update(MD5_KEY="")
    client = AlipayClient(ClientConfig.from_mapping(only_its_keys))
    paid = client.pay(
        partner_trans_id=f"SIGN-{request_sign_type}",
        amount=Decimal("12.50"),
        currency="HKD",
        buyer_identity_code="280000000000000001",
        trans_name="Museum tickets",
        trans_create_time=entrada_clock.now(),
        extend_info=EXTEND_INFO,
    )
    assert paid.ok and paid.signature == "valid", paid
    assert f"<sign_type>{request_sign_type}</sign_type>" in paid.raw
    query = client.query(partner_trans_id=f"SIGN-{request_sign_type}")
    assert query.signature == "valid" and query.trade_status == "TRADE_SUCCESS"


@pytest.mark.parametrize("sandbox_merchant", ["MD5"], indirect=True)
def test_notifications_keep_the_merchants_configured_sign_type(
    sandbox_merchant, raw_gateway, live_server
):
    response = raw_gateway(
        {
            "service": "alipay.acquire.overseas.spot.pay",
            "alipay_seller_id": sandbox_merchant.partner_id,
            "partner_trans_id": "NOTE-1",
            "trans_name": "Tickets",
            "currency": "HKD",
            "trans_amount": "10.00",
            "buyer_identity_code": "280000000000000001",
            "notify_url": live_server.url + "/payments/alipay/notify/",
        },
        sign_type="RSA2",
    )
    assert parse(response)["sign_type"] == "RSA2"
    payload = SandboxNotification.objects.get(trade__partner_trans_id="NOTE-1").payload
    assert payload["sign_type"] == "MD5"
    assert Verifier("MD5", md5_key=sandbox_merchant.md5_key).verify(payload, payload["sign"])


def test_the_reply_latency_setting_holds_every_reply_and_changes_nothing_else(client, settings):
    """SANDBOX_REPLY_LATENCY_MS stands for the network to Alipay in capacity trials: each reply
    leaves that much later, with the same answer as without it."""
    client.query(
        partner_trans_id="NEVER-SENT-0"
    )  # connected and warm: the calls below time the reply
    answers = {}
    for latency in (0, 800):
        settings.SANDBOX_REPLY_LATENCY_MS = latency
        started = entrada_clock.monotonic()
        result = client.query(partner_trans_id="NEVER-SENT-1")
        answers[latency] = (result.code, entrada_clock.monotonic() - started)
    assert answers[0][0] == answers[800][0] == "TRADE_NOT_EXIST"
    assert answers[800][1] >= 0.8
    assert answers[800][1] - answers[0][1] >= 0.4  # the hold, not a slow machine
