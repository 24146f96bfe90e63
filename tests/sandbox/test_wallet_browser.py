"""The wallet's payment code, as a phone's screen shows it, scans back to its digits.

Headless Chromium renders /sandbox/wallet/ at phone size; zbarimg (what a cashier's scanner does)
reads the screenshot; the code it reads then pays at the gateway like the typed digits would.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from payments.alipay.results import Outcome

from ..browser import MARKS, chromium_context

pytestmark = [
    *MARKS,
    pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (zbar-tools) missing"),
]


def test_the_wallet_barcode_scans_to_the_code_shown(
    live_server, pay, monkeypatch, tmp_path, alipay_gateway
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shot = tmp_path / "wallet.png"
    screen = {"viewport": {"width": 390, "height": 844}, "is_mobile": True}
    with chromium_context(tmp_path / "profile", **screen) as context:
        page = context.new_page()
        page.goto(live_server.url + "/sandbox/wallet/")
        shown = page.get_by_test_id("buyer-code").inner_text().strip()
        page.screenshot(path=str(shot))
    scanned = subprocess.run(
        ["zbarimg", "-q", "--raw", str(shot)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert re.fullmatch(r"\d{18}", scanned)
    assert scanned == shown
    _, result = pay(scanned)
    assert result.outcome is Outcome.SUCCESS
