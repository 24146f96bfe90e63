"""Signing and verification exactly as docs/alipay.md "Signing" describes.

The pre-sign string is every parameter except `sign` and `sign_type`, empty values dropped, keys
sorted by byte order, joined as k=v with &, values raw (not URL-encoded), encoded as UTF-8.
MD5 appends the key and hex-digests; RSA is SHA1withRSA and RSA2 SHA256withRSA (PKCS#1 v1.5),
base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN_TYPES = ("MD5", "RSA", "RSA2")
UNSIGNED_KEYS = frozenset({"sign", "sign_type"})
_HASHES = {"RSA": hashes.SHA1, "RSA2": hashes.SHA256}


class KeyConfigError(ValueError):
    """A key is missing or unreadable: a configuration error, never retried."""


def presign_string(params: Mapping[str, object]) -> str:
    """The string that is signed: sorted k=v pairs without sign, sign_type and empty values."""
    items = sorted(
        (str(k), str(v))
        for k, v in params.items()
        if k not in UNSIGNED_KEYS and v is not None and str(v) != ""
    )
    return "&".join(f"{k}={v}" for k, v in items)


@lru_cache(maxsize=32)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(_pem_bytes(pem, "PRIVATE KEY"), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyConfigError("the RSA private key is not a readable PEM key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyConfigError("the private key is not an RSA key")
    return key


@lru_cache(maxsize=32)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(_pem_bytes(pem, "PUBLIC KEY"))
    except (ValueError, TypeError) as exc:
        raise KeyConfigError("the RSA public key is not a readable PEM key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyConfigError("the public key is not an RSA key")
    return key


def _pem_bytes(pem: str, label: str) -> bytes:
    """Accept a full PEM or the bare base64 body Alipay's portal hands out."""
    text = pem.strip()
    if not text.startswith("-----BEGIN"):
        body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
        text = f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"
    return text.encode("ascii")


@dataclass(frozen=True)
class Signer:
    """Signs with our secret: the MD5 key, or our RSA private key for RSA/RSA2."""

    sign_type: str
    md5_key: str = field(default="", repr=False)
    private_key_pem: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.sign_type not in SIGN_TYPES:
            raise KeyConfigError(f"unsupported sign_type {self.sign_type!r}")
        if self.sign_type == "MD5" and not self.md5_key:
            raise KeyConfigError("MD5 signing needs the MD5 key")
        if self.sign_type != "MD5":
            if not self.private_key_pem:
                raise KeyConfigError(f"{self.sign_type} signing needs an RSA private key")
            load_private_key(self.private_key_pem)

    def sign(self, params: Mapping[str, object]) -> str:
        return self.sign_text(presign_string(params))

    def sign_text(self, text: str) -> str:
        if self.sign_type == "MD5":
            return hashlib.md5((text + self.md5_key).encode("utf-8")).hexdigest()  # noqa: S324
        key = load_private_key(self.private_key_pem)
        raw = key.sign(text.encode("utf-8"), padding.PKCS1v15(), _HASHES[self.sign_type]())
        return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Verifier:
    """Checks the other side's signature: the MD5 key, or their RSA public key."""

    sign_type: str
    md5_key: str = field(default="", repr=False)
    public_key_pem: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.sign_type not in SIGN_TYPES:
            raise KeyConfigError(f"unsupported sign_type {self.sign_type!r}")
        if self.sign_type == "MD5" and not self.md5_key:
            raise KeyConfigError("MD5 verification needs the MD5 key")
        if self.sign_type != "MD5":
            if not self.public_key_pem:
                raise KeyConfigError(f"{self.sign_type} verification needs the RSA public key")
            load_public_key(self.public_key_pem)

    def verify(self, params: Mapping[str, object], signature: str) -> bool:
        return self.verify_text(presign_string(params), signature)

    def verify_text(self, text: str, signature: str) -> bool:
        if not signature:
            return False
        if self.sign_type == "MD5":
            expected = hashlib.md5((text + self.md5_key).encode("utf-8")).hexdigest()  # noqa: S324
            return hmac.compare_digest(expected, signature.strip().lower())
        # Form posts may turn the base64 '+' into a space (docs/alipay.md, notifications).
        try:
            raw = base64.b64decode(signature.strip().replace(" ", "+"), validate=True)
        except (binascii.Error, ValueError):
            return False
        key = load_public_key(self.public_key_pem)
        try:
            key.verify(raw, text.encode("utf-8"), padding.PKCS1v15(), _HASHES[self.sign_type]())
        except InvalidSignature:
            return False
        return True
