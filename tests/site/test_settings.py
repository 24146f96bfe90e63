"""Settings come from the environment and refuse unsafe production combinations."""

import os
import subprocess
import sys

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


def test_production_settings_turn_the_sandbox_off():
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 40, ALIPAY_PARTNER_ID="2088123412341234")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_a_demo_site_may_keep_the_sandbox_on():
    result = _import_settings(DEBUG="0", SECRET_KEY="x" * 40, ALIPAY_SANDBOX="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
