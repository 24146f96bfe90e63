"""Fixtures shared by the whole suite."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from payments import clock as entrada_clock

from .helpers import no_worker


@pytest.fixture
def clock():
    """The movable clock, frozen at the real current time; reset after the test."""
    entrada_clock.freeze()
    yield entrada_clock
    entrada_clock.reset()


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


@pytest.fixture(scope="session")
def demo_rsa_keys() -> dict[str, str]:
    """Two RSA-2048 pairs made once per run: ours (merchant_*) and the sandbox's (alipay_*)."""
    merchant_private, merchant_public = _rsa_pair()
    alipay_private, alipay_public = _rsa_pair()
    return {
        "merchant_private": merchant_private,
        "merchant_public": merchant_public,
        "alipay_private": alipay_private,
        "alipay_public": alipay_public,
    }


@pytest.fixture
def sandbox_merchant(request, db, demo_rsa_keys):
    """The sandbox's demo merchant; its reply sign type is `request.param` (default RSA2).

    Choose another with `@pytest.mark.parametrize("sandbox_merchant", ["MD5"], indirect=True)`.
    """
    from django.conf import settings

    from payments.sandbox.demo import ensure_demo_merchant

    return ensure_demo_merchant(
        partner_id=settings.ALIPAY_DEMO_PARTNER_ID,
        md5_key=settings.ALIPAY_DEMO_MD5_KEY,
        merchant_public_key_pem=demo_rsa_keys["merchant_public"],
        sandbox_private_key_pem=demo_rsa_keys["alipay_private"],
        sign_type=getattr(request, "param", "RSA2"),
    )


@pytest.fixture
def alipay_gateway(transactional_db, live_server, settings, sandbox_merchant, demo_rsa_keys):
    """settings.ALIPAY pointed at the sandbox on the live server; yields the merged dict.

    The client's read timeout (1 s) is shorter than the sandbox's slow replies (2 s), so the
    "no reply in time" buyer codes really time out without slowing the suite much.
    """
    from payments import alipay_client

    settings.ALIPAY = {
        **settings.ALIPAY,
        "GATEWAY_URL": live_server.url + "/sandbox/gateway.do",
        "PARTNER_ID": sandbox_merchant.partner_id,
        "SIGN_TYPE": sandbox_merchant.sign_type,
        "MD5_KEY": sandbox_merchant.md5_key,
        "MD5_KEY_FILE": "",
        "PRIVATE_KEY": demo_rsa_keys["merchant_private"],
        "PRIVATE_KEY_FILE": "",
        "ALIPAY_PUBLIC_KEY": demo_rsa_keys["alipay_public"],
        "ALIPAY_PUBLIC_KEY_FILE": "",
        "CONNECT_TIMEOUT": 2.0,
        "READ_TIMEOUT": 1.0,
        "NOTIFY_BASE_URL": live_server.url,
    }
    settings.SANDBOX_SLOW_REPLY_SECONDS = 2
    yield settings.ALIPAY
    # The client keeps its connection alive per thread; the live server's thread serving it
    # would keep its database connection open, and PostgreSQL then refuses to drop the test
    # database at the end of the run.
    alipay_client.close_client()


@pytest.fixture(name="no_worker")
def no_worker_fixture():
    """No django-q2 worker for the whole test (tests.helpers.no_worker): queued tasks wait."""
    with no_worker():
        yield


@pytest.fixture
def poller_elsewhere(db):
    """Every shard's poller lease, held by a stand-in for the qcluster process that runs it.

    In production the poller loops in its own worker. Tests run django-q2 in sync mode, where
    kicking the poller would run its whole loop inline, inside the request that kicked it, for
    real minutes of polling. With the leases held elsewhere the request returns at once, as it does
    in production; everything else queued still runs inline (the sandbox's notifications, the
    tickets' e-mail). The leases last two hours of the movable clock, so moving it does not free
    them; `.release()` hands the polling back to the test.
    """
    from datetime import timedelta

    from payments import poller
    from payments.models import WorkerLease

    class Elsewhere:
        holder = "qcluster (stand-in)"

        def release(self) -> None:
            for shard in range(poller.shard_count()):
                poller.release_lease(self.holder, shard)

    for shard in range(poller.shard_count()):
        WorkerLease.objects.update_or_create(
            name=poller.lease_name(shard),
            defaults={
                "holder": Elsewhere.holder,
                "expires_at": entrada_clock.now() + timedelta(hours=2),
            },
        )
    assert poller.lease_is_held()
    elsewhere = Elsewhere()
    yield elsewhere
    elsewhere.release()


@pytest.fixture
def booking(db):
    """A small world to book in (tests.ticketing.helpers.Booking), around a Shanghai attraction."""
    from .ticketing.helpers import Booking, make_attraction

    return Booking(make_attraction())
