"""The wallet returns the buyer to the shop's order page after paying, like Alipay's app, and to
nothing else: a return URL elsewhere is refused, so the wallet is never an open redirect."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest

from .test_wallet import browser, csrf_token, precreate  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def warm_server(browser, live_server):  # noqa: F811
    """One page first: the live server's first answer (URLs, templates loaded) can outlast the
    client's 1 s read timeout that precreate is sent with."""
    assert browser.get(live_server.url + "/sandbox/wallet/", timeout=10).status_code == 200


def with_return(qr_url: str, return_url: str) -> str:
    return f"{qr_url}?{urlencode({'return_url': return_url})}"


def site(qr_url: str) -> str:
    parts = urlsplit(qr_url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.mark.parametrize("action", ["pay", "decline"])
def test_paying_or_declining_returns_to_the_order_page(
    browser,  # noqa: F811
    clock,
    client,
    alipay_gateway,
    action,
):
    _out_trade_no, qr_url = precreate(client, clock)
    back = f"{site(qr_url)}/orders/7KQ2M9XD/"
    page = browser.get(with_return(qr_url, back), timeout=5)
    assert page.status_code == 200
    assert f'name="return_url" value="{back}"' in page.text
    assert 'data-testid="return-to-shop"' in page.text
    done = browser.post(
        qr_url,
        data={"action": action, "return_url": back, "csrfmiddlewaretoken": csrf_token(page.text)},
        timeout=5,
        allow_redirects=False,
    )
    assert done.status_code == 302
    assert done.headers["Location"] == back


def test_a_path_on_this_site_is_accepted_too(browser, clock, client, alipay_gateway):  # noqa: F811
    _out_trade_no, qr_url = precreate(client, clock)
    assert browser.get(with_return(qr_url, "/orders/7KQ2M9XD/"), timeout=5).status_code == 200


@pytest.mark.parametrize(
    "outside",
    [
        "https://evil.example/orders/7KQ2M9XD/",
        "//evil.example/orders/7KQ2M9XD/",
        "http://evil.example@{host}/orders/7KQ2M9XD/",
        "{site}/admin/",
        "{site}/orders/7KQ2M9XD/?next=https://evil.example/",
        "{site}/orders/../admin/",
        "javascript:alert(1)//orders/7KQ2M9XD/",
        "/\\evil.example/orders/7KQ2M9XD/",
        "ftp://{host}/orders/7KQ2M9XD/",
    ],
)
def test_a_return_url_elsewhere_is_refused(
    browser,  # noqa: F811
    clock,
    client,
    alipay_gateway,
    outside,
):
    out_trade_no, qr_url = precreate(client, clock)
    url = outside.format(site=site(qr_url), host=urlsplit(qr_url).netloc)
    page = browser.get(with_return(qr_url, url), timeout=5)
    assert page.status_code == 400
    assert "only to the shop's order pages" in page.text
    # Posting it is refused as well, and the trade is left as it was.
    token = csrf_token(browser.get(qr_url, timeout=5).text)
    done = browser.post(
        qr_url,
        data={"action": "pay", "return_url": url, "csrfmiddlewaretoken": token},
        timeout=5,
        allow_redirects=False,
    )
    assert done.status_code == 400
    assert client.query(partner_trans_id=out_trade_no).trade_status == "WAIT_BUYER_PAY"
