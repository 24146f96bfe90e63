"""Settings come from the environment and refuse unsafe production combinations."""

import base64
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings


def _import_settings(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "SECRET_KEY"))}
    return subprocess.run(
        [sys.executable, "-c", "import ticketing.settings as s; print(s.DEBUG, s.SANDBOX_ENABLED)"],
        env={**clean, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )


def test_refuses_debug_off_with_demo_secret():
    result = _import_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_refuses_debug_off_with_demo_partner():
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 40)
    assert result.returncode != 0
    assert "ALIPAY_PARTNER_ID" in result.stderr


LIVE_ALIPAY = {
    "ALIPAY_PARTNER_ID": "2088123412341234",
    "ALIPAY_GATEWAY_URL": "https://globalmapi.alipay.com/gateway.do",
    "ENTRADA_PUBLIC_URL": "https://tickets.example.com",
}


def test_production_settings_turn_the_sandbox_off():
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 40, **LIVE_ALIPAY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_a_demo_site_may_keep_the_sandbox_on():
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 40, ALIPAY_SANDBOX="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("name", ["ALIPAY_GATEWAY_URL", "ENTRADA_PUBLIC_URL"])
def test_a_live_site_refuses_plain_http_urls(name):
    env = {**LIVE_ALIPAY, name: LIVE_ALIPAY[name].replace("https://", "http://")}
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 40, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


def test_a_sandbox_site_may_talk_plain_http():
    result = _import_settings(
        DEBUG="0",
        SECRET_KEY="x" * 40,
        ALIPAY_SANDBOX="1",
        ALIPAY_GATEWAY_URL="http://127.0.0.1:8000/sandbox/gateway.do",
        ENTRADA_PUBLIC_URL="http://127.0.0.1:8000",
    )
    assert result.returncode == 0, result.stderr


def _production_env(tmp_path, **extra) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEBUG", "SECRET_KEY", "SECURE_", "ALIPAY_", "TICKET_", "ADMINS"))
    }
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "ENTRADA_VAR_DIR": str(tmp_path),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "tickets.example.com",
        "TICKET_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        **LIVE_ALIPAY,
        **extra,
    }


def test_the_deploy_check_is_clean_with_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=_production_env(tmp_path),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _production_settings(tmp_path, names: list[str], **env) -> list[str]:
    code = "import ticketing.settings as s; " + "; ".join(f"print(repr({n}))" for n in names)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_production_env(tmp_path, **env),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_production_defaults_are_https_only(tmp_path):
    values = _production_settings(
        tmp_path,
        [
            "s.SECURE_SSL_REDIRECT",
            "s.SECURE_HSTS_SECONDS",
            "s.SESSION_COOKIE_SECURE",
            "s.CSRF_COOKIE_SECURE",
        ],
    )
    assert values == ["True", "31536000", "True", "True"]
    # A site tried out over plain HTTP can say so.
    values = _production_settings(
        tmp_path,
        ["s.SECURE_SSL_REDIRECT", "s.SECURE_HSTS_SECONDS"],
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
    )
    assert values == ["False", "0"]


def test_trusted_proxies_sets_drf_num_proxies_and_admins_come_from_the_environment(tmp_path):
    values = _production_settings(
        tmp_path,
        ["s.TRUSTED_PROXIES", 's.REST_FRAMEWORK["NUM_PROXIES"]', "s.ADMINS"],
        TRUSTED_PROXIES="2",
        ADMINS="ops@museum.example,cto@museum.example",
    )
    assert values == [
        "2",
        "2",
        "[('ops', 'ops@museum.example'), ('cto', 'cto@museum.example')]",
    ]
    # Without the variable nobody's X-Forwarded-For is believed, DRF's included.
    assert _production_settings(tmp_path, ['s.REST_FRAMEWORK["NUM_PROXIES"]']) == ["0"]
