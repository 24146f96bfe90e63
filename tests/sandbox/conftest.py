"""Fixtures of the sandbox tests: Entrada's own protocol client pointed at the live sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from payments import clock as entrada_clock
from payments.alipay.client import AlipayClient
from payments.alipay.config import ClientConfig

from .helpers import EXTEND_INFO, new_id


@pytest.fixture
def browser():
    """A requests session playing the buyer's phone: it keeps the wallet's cookies (CSRF)."""
    with requests.Session() as session:
        yield session


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
