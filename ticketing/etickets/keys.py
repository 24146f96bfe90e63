"""The Ed25519 key pair that signs ticket tokens, loaded from settings once per process.

Configured by TICKET_SIGNING_KEY (PEM text, or base64 of the 32-byte raw seed) or
TICKET_SIGNING_KEY_FILE (a file holding either). With neither, a development or demo site (DEBUG, or
the sandbox enabled) generates `demo-ticket-signing.pem` once in VAR_DIR/keys (ignored by git, so
every clone has its own); a production site refuses. TICKET_PREVIOUS_PUBLIC_KEYS lists the public
halves of retired keys that gates should still accept while old tickets are in circulation.

The private key is never logged or printed; only its 4-hex-digit key id is.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .tokens import key_id

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[tuple, KeyRing] = {}


@dataclass(frozen=True)
class KeyRing:
    """The signing key and every public key a gate should accept (current first)."""

    signing_key: Ed25519PrivateKey
    public_keys: tuple[Ed25519PublicKey, ...]
    source: str  # "settings", "file" or "demo": where the signing key came from

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.public_keys[0]


def parse_private_key(data: str | bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or base64 of the 32-byte seed."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    raw = raw.strip()
    if raw.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(raw, password=None)
        except (ValueError, TypeError):
            raise ImproperlyConfigured("The ticket signing key PEM cannot be read.") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ImproperlyConfigured("The ticket signing key must be an Ed25519 key.")
        return key
    try:
        seed = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != 32:
        raise ImproperlyConfigured(
            "The ticket signing key must be PEM text or base64 of a 32-byte Ed25519 seed."
        )
    return Ed25519PrivateKey.from_private_bytes(seed)


def parse_public_key(data: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo) or base64 of its 32 raw bytes."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    raw = raw.strip()
    if raw.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(raw)
        except (ValueError, TypeError):
            raise ImproperlyConfigured("A previous ticket public key PEM cannot be read.") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ImproperlyConfigured("A ticket public key must be an Ed25519 key.")
        return key
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(
            "A previous ticket public key must be PEM or base64 of 32 raw bytes."
        ) from None


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_raw_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _write_demo_key(path: Path) -> None:
    """Create the demo key file atomically: concurrent first starts agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".demo-ticket-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # fails if another process won the race; its key is kept
            logger.info("Generated the demo ticket signing key at %s", path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def _load_signing_key() -> tuple[Ed25519PrivateKey, str]:
    text = getattr(settings, "TICKET_SIGNING_KEY", "")
    if text:
        return parse_private_key(text), "settings"
    file_name = getattr(settings, "TICKET_SIGNING_KEY_FILE", "")
    if file_name:
        try:
            return parse_private_key(Path(file_name).read_bytes()), "file"
        except OSError as exc:
            raise ImproperlyConfigured(
                f"TICKET_SIGNING_KEY_FILE cannot be read: {exc.strerror}"
            ) from None
    if not (settings.DEBUG or getattr(settings, "SANDBOX_ENABLED", False)):
        raise ImproperlyConfigured(
            "No ticket signing key: set TICKET_SIGNING_KEY or TICKET_SIGNING_KEY_FILE."
        )
    path = Path(settings.TICKET_DEMO_SIGNING_KEY_FILE)
    if not path.exists():
        _write_demo_key(path)
    return parse_private_key(path.read_bytes()), "demo"


def key_ring() -> KeyRing:
    """The keys for the current settings, loaded once (tests that change settings get new ones)."""
    cache_key = (
        getattr(settings, "TICKET_SIGNING_KEY", ""),
        getattr(settings, "TICKET_SIGNING_KEY_FILE", ""),
        str(getattr(settings, "TICKET_DEMO_SIGNING_KEY_FILE", "")),
        tuple(getattr(settings, "TICKET_PREVIOUS_PUBLIC_KEYS", ())),
    )
    ring = _cache.get(cache_key)
    if ring is not None:
        return ring
    with _lock:
        ring = _cache.get(cache_key)
        if ring is None:
            signing, source = _load_signing_key()
            previous = tuple(parse_public_key(item) for item in cache_key[3])
            ring = KeyRing(signing, (signing.public_key(), *previous), source)
            _cache[cache_key] = ring
            logger.info("Ticket signing key %s loaded (%s)", key_id(ring.public_key).hex(), source)
    return ring


def signing_key() -> Ed25519PrivateKey:
    return key_ring().signing_key


def public_keys() -> tuple[Ed25519PublicKey, ...]:
    return key_ring().public_keys
