"""Notifications are read only after their signature verifies."""

import pytest

from payments.alipay.exceptions import InvalidNotification
from payments.alipay.notifications import parse_notification, verify_notification

FORM = {
    "notify_time": "2026-11-28 00:30:05",
    "notify_type": "trade_status_sync",
    "notify_id": "a1b2c3",
    "notify_action_type": "payByAccountAction",
    "out_trade_no": "E-9",
    "trade_no": "2026112822001",
    "trade_status": "TRADE_SUCCESS",
    "total_fee": "9.90",
    "currency": "USD",
    "subject": "动物园 Zoo",
}


@pytest.fixture(params=["MD5", "RSA", "RSA2"])
def signed(request, alipay_signer, make_config):
    sign_type = request.param
    form = {**FORM, "sign_type": sign_type, "sign": alipay_signer(sign_type).sign(FORM)}
    return form, make_config(sign_type).verifier()


def test_verified_notification_is_read(signed):
    form, verifier = signed
    note = parse_notification(form, verifier)
    assert (note.out_trade_no, note.trade_no, note.trade_status) == (
        "E-9", "2026112822001", "TRADE_SUCCESS",
    )  # fmt: skip
    assert note.notify_action_type == "payByAccountAction"
    assert note.amount("trans_amount", "total_fee") == "9.90" and note.currency == "USD"
    assert "sign" not in note.fields


def test_plus_turned_into_space_in_the_signature_is_accepted(signed):
    form, verifier = signed
    assert verify_notification({**form, "sign": form["sign"].replace("+", " ")}, verifier)


@pytest.mark.parametrize(
    "change",
    [
        {"total_fee": "0.01"},
        {"trade_status": "TRADE_CLOSED"},
        {"extra": "1"},
        {"sign": ""},
        {"sign_type": "SHA1"},
    ],
)
def test_tampered_notification_is_refused(signed, change):
    form, verifier = signed
    assert not verify_notification({**form, **change}, verifier)
    with pytest.raises(InvalidNotification) as info:
        parse_notification({**form, **change}, verifier)
    assert info.value.code == "invalid_notification"


def test_verified_notification_missing_fields_is_refused(alipay_signer, make_config):
    partial = {k: v for k, v in FORM.items() if k != "trade_status"}
    form = {**partial, "sign_type": "MD5", "sign": alipay_signer("MD5").sign(partial)}
    with pytest.raises(InvalidNotification, match="trade_status"):
        parse_notification(form, make_config("MD5").verifier())
