"""Real pages in Debian's headless Chromium, driven by Playwright (never a downloaded browser).

Browser tests take their marks, a fresh browser context and a folder for screenshots from here.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    expect = sync_playwright = None

MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(sync_playwright is None, reason="playwright (Python package) not installed"),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} missing: install Debian's chromium (make system-deps)",
    ),
]


@contextmanager
def chromium_context(profile: Path, **options):
    """A persistent context on a fresh profile folder; `options` as Playwright takes them."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS, **options
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            # ORM calls made while Playwright's loop is set run in a context of their own:
            # close that connection here, or PostgreSQL refuses to drop the test database.
            connections.close_all()
            context.close()


def sign_in(context, base_url: str, user) -> None:
    """Give the browser `user`'s session (signed in by Django's test client): pages open signed
    in, with no login form to go through first."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": base_url}])


def artifacts(name: str) -> Path:
    """An emptied folder under test-artifacts/ (not committed) for a test's screenshots."""
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
