"""Helpers for the sandbox tests: Entrada's own protocol client pointed at the live sandbox."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from payments import clock as entrada_clock
from payments.alipay.client import AlipayClient
from payments.alipay.config import ClientConfig

EXTEND_INFO = {
    "secondary_merchant_id": "ENTRADA-DEMO",
    "secondary_merchant_name": "Entrada Demo",
    "secondary_merchant_industry": "7991",
    "store_id": "STORE-1",
}
_ids = itertools.count(1)


def site_notify_url(client: AlipayClient) -> str:
    """Entrada's own notification endpoint on the site the sandbox runs in: a notify_url the
    sandbox accepts (another host would be refused)."""
    return client.config.gateway_url.split("/sandbox/")[0] + "/payments/alipay/notify/"


def new_id(prefix: str = "T") -> str:
    return f"{prefix}{entrada_clock.now():%H%M%S%f}{next(_ids)}"


@pytest.fixture
def client(alipay_gateway) -> AlipayClient:
    return AlipayClient(ClientConfig.from_mapping(alipay_gateway))


@pytest.fixture
def pay(client):
    """pay(buyer_code, amount="10.00", currency="HKD", **kw) -> (partner_trans_id, result)."""

    def _pay(code: str, amount: str = "10.00", currency: str = "HKD", **kwargs):
        partner_trans_id = kwargs.pop("partner_trans_id", None) or new_id()
        result = client.pay(
            partner_trans_id=partner_trans_id,
            amount=Decimal(amount),
            currency=currency,
            buyer_identity_code=code,
            trans_name="Museum tickets",
            trans_create_time=kwargs.pop("trans_create_time", entrada_clock.now()),
            extend_info=EXTEND_INFO,
            **kwargs,
        )
        return partner_trans_id, result

    return _pay


@pytest.fixture
def raw_gateway(alipay_gateway, demo_rsa_keys):
    """Send hand-made requests: raw_gateway(params, sign_type="MD5", method="post", key=None)."""
    import requests

    from payments.alipay.signing import Signer

    def _send(params: dict, *, sign_type: str = "MD5", method: str = "post", signer=None, **kw):
        full = {"partner": alipay_gateway["PARTNER_ID"], "_input_charset": "UTF-8", **params}
        signer = signer or Signer(
            sign_type=sign_type,
            md5_key=alipay_gateway["MD5_KEY"],
            private_key_pem=demo_rsa_keys["merchant_private"],
        )
        full["sign"] = signer.sign(full)
        full["sign_type"] = sign_type
        url = alipay_gateway["GATEWAY_URL"]
        if method == "get":
            return requests.get(url, params=full, timeout=5, **kw)
        return requests.post(url, data=full, timeout=5, **kw)

    return _send
