"""A Redis outage (a restart, a failover) answers 503 with Retry-After, never a 500.

The partner API's throttle counts requests in the shared cache, Redis in production: with Redis
out of reach, the request cannot be counted, and the client is told to retry in a moment. The
cache here is a real RedisCache pointed at a port where nothing listens.
"""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("redis")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket is: nothing listens there


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }


def test_partner_api_answers_503_while_redis_is_unreachable(api, redis_down, caplog):
    response = api.get("/api/v1/payments/")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["code"] == "service_unavailable"
    assert "retry" in response.json()["message"]
    # Logged as a passing outage, not as a bug with its traceback.
    ours = [r for r in caplog.records if r.name == "payments.api.errors"]
    assert [r.levelname for r in ours] == ["WARNING"]
    assert not any(r.exc_info for r in ours)
