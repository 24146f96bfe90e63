"""Signing matches docs/alipay.md's vectors and interoperates with bare `cryptography` code."""

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from payments.alipay.signing import KeyConfigError, Signer, Verifier, presign_string

VECTOR_KEY = "10000000000000000000000000000000"
QUERY_VECTOR = {
    "_input_charset": "utf-8",
    "partner": "1000000000000000",
    "partner_trans_id": "2010121000000002",
    "service": "alipay.acquire.overseas.query",
}
REFUND_VECTOR = {
    "_input_charset": "utf-8",
    "currency": "USD",
    "is_sync": "Y",
    "partner": "1000000000000000",
    "partner_refund_id": "301012133000002",
    "partner_trans_id": "2010121000000002",
    "refund_amount": "0.01",
    "service": "alipay.acquire.overseas.spot.refund",
}
HASHES = {"RSA": hashes.SHA1, "RSA2": hashes.SHA256}
PARAMS = {"service": "alipay.acquire.overseas.query", "partner_trans_id": "T-1", "memo": "门票 + x"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (QUERY_VECTOR, "2a7f598bbb13d02f7de819ae689f80ba"),
        (REFUND_VECTOR, "397685a0c6b2d71d0d1f374ddba331a0"),
    ],
)
def test_md5_vectors_from_alipay_docs(params, expected):
    signer = Signer("MD5", md5_key=VECTOR_KEY)
    assert signer.sign({**params, "sign_type": "MD5", "sign": "ignored"}) == expected
    assert Verifier("MD5", md5_key=VECTOR_KEY).verify(params, expected.upper())


def test_presign_string_sorts_bytes_drops_empty_and_signature_fields():
    text = presign_string({"b": "2", "_input_charset": "UTF-8", "a": "", "sign": "x", "Z": "1"})
    assert text == "Z=1&_input_charset=UTF-8&b=2"


@pytest.mark.parametrize("sign_type", ["RSA", "RSA2"])
def test_our_rsa_signature_verifies_with_bare_cryptography(sign_type, demo_rsa_keys):
    signature = Signer(sign_type, private_key_pem=demo_rsa_keys["merchant_private"]).sign(PARAMS)
    public = serialization.load_pem_public_key(demo_rsa_keys["merchant_public"].encode())
    message = presign_string(PARAMS).encode("utf-8")
    public.verify(base64.b64decode(signature), message, padding.PKCS1v15(), HASHES[sign_type]())
    other = HASHES["RSA2" if sign_type == "RSA" else "RSA"]()
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(signature), message, padding.PKCS1v15(), other)


@pytest.mark.parametrize("sign_type", ["RSA", "RSA2"])
def test_bare_cryptography_signature_verifies_with_ours_and_tampering_is_refused(
    sign_type, demo_rsa_keys
):
    private = serialization.load_pem_private_key(demo_rsa_keys["alipay_private"].encode(), None)
    message = b"_input_charset=UTF-8&result_code=SUCCESS&trans_amount=12.50"
    raw = private.sign(message, padding.PKCS1v15(), HASHES[sign_type]())
    signature = base64.b64encode(raw).decode()
    verifier = Verifier(sign_type, public_key_pem=demo_rsa_keys["alipay_public"])
    assert verifier.verify_text(message.decode(), signature)
    assert not verifier.verify_text(message.decode().replace("12.50", "12.51"), signature)
    flipped = base64.b64encode(bytes([raw[0] ^ 1]) + raw[1:]).decode()
    assert not verifier.verify_text(message.decode(), flipped)
    assert not verifier.verify_text(message.decode(), "not base64 !")
    assert not verifier.verify_text(message.decode(), "")


def test_rsa_signature_with_plus_turned_into_space_still_verifies(demo_rsa_keys):
    signer = Signer("RSA2", private_key_pem=demo_rsa_keys["alipay_private"])
    verifier = Verifier("RSA2", public_key_pem=demo_rsa_keys["alipay_public"])
    for n in range(40):  # find a signature that contains '+', as form posts mangle it
        params = {**PARAMS, "n": str(n)}
        signature = signer.sign(params)
        if "+" in signature:
            assert verifier.verify(params, signature.replace("+", " "))
            return
    pytest.fail("no signature with '+' in 40 tries")


def test_md5_signature_of_chinese_text_is_over_utf8():
    params = {"trans_name": "故宫门票", "partner": "2088000000000001"}
    text = "partner=2088000000000001&trans_name=故宫门票" + "k"
    expected = hashlib.md5(text.encode()).hexdigest()
    assert Signer("MD5", md5_key="k").sign(params) == expected


def test_bare_base64_key_body_is_accepted(demo_rsa_keys):
    body = "".join(demo_rsa_keys["alipay_public"].strip().splitlines()[1:-1])
    assert Verifier("RSA2", public_key_pem=body).public_key_pem == body


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sign_type": "SHA1"},
        {"sign_type": "MD5"},
        {"sign_type": "RSA2"},
        {"sign_type": "RSA2", "private_key_pem": "-----BEGIN PRIVATE KEY-----\nnope\n"},
    ],
)
def test_signer_refuses_missing_or_unreadable_keys(kwargs):
    with pytest.raises(KeyConfigError):
        Signer(**kwargs)
