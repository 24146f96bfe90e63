"""The wallet pages play the buyer's phone, driven over HTTP like a browser would."""

import base64
import re

import pytest
import requests

from payments.sandbox.models import SandboxTrade
from payments.sandbox.scenarios import Scenario, behaviour_for

from .helpers import csrf_token, precreate


def wallet_page(browser, live_server) -> str:
    response = browser.get(live_server.url + "/sandbox/wallet/", timeout=5)
    assert response.status_code == 200
    return response.text


def test_the_wallet_shows_a_fresh_normal_buyer_code_with_its_barcode(
    browser, live_server, alipay_gateway
):
    first, second = wallet_page(browser, live_server), wallet_page(browser, live_server)
    codes = [re.search(r'data-testid="buyer-code">(\d+)<', page)[1] for page in (first, second)]
    assert codes[0] != codes[1]
    assert all(behaviour_for(code).scenario is Scenario.NORMAL for code in codes)
    svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', first)[1])
    assert b"<svg" in svg and svg.count(b"<rect") > 20
    assert 'name="viewport"' in first and "New code" in first


def test_the_buyer_confirms_a_pin_in_the_wallet(browser, live_server, pay, client):
    html = wallet_page(browser, live_server)
    code = re.search(r'data-testid="buyer-code">(\d+)<', html)[1]
    partner_trans_id, result = pay(code, "2500.00")
    assert result.code == "UNKNOW"
    html = wallet_page(browser, live_server)
    assert partner_trans_id in html
    trade = SandboxTrade.objects.get(partner_trans_id=partner_trans_id)
    response = browser.post(
        f"{live_server.url}/sandbox/wallet/trades/{trade.pk}/",
        data={"action": "confirm", "csrfmiddlewaretoken": csrf_token(html)},
        timeout=5,
    )
    assert response.status_code == 200 and "confirmed" in response.text
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_SUCCESS"
    assert partner_trans_id not in wallet_page(browser, live_server)


def test_the_buyer_declines_and_forms_are_checked(browser, live_server, pay, client):
    partner_trans_id, _ = pay("280000000000000004")
    trade = SandboxTrade.objects.get(partner_trans_id=partner_trans_id)
    url = f"{live_server.url}/sandbox/wallet/trades/{trade.pk}/"
    token = csrf_token(wallet_page(browser, live_server))
    assert requests.post(url, data={"action": "confirm"}, timeout=5).status_code == 403  # no CSRF
    bad = browser.post(url, data={"action": "steal", "csrfmiddlewaretoken": token}, timeout=5)
    assert bad.status_code == 400
    browser.post(url, data={"action": "decline", "csrfmiddlewaretoken": token}, timeout=5)
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_CLOSED"
    late = browser.post(url, data={"action": "confirm", "csrfmiddlewaretoken": token}, timeout=5)
    assert "no longer waiting" in late.text
    assert client.query(partner_trans_id=partner_trans_id).trade_status == "TRADE_CLOSED"


@pytest.mark.parametrize(
    ("action", "status"), [("pay", "TRADE_SUCCESS"), ("decline", "TRADE_CLOSED")]
)
def test_a_phone_opening_the_qr_link_pays_or_declines(
    browser, clock, client, alipay_gateway, action, status
):
    out_trade_no, qr_url = precreate(client, clock)
    page = browser.get(qr_url, timeout=5)
    assert "66.00 HKD" in page.text and "Aquarium tickets" in page.text
    done = browser.post(
        qr_url, data={"action": action, "csrfmiddlewaretoken": csrf_token(page.text)}, timeout=5
    )
    assert done.status_code == 200
    assert 'data-testid="qr-state"' in done.text
    assert client.query(partner_trans_id=out_trade_no).trade_status == status


def test_unknown_qr_tokens_are_not_found(browser, live_server, alipay_gateway):
    assert browser.get(live_server.url + "/sandbox/qr/nope/", timeout=5).status_code == 404
