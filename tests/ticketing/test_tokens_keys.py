"""The signing key comes from settings, or a demo key made once; production refuses without."""

import base64
import logging
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from ticketing.etickets import keys, tokens
from ticketing.etickets.checks import check_ticket_signing_key


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _seed_b64(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


def _raw_public(key) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture
def no_key(settings, tmp_path):
    settings.TICKET_SIGNING_KEY = ""
    settings.TICKET_SIGNING_KEY_FILE = ""
    settings.TICKET_PREVIOUS_PUBLIC_KEYS = []
    settings.TICKET_DEMO_SIGNING_KEY_FILE = tmp_path / "keys" / "demo-ticket-signing.pem"
    return settings


def test_a_key_in_settings_as_pem_or_base64_seed_is_used(no_key):
    key = Ed25519PrivateKey.generate()
    for text in (_pem(key), _seed_b64(key)):
        no_key.TICKET_SIGNING_KEY = text
        ring = keys.key_ring()
        assert ring.source == "settings"
        assert _raw_public(ring.public_key) == _raw_public(key.public_key())


def test_a_key_file_is_read(no_key, tmp_path):
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "ticket.pem"
    path.write_text(_pem(key))
    no_key.TICKET_SIGNING_KEY_FILE = str(path)
    assert _raw_public(keys.public_keys()[0]) == _raw_public(key.public_key())
    no_key.TICKET_SIGNING_KEY_FILE = str(tmp_path / "missing.pem")
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        keys.key_ring()


@pytest.mark.parametrize("bad", ["not a key", base64.b64encode(b"short").decode(), "-----BEGIN x"])
def test_an_unreadable_key_is_refused_with_a_clear_error(no_key, bad):
    no_key.TICKET_SIGNING_KEY = bad
    with pytest.raises(ImproperlyConfigured, match="ticket signing key"):
        keys.key_ring()


def test_development_generates_one_demo_key_private_to_its_owner_and_never_logs_it(no_key, caplog):
    path = no_key.TICKET_DEMO_SIGNING_KEY_FILE
    with caplog.at_level(logging.DEBUG):
        ring = keys.key_ring()
    assert ring.source == "demo"
    assert path.exists() and path.name.startswith("demo-")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # The same key on the next start of the process: tickets issued before stay valid.
    keys._cache.clear()
    assert _raw_public(keys.public_keys()[0]) == _raw_public(ring.public_key)
    secret = serialization.load_pem_private_key(path.read_bytes(), None)
    assert _seed_b64(secret) not in caplog.text
    assert "PRIVATE KEY" not in caplog.text
    assert tokens.key_id(ring.public_key).hex() in caplog.text


def test_retired_public_keys_are_still_accepted(no_key):
    old = Ed25519PrivateKey.generate()
    no_key.TICKET_PREVIOUS_PUBLIC_KEYS = [base64.b64encode(_raw_public(old.public_key())).decode()]
    ring = keys.key_ring()
    assert [_raw_public(k) for k in ring.public_keys[1:]] == [_raw_public(old.public_key())]


def test_production_without_a_key_refuses(no_key):
    no_key.DEBUG = False
    no_key.SANDBOX_ENABLED = False
    with pytest.raises(ImproperlyConfigured, match="No ticket signing key"):
        keys.key_ring()
    assert [error.id for error in check_ticket_signing_key(None)] == ["etickets.E001"]
    with pytest.raises(SystemCheckError, match=r"etickets\.E001"):
        call_command("check")
    assert not no_key.TICKET_DEMO_SIGNING_KEY_FILE.exists()
    no_key.TICKET_SIGNING_KEY = _seed_b64(Ed25519PrivateKey.generate())
    assert check_ticket_signing_key(None) == []


@pytest.mark.parametrize("bad", ["-----BEGIN PUBLIC KEY-----\nxx\n", "AAAA", "not base64!"])
def test_an_unreadable_retired_key_is_refused_with_a_clear_error(no_key, bad):
    no_key.TICKET_PREVIOUS_PUBLIC_KEYS = [bad]
    with pytest.raises(ImproperlyConfigured, match="previous ticket public key"):
        keys.key_ring()
