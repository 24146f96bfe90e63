"""Each of docs/alipay.md's codes leads to the action its table names, per service."""

import pytest

from payments.alipay import services
from payments.alipay.codes import CODES, CONFIG_CODES, classify_answer, classify_rejection
from payments.alipay.results import Outcome

FAIL = {"result_code": "FAILED"}


@pytest.mark.parametrize(
    ("service", "fields", "outcome", "code"),
    [
        (services.SPOT_PAY, {"result_code": "SUCCESS"}, Outcome.SUCCESS, "SUCCESS"),
        (services.SPOT_PAY, {"result_code": "UNKNOW"}, Outcome.IN_PROGRESS, "UNKNOW"),
        (services.SPOT_PAY, {**FAIL, "error": "SYSTEM_ERROR"}, Outcome.RETRYABLE, "SYSTEM_ERROR"),
        (services.SPOT_PAY, {**FAIL, "error": "TRADE_BUYER_NOT_MATCH"}, Outcome.FAILED, None),
        (services.SPOT_PAY, {**FAIL, "error": "TRADE_HAS_SUCCESS"}, Outcome.RETRYABLE, None),
        (services.SPOT_PAY, {**FAIL, "error": "TRADE_HAS_CLOSE"}, Outcome.RETRYABLE, None),
        (services.SPOT_PAY, {"result_code": "FAIL"}, Outcome.FAILED, "FAIL"),
        (services.SPOT_PAY, {"result_code": "ODD", "error": "NEW_CODE"}, Outcome.FAILED, None),
        (
            services.QUERY,
            {"result_code": "SUCCESS", "alipay_trans_status": "WAIT_BUYER_PAY"},
            Outcome.SUCCESS,
            "SUCCESS",
        ),
        (services.QUERY, {"result_code": "FAIL", "error": "TRADE_NOT_EXIST"}, Outcome.FAILED, None),
        (services.CANCEL, {"result_code": "SUCCESS", "action": "close"}, Outcome.SUCCESS, None),
        (services.CANCEL, {**FAIL, "error": "X", "retry_flag": "Y"}, Outcome.RETRYABLE, "X"),
        (services.CANCEL, {**FAIL, "error": "SYSTEM_ERROR"}, Outcome.RETRYABLE, None),
        (services.CANCEL, {**FAIL, "error": "X", "retry_flag": "N"}, Outcome.FAILED, None),
        (
            services.CANCEL,
            {**FAIL, "error": "ILLEGAL_SIGN", "retry_flag": "Y"},
            Outcome.CONFIG_ERROR,
            None,
        ),
        (services.REFUND, {"result_code": "SUCCESS"}, Outcome.SUCCESS, None),
        (services.REFUND, {**FAIL, "error": "REFUND_AMT_RESTRICTION"}, Outcome.FAILED, None),
        (services.REFUND, {**FAIL, "error": "RETURN_AMOUNT_EXCEED"}, Outcome.FAILED, None),
        (services.REFUND, {**FAIL, "error": "TRADE_HAS_CLOSE"}, Outcome.FAILED, None),
        (services.REFUND, {**FAIL, "error": "SYSTEM_ERROR"}, Outcome.RETRYABLE, None),
        (services.PRECREATE, {**FAIL, "error": "ILLEGAL_SIGN"}, Outcome.CONFIG_ERROR, None),
    ],
)
def test_classification(service, fields, outcome, code):
    got, got_code, message = classify_answer(service, fields)
    assert got is outcome
    assert got_code == (code or fields.get("error") or fields["result_code"])
    assert message


def test_every_code_in_the_table_has_a_plain_message():
    documented = {
        "SYSTEM_ERROR", "UNKNOW", "TRADE_BUYER_NOT_MATCH", "TRADE_HAS_CLOSE", "TRADE_HAS_SUCCESS",
        "TRADE_STATUS_ERROR", "TRADE_NOT_EXIST", "BUYER_BALANCE_NOT_ENOUGH",
        "BUYER_ENABLE_STATUS_FORBID", "BEYOND_PAY_RESTRICTION", "BUYER_NOT_EXIST",
        "BUYER_SELLER_EQUAL", "EXIST_FORBIDDEN_WORD", "SOUNDWAVE_PARSER_FAIL",
        "REFUND_AMT_RESTRICTION", "REQUEST_AMOUNT_EXCEED", "RETURN_AMOUNT_EXCEED", *CONFIG_CODES,
    }  # fmt: skip
    assert documented <= set(CODES)
    for code in documented:
        _outcome, message = CODES[code]
        assert message.endswith(".") and code not in message
    assert {CODES[c][0] for c in CONFIG_CODES} == {Outcome.CONFIG_ERROR}


def test_unknown_rejection_is_a_failure_showing_the_raw_code():
    outcome, code, message = classify_rejection("SOMETHING_NEW")
    assert (outcome, code) == (Outcome.FAILED, "SOMETHING_NEW") and "unexpected" in message
    assert classify_rejection("ILLEGAL_SIGN")[0] is Outcome.CONFIG_ERROR
