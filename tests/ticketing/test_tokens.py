"""Ticket tokens: genuine ones verify; forged, altered, truncated or foreign ones never do."""

import base64
import string
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.etickets import tokens
from ticketing.etickets.tokens import InvalidToken, TicketClaims, issue_token, verify_token

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
CLAIMS = TicketClaims(
    ticket_uuid=uuid.UUID("6f1c1d52-8a3e-4b7e-9a43-2f5a1c9e0b7d"),
    slot_start=datetime(2026, 12, 24, 1, 30, tzinfo=UTC),
    attraction_id=7,
    ticket_type_id=42,
    admissions=1,
)
B32 = string.ascii_uppercase + "234567"


def _raw(token: str) -> bytearray:
    return bytearray(base64.b32decode(token + "=" * (-len(token) % 8)))


def _encode(raw: bytes) -> str:
    return base64.b32encode(bytes(raw)).decode().rstrip("=")


def _reason(token) -> str:
    with pytest.raises(InvalidToken) as caught:
        verify_token(token, KEY.public_key())
    assert caught.value.code == "invalid_token"
    return caught.value.reason


def test_a_genuine_token_verifies_to_its_claims():
    token = issue_token(CLAIMS, KEY)
    claims = verify_token(token, KEY.public_key())
    assert claims.ticket_uuid == CLAIMS.ticket_uuid
    assert claims.slot_start == CLAIMS.slot_start
    assert (claims.attraction_id, claims.ticket_type_id, claims.admissions) == (7, 42, 1)
    assert claims.key_id == tokens.key_id(KEY.public_key()).hex()


def test_tokens_are_deterministic_and_the_same_for_a_scan_with_a_trailing_newline():
    token = issue_token(CLAIMS, KEY)
    assert issue_token(CLAIMS, KEY) == token
    assert verify_token(token + "\n", KEY.public_key()).ticket_uuid == CLAIMS.ticket_uuid


def test_the_token_fits_a_small_alphanumeric_qr_code():
    token = issue_token(CLAIMS, KEY)
    assert len(token) == tokens.TOKEN_LENGTH == 154
    assert set(token) <= set(B32)
    qr = segno.make_qr(token, error="m", boost_error=False)
    assert qr.mode == "alphanumeric"
    assert qr.version == 6


def test_slot_seconds_are_dropped_and_naive_or_out_of_range_values_refused():
    with_seconds = TicketClaims(
        CLAIMS.ticket_uuid, CLAIMS.slot_start + timedelta(seconds=59), 7, 42, 1
    )
    assert verify_token(issue_token(with_seconds, KEY), KEY.public_key()).slot_start == (
        CLAIMS.slot_start
    )
    for bad in (
        TicketClaims(CLAIMS.ticket_uuid, datetime(2026, 12, 24, 1, 30), 7, 42, 1),
        TicketClaims(CLAIMS.ticket_uuid, CLAIMS.slot_start, 2**32, 42, 1),
        TicketClaims(CLAIMS.ticket_uuid, CLAIMS.slot_start, 7, -1, 1),
        TicketClaims(CLAIMS.ticket_uuid, CLAIMS.slot_start, 7, 42, 0),
        TicketClaims(CLAIMS.ticket_uuid, CLAIMS.slot_start, 7, 42, 256),
        TicketClaims(CLAIMS.ticket_uuid, datetime(1969, 12, 31, tzinfo=UTC), 7, 42, 1),
    ):
        with pytest.raises(ValueError):
            issue_token(bad, KEY)


def test_flipping_any_bit_of_any_byte_is_rejected():
    raw = _raw(issue_token(CLAIMS, KEY))
    assert len(raw) == 96
    for position in range(len(raw)):
        for mask in (0x01, 0x80, 0xFF):
            altered = bytearray(raw)
            altered[position] ^= mask
            assert _reason(_encode(altered)) in {"version", "unknown_key", "signature"}


def test_changing_any_character_is_rejected_including_the_spare_bits_of_the_last():
    token = issue_token(CLAIMS, KEY)
    for position, original in enumerate(token):
        for replacement in B32:
            if replacement == original:
                continue
            altered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(InvalidToken):
                verify_token(altered, KEY.public_key())
    # Lower case decodes to the same bytes, but only the canonical spelling is a ticket.
    assert _reason(token.lower()) == "encoding"


def test_truncated_or_extended_tokens_are_rejected():
    token = issue_token(CLAIMS, KEY)
    for length in range(len(token)):
        assert _reason(token[:length]) == "length"
    assert _reason(token + "A") == "length"
    assert _reason(token[1:] + "A") in {"version", "unknown_key", "signature", "encoding"}


def test_a_token_signed_with_another_key_is_rejected():
    foreign = issue_token(CLAIMS, OTHER_KEY)
    assert _reason(foreign) == "unknown_key"
    # Even when the forger copies our key id into the payload, the signature gives it away.
    raw = _raw(foreign)
    raw[1:3] = tokens.key_id(KEY.public_key())
    payload = bytes(raw[: tokens.PAYLOAD_SIZE])
    forged = payload + OTHER_KEY.sign(tokens.SIGNATURE_CONTEXT + payload)
    assert _reason(_encode(forged)) == "signature"


def test_a_signature_of_the_bare_payload_without_the_context_label_is_rejected():
    raw = _raw(issue_token(CLAIMS, KEY))
    payload = bytes(raw[: tokens.PAYLOAD_SIZE])
    assert _reason(_encode(payload + KEY.sign(payload))) == "signature"


def test_genuinely_signed_but_malformed_payloads_are_rejected():
    raw = _raw(issue_token(CLAIMS, KEY))
    for offset, value in ((0, 2), (31, 0)):  # unknown format version; zero admissions
        payload = bytearray(raw[: tokens.PAYLOAD_SIZE])
        payload[offset] = value
        signed = bytes(payload) + KEY.sign(tokens.SIGNATURE_CONTEXT + bytes(payload))
        assert _reason(_encode(signed)) in {"version", "admissions"}


@pytest.mark.parametrize(
    "garbage",
    [None, 12345, b"ABCDEF", "", " ", "A" * 154, "=" * 154, "0" * 154, "Ä" * 154, "{}"],
)
def test_garbage_is_rejected(garbage):
    with pytest.raises(InvalidToken):
        verify_token(garbage, KEY.public_key())


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=B32, min_size=150, max_size=160)))
def test_arbitrary_text_only_ever_raises_invalid_token(text):
    with pytest.raises(InvalidToken):
        verify_token(text, KEY.public_key())


def test_during_a_key_rotation_tokens_of_both_keys_verify():
    both = [OTHER_KEY.public_key(), KEY.public_key()]
    assert verify_token(issue_token(CLAIMS, KEY), both).ticket_uuid == CLAIMS.ticket_uuid
    assert verify_token(issue_token(CLAIMS, OTHER_KEY), both).ticket_uuid == CLAIMS.ticket_uuid
    with pytest.raises(InvalidToken):
        verify_token(issue_token(CLAIMS, KEY), [OTHER_KEY.public_key()])
