"""The client against a real HTTP server on 127.0.0.1: each way an exchange can go is told apart."""

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payments.alipay import services
from payments.alipay.client import AlipayClient
from payments.alipay.exceptions import InvalidRequest
from payments.alipay.results import Outcome, SignatureVerdict, Transport
from payments.alipay.signing import Verifier

PAY = {
    "partner_trans_id": "E-2026-0001",
    "amount": Decimal("120.00"),
    "currency": "HKD",
    "buyer_identity_code": "281234567890123456",
    "trans_name": "Museum entry",
    "trans_create_time": datetime(2026, 11, 27, 16, 30, 5, tzinfo=UTC),
    "extend_info": {"secondary_merchant_id": "ENTRADA-1", "store_id": "BOX-1"},
}
PAID = {
    "result_code": "SUCCESS",
    "partner_trans_id": "E-2026-0001",
    "alipay_trans_id": "2026112821001004",
    "trans_amount": "120.00",
    "currency": "HKD",
    "alipay_pay_time": "20261128003007",
}


@pytest.fixture
def client(gateway, make_config):
    return AlipayClient(make_config("RSA2", gateway.url))


def test_good_reply_is_believed_and_the_exchange_recorded(
    gateway, client, make_reply, demo_rsa_keys
):
    gateway.body = make_reply(PAID, "RSA2", encoding="GBK")
    gateway.content_type = "text/xml; charset=GBK"
    result = client.pay(**PAY)
    assert result.outcome is Outcome.SUCCESS and result.transport is Transport.OK
    assert result.signature is SignatureVerdict.VALID and result.http_status == 200
    assert result.fields["alipay_trans_id"] == "2026112821001004"
    assert result.request_params["partner_trans_id"] == "E-2026-0001"
    assert "sign" not in result.request_params
    assert result.request_params["buyer_identity_code"] == "2812**********3456"
    assert "<is_success>T</is_success>" in result.raw and result.latency_ms >= 0
    # What reached the wire: _input_charset in the URL and in the signed form.
    sent = gateway.requests[-1]
    assert sent["query"] == {"_input_charset": "UTF-8"}
    assert sent["form"]["_input_charset"] == "UTF-8"
    assert sent["form"]["buyer_identity_code"] == "281234567890123456"
    verifier = Verifier("RSA2", public_key_pem=demo_rsa_keys["merchant_public"])
    assert verifier.verify(sent["form"], sent["form"]["sign"])


def test_read_timeout_is_reported_as_timeout(gateway, make_config, make_reply):
    gateway.body = make_reply(PAID, "RSA2")
    gateway.delay = 5  # the server is slower than the client's read timeout
    client = AlipayClient(make_config("RSA2", gateway.url, read_timeout=0.2))
    result = client.query(partner_trans_id="E-2026-0001")
    assert result.transport is Transport.TIMEOUT and result.outcome is Outcome.RETRYABLE
    assert result.code == "timeout" and result.http_status is None
    assert result.request_params["service"] == services.QUERY
    assert result.latency_ms < 4000


def test_connection_refused_is_a_connection_error(closed_port_url, make_config):
    client = AlipayClient(make_config("MD5", closed_port_url))
    result = client.cancel(out_trade_no="E-1", timestamp_ms=1_764_000_000_000)
    assert result.transport is Transport.CONNECTION_ERROR
    assert result.outcome is Outcome.RETRYABLE and result.code == "connection_error"


def test_html_page_is_not_a_result(gateway, client):
    gateway.content_type = "text/html"
    gateway.body = b"<!DOCTYPE html><html><body><h1>System busy</h1></body></html>"
    result = client.query(partner_trans_id="E-1")
    assert result.transport is Transport.HTML and result.outcome is Outcome.RETRYABLE
    assert "System busy" in result.raw and result.fields == {}


def test_non_200_is_an_http_error(gateway, client, make_reply):
    gateway.status = 503
    gateway.body = make_reply(PAID, "RSA2")  # even a signed body is not read on a 503
    result = client.pay(**PAY)
    assert result.transport is Transport.HTTP_ERROR and result.http_status == 503
    assert result.outcome is Outcome.RETRYABLE and result.fields == {}


def test_malformed_xml_is_reported(gateway, client):
    gateway.body = b"<alipay><is_success>T</is_succ"
    assert client.query(partner_trans_id="E-1").transport is Transport.MALFORMED


def test_bad_signature_means_unknown(gateway, client, make_reply):
    gateway.body = make_reply(PAID, "RSA2", tamper={"trans_amount": "1.00"})
    result = client.pay(**PAY)
    assert result.transport is Transport.BAD_SIGNATURE and result.outcome is Outcome.RETRYABLE
    assert result.signature is SignatureVerdict.INVALID and result.fields == {}


def test_rejected_request_is_a_config_error(gateway, client):
    gateway.body = b"<alipay><is_success>F</is_success><error>ILLEGAL_SIGN</error></alipay>"
    result = client.refund(
        partner_trans_id="E-1", partner_refund_id="E-1-R1", refund_amount=Decimal(5), currency="USD"
    )
    assert result.outcome is Outcome.CONFIG_ERROR and result.code == "ILLEGAL_SIGN"
    assert result.transport is Transport.OK


def test_bad_parameters_raise_before_anything_is_sent(gateway, client):
    with pytest.raises(InvalidRequest):
        client.pay(**{**PAY, "amount": 120.0})
    with pytest.raises(InvalidRequest):
        client.refund_query(partner_trans_id="E-1", partner_refund_id="E-1")
    assert gateway.requests == []


def test_precreate_returns_the_qr_code(gateway, client, make_reply):
    gateway.body = make_reply(
        {"result_code": "SUCCESS", "out_trade_no": "E-9", "qr_code": "https://qr.alipay.com/x1"},
        "RSA2",
    )
    result = client.precreate(
        out_trade_no="E-9",
        amount=Decimal("9.90"),
        currency="USD",
        subject="Zoo",
        notify_url="https://shop.example/n",
        timestamp_ms=1_764_000_000_000,
        extend_params={"secondary_merchant_id": "ENTRADA-1", "store_id": "WEB"},
    )
    assert result.ok and result.fields["qr_code"] == "https://qr.alipay.com/x1"


@pytest.mark.parametrize(("body", "answer"), [(b"true", True), (b"false\n", False), (b"?", None)])
def test_notify_verify(gateway, client, body, answer):
    gateway.content_type = "text/plain"
    gateway.body = body
    assert client.notify_verify("a1b2c3") is answer
    assert gateway.requests[-1]["form"]["notify_id"] == "a1b2c3"


def test_notify_verify_unreachable_is_none(closed_port_url, make_config):
    assert AlipayClient(make_config("MD5", closed_port_url)).notify_verify("a1") is None


def test_logs_carry_ids_but_never_keys_or_buyer_codes(gateway, make_config, make_reply, caplog):
    caplog.set_level("DEBUG")
    gateway.body = make_reply(PAID, "MD5")
    AlipayClient(make_config("MD5", gateway.url)).pay(**PAY)
    assert "E-2026-0001" in caplog.text
    assert "281234567890123456" not in caplog.text and "entrada-test-md5-key" not in caplog.text


def test_the_protocol_package_imports_no_django():
    code = (
        "import sys, payments.alipay.client, payments.alipay.codes, payments.alipay.money;"
        "sys.exit('django' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
