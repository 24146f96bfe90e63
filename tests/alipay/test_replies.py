"""Replies: every shape read, the declared encoding honoured, nothing believed unsigned."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.alipay import services
from payments.alipay.replies import read_reply
from payments.alipay.results import Outcome, SignatureVerdict, Transport

QUERY_OK = {
    "alipay_trans_status": "TRADE_SUCCESS",
    "currency": "HKD",
    "partner_trans_id": "201207152001584151024",
    "result_code": "SUCCESS",
    "trans_amount": "3997.60",
}


@pytest.fixture(params=["MD5", "RSA", "RSA2"])
def sign_type(request):
    return request.param


def read(body, config, service=services.QUERY):
    return read_reply(service, body, config.verifier())


def test_accepted_query_is_believed_after_its_signature(make_config, make_reply, sign_type):
    result = read(make_reply(QUERY_OK, sign_type), make_config(sign_type))
    assert result.outcome is Outcome.SUCCESS and result.code == "SUCCESS"
    assert result.signature is SignatureVerdict.VALID and result.transport is Transport.OK
    assert result.trade_status == "TRADE_SUCCESS"
    assert result.fields == QUERY_OK


def test_gbk_declared_reply_with_chinese_parses(make_config, make_reply):
    fields = {**QUERY_OK, "trans_name": "故宫博物院门票", "alipay_buyer_login_id": "张**"}
    body = make_reply(fields, "RSA2", encoding="GBK")
    assert "故宫".encode("gbk") in body and "故宫".encode() not in body
    result = read(body, make_config("RSA2"))
    assert result.signature is SignatureVerdict.VALID
    assert result.fields["trans_name"] == "故宫博物院门票"
    assert "故宫博物院门票" in result.raw


def test_character_references_in_a_gbk_reply_are_read(make_config, alipay_signer):
    fields = {"result_code": "SUCCESS", "trans_name": "café ☕"}
    sign = alipay_signer("MD5").sign(fields)
    body = (
        '<?xml version="1.0" encoding="GBK"?><alipay><is_success>T</is_success><response><alipay>'
        "<result_code>SUCCESS</result_code><trans_name>caf&#233; &#9749;</trans_name>"
        f"</alipay></response><sign>{sign}</sign><sign_type>MD5</sign_type></alipay>"
    ).encode("gbk")
    assert read(body, make_config("MD5")).fields["trans_name"] == "café ☕"


@pytest.mark.parametrize(
    "body",
    [
        b"<alipay><is_success>F</is_success><error>ILLEGAL_PARTNER</error></alipay>",
        b'<?xml version="1.0" encoding="GBK"?>\n<alipay>\n <is_success>F</is_success>\n'
        b" <error>ILLEGAL_PARTNER</error>\n</alipay>",
    ],
)
def test_rejected_reply_is_unsigned_config_error(make_config, body):
    result = read(body, make_config("RSA2"))
    assert result.outcome is Outcome.CONFIG_ERROR and result.code == "ILLEGAL_PARTNER"
    assert result.signature is SignatureVerdict.UNSIGNED and result.fields == {}
    assert result.transport is Transport.OK and "partner" in result.message


def test_rejected_with_system_error_is_retryable(make_config):
    body = b"<alipay><is_success>F</is_success><error>SYSTEM_ERROR</error></alipay>"
    assert read(body, make_config("MD5")).outcome is Outcome.RETRYABLE


def test_business_failure_carries_alipay_code(make_config, make_reply):
    fields = {"result_code": "FAILED", "error": "BUYER_BALANCE_NOT_ENOUGH"}
    result = read(make_reply(fields, "MD5"), make_config("MD5"), services.SPOT_PAY)
    assert result.outcome is Outcome.FAILED and result.code == "BUYER_BALANCE_NOT_ENOUGH"
    assert "balance" in result.message


def test_precreate_failure_reads_detail_error_code(make_config, make_reply):
    fields = {"result_code": "FAIL", "detail_error_code": "ILLEGAL_ARGUMENT"}
    result = read(make_reply(fields, "RSA2"), make_config("RSA2"), services.PRECREATE)
    assert result.outcome is Outcome.CONFIG_ERROR and result.code == "ILLEGAL_ARGUMENT"


@pytest.mark.parametrize(
    "options",
    [
        {"tamper": {"trans_amount": "1.00"}},  # body changed after signing
        {"tamper": {"alipay_trans_status": "TRADE_SUCCESS", "extra": "1"}},  # a field added
        {"signature": ""},  # missing signature
        {"signature": "AAAA"},  # not Alipay's
        {"declared_sign_type": "MD5"},  # another sign type than ours
    ],
)
def test_tampered_or_unsigned_reply_is_not_believed(make_config, make_reply, options):
    fields = {**QUERY_OK, "alipay_trans_status": "WAIT_BUYER_PAY"}
    result = read(make_reply(fields, "RSA2", **options), make_config("RSA2"))
    assert result.transport is Transport.BAD_SIGNATURE
    assert result.signature is SignatureVerdict.INVALID
    assert result.outcome is Outcome.RETRYABLE  # unknown: the lifecycle must query
    assert result.fields == {} and result.trade_status == ""
    assert result.raw  # kept for the audit record


def test_reply_signed_with_another_key_is_not_believed(make_config, make_reply):
    body = make_reply(QUERY_OK, "MD5")
    other = make_config("MD5").__class__(
        gateway_url="http://127.0.0.1:9/gateway.do",
        partner="2088000000000001",
        sign_type="MD5",
        md5_key="some-other-key",
    )
    assert read(body, other).transport is Transport.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("body", "transport"),
    [
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", Transport.HTML),
        (b"\n  <html><head><title>Alipay</title></head></html>", Transport.HTML),
        (
            b'<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x.dtd">'
            b'<html xmlns="http://www.w3.org/1999/xhtml"><body>Busy</body></html>',
            Transport.HTML,
        ),
        (b"<body>Service Unavailable</body>", Transport.HTML),
        (b"", Transport.MALFORMED),
        (b"garbage \x00\xff", Transport.MALFORMED),
        (b"<alipay><is_success>T</is_success>", Transport.MALFORMED),  # truncated
        (b"<other><is_success>T</is_success></other>", Transport.MALFORMED),
        (b"<alipay><is_success>Y</is_success></alipay>", Transport.MALFORMED),
        (b"<alipay><is_success>T</is_success></alipay>", Transport.MALFORMED),  # no response
        (b'<?xml version="1.0" encoding="NOPE-8"?><alipay/>', Transport.MALFORMED),
        (b'<?xml version="1.0" encoding="UTF-8"?><alipay>\xff\xfe</alipay>', Transport.MALFORMED),
        (
            b'<?xml version="1.0"?><!DOCTYPE alipay [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<alipay><is_success>F</is_success><error>&x;</error></alipay>",
            Transport.MALFORMED,
        ),
        (
            b"<alipay><is_success>T</is_success><is_success>F</is_success></alipay>",
            Transport.MALFORMED,
        ),
    ],
)
def test_html_and_garbage_are_transport_failures(make_config, body, transport):
    result = read(body, make_config("MD5"))
    assert result.transport is transport and result.code == transport.value
    assert result.outcome is Outcome.RETRYABLE and result.fields == {}
    assert "passwd" not in result.message


def test_signed_reply_without_result_code_is_unknown(make_config, make_reply):
    result = read(make_reply({"partner_trans_id": "E-1"}, "MD5"), make_config("MD5"))
    assert result.outcome is Outcome.RETRYABLE and result.transport is Transport.MALFORMED


XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters='"'),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() == s)


@settings(max_examples=60, deadline=None)
@given(values=st.dictionaries(st.from_regex(r"[a-z_]{1,20}", fullmatch=True), XML_TEXT, max_size=8))
def test_any_signed_text_round_trips_and_any_change_is_caught(make_config, make_reply, values):
    fields = {"result_code": "SUCCESS", **values}
    config = make_config("MD5")
    result = read(make_reply(fields, "MD5"), config)
    assert result.signature is SignatureVerdict.VALID and result.fields == fields
    changed = {k: v + "x" for k, v in fields.items()}
    tampered = read(make_reply(fields, "MD5", tamper=changed), config)
    assert tampered.transport is Transport.BAD_SIGNATURE and tampered.fields == {}
