"""The sandbox can be served on its own (ENTRADA_ROOT_URLCONF=payments.sandbox.site_urls)."""

from django.test import Client
from django.urls import clear_url_caches


def test_the_stand_alone_urlconf_serves_only_the_sandbox(db, settings):
    client = Client()  # the package's `client` fixture is Entrada's Alipay client
    settings.ROOT_URLCONF = "payments.sandbox.site_urls"
    clear_url_caches()
    try:
        home = client.get("/")
        assert (home.status_code, home["Location"]) == (302, "/sandbox/wallet/")
        assert client.get("/sandbox/wallet/").status_code == 200
        refused = client.post("/sandbox/gateway.do", {"service": "nope"})
        assert b"<error>ILLEGAL_EXTERFACE</error>" in refused.content
        assert client.get("/admin/").status_code == 404
    finally:
        clear_url_caches()
