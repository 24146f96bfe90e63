"""`manage.py serve` with DEBUG off: pages need the static files manifest, so it collects first."""

from __future__ import annotations

import pytest

from ticketing.management.commands.serve import collect_static

pytestmark = pytest.mark.django_db


def test_with_debug_off_pages_need_the_collected_static_files(client, settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    # Without the manifest (what `make run` with DEBUG=0 had) every page fails on its stylesheet.
    assert not (tmp_path / "static" / "staticfiles.json").exists()
    collect_static()
    assert (tmp_path / "static" / "staticfiles.json").exists()
    page = client.get("/")
    assert page.status_code == 200
    assert "/static/" in page.content.decode()


def test_with_debug_on_nothing_is_collected(settings, tmp_path):
    settings.DEBUG = True
    settings.STATIC_ROOT = tmp_path / "static"
    collect_static()
    assert not (tmp_path / "static").exists()
