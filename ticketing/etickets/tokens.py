"""Signed ticket tokens: what an e-ticket's QR holds, verifiable at a gate without the database.

A token is a fixed 32-byte payload followed by its 64-byte Ed25519 signature, encoded as unpadded
upper-case base32 (154 characters). Upper-case base32 uses only characters of the QR code's
alphanumeric mode (5.5 bits per character instead of 8 in byte mode), so the QR stays at version 6
with medium error correction: small enough to scan from a phone screen in poor light.

Payload (big-endian):

    offset size  field
    0      1     format version (1)
    1      2     key id: first 2 bytes of SHA-256 of the raw public key (lets gates hold
                 several keys while the signing key is rotated)
    3      16    ticket uuid
    19     4     slot start, minutes since the Unix epoch (UTC)
    23     4     attraction id
    27     4     ticket type id
    31     1     admissions this ticket grants

The signature covers a fixed context label followed by the payload, so a signature made with the
same key for any other purpose can never pass as a ticket. Ed25519 signatures are deterministic:
the same ticket always yields the same token, so tokens need not be stored.

This module is pure Python over `cryptography` (no Django), so a gate device or a script can verify
tokens with nothing but the published public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT_VERSION = 1
SIGNATURE_CONTEXT = b"entrada-ticket-v1\x00"
_PAYLOAD = struct.Struct(">B2s16sIIIB")
PAYLOAD_SIZE = _PAYLOAD.size  # 32
SIGNATURE_SIZE = 64
TOKEN_BYTES = PAYLOAD_SIZE + SIGNATURE_SIZE
TOKEN_LENGTH = len(base64.b32encode(b"\x00" * TOKEN_BYTES).rstrip(b"="))  # 154
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UINT32_MAX = 2**32 - 1


class InvalidToken(Exception):
    """The token is not a genuine, unaltered Entrada ticket token.

    `reason` says which check failed (for logs and tests); callers show one message whatever the
    reason, so a forger learns nothing from the answer.
    """

    code = "invalid_token"

    def __init__(self, reason: str):
        self.reason = reason
        self.message = "This is not a valid Entrada ticket."
        super().__init__(f"{self.message} ({reason})")


@dataclass(frozen=True)
class TicketClaims:
    """What a verified token asserts about its ticket."""

    ticket_uuid: uuid.UUID
    slot_start: datetime  # timezone-aware UTC, whole minutes
    attraction_id: int
    ticket_type_id: int
    admissions: int
    key_id: str = ""  # hex id of the key that signed it; set by verify_token


def key_id(public_key: Ed25519PublicKey) -> bytes:
    """The 2-byte id a token carries for the key that signed it."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:2]


def _slot_minutes(slot_start: datetime) -> int:
    if slot_start.tzinfo is None:
        raise ValueError("slot_start must be timezone-aware")
    minutes = (slot_start.astimezone(UTC) - _EPOCH) // timedelta(minutes=1)
    if not 0 <= minutes <= _UINT32_MAX:
        raise ValueError("slot_start is out of range")
    return minutes


def _uint32(name: str, value: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= _UINT32_MAX:
        raise ValueError(f"{name} must be an integer from 0 to {_UINT32_MAX}")
    return value


def issue_token(claims: TicketClaims, private_key: Ed25519PrivateKey) -> str:
    """Sign `claims` into a token. Seconds of `slot_start` are dropped (slots start on minutes)."""
    if not 1 <= claims.admissions <= 255:
        raise ValueError("admissions must be from 1 to 255")
    payload = _PAYLOAD.pack(
        FORMAT_VERSION,
        key_id(private_key.public_key()),
        claims.ticket_uuid.bytes,
        _slot_minutes(claims.slot_start),
        _uint32("attraction_id", claims.attraction_id),
        _uint32("ticket_type_id", claims.ticket_type_id),
        claims.admissions,
    )
    signature = private_key.sign(SIGNATURE_CONTEXT + payload)
    return base64.b32encode(payload + signature).decode("ascii").rstrip("=")


def _decode(token: object) -> bytes:
    if not isinstance(token, str):
        raise InvalidToken("not_text")
    text = token.strip()  # scanners often append a newline
    if len(text) != TOKEN_LENGTH:
        raise InvalidToken("length")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8), casefold=False)
    except (binascii.Error, ValueError):
        raise InvalidToken("encoding") from None
    # base32 leaves 2 spare bits in the last character; b32decode ignores them, so a token with
    # those bits changed would decode to the same bytes. Only the canonical spelling is accepted.
    if base64.b32encode(raw).decode("ascii").rstrip("=") != text:
        raise InvalidToken("encoding")
    return raw


def verify_token(
    token: str, public_keys: Ed25519PublicKey | Iterable[Ed25519PublicKey]
) -> TicketClaims:
    """Return the claims of a genuine token; raise InvalidToken for anything else.

    `public_keys` is one key or several (the current and previous keys during a rotation); the
    token's key id picks the one to check against.
    """
    raw = _decode(token)
    payload, signature = raw[:PAYLOAD_SIZE], raw[PAYLOAD_SIZE:]
    fields = _PAYLOAD.unpack(payload)
    version, kid, uuid_bytes, minutes, attraction_id, ticket_type_id, admissions = fields
    if version != FORMAT_VERSION:
        raise InvalidToken("version")
    keys = [public_keys] if isinstance(public_keys, Ed25519PublicKey) else list(public_keys)
    candidates = [key for key in keys if key_id(key) == kid]
    if not candidates:
        raise InvalidToken("unknown_key")
    for key in candidates:
        try:
            key.verify(signature, SIGNATURE_CONTEXT + payload)
            break
        except InvalidSignature:
            continue
    else:
        raise InvalidToken("signature")
    if admissions < 1:
        raise InvalidToken("admissions")
    return TicketClaims(
        ticket_uuid=uuid.UUID(bytes=uuid_bytes),
        slot_start=_EPOCH + timedelta(minutes=minutes),
        attraction_id=attraction_id,
        ticket_type_id=ticket_type_id,
        admissions=admissions,
        key_id=kid.hex(),
    )
