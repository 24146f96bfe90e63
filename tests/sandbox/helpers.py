"""Helpers for the sandbox tests."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal

from payments import clock
from payments.alipay.results import Outcome

_ids = itertools.count(1)

# The extend_info the sandbox tests send: the keys Alipay requires in practice.
EXTEND_INFO = {
    "secondary_merchant_id": "ENTRADA-DEMO",
    "secondary_merchant_name": "Entrada Demo",
    "secondary_merchant_industry": "7991",
    "store_id": "STORE-1",
}


def new_id(prefix: str = "T") -> str:
    """A partner_trans_id no other test in the run uses."""
    return f"{prefix}{clock.now():%H%M%S%f}{next(_ids)}"


def site_notify_url(client) -> str:
    """Entrada's own notification endpoint on the site the sandbox runs in: a notify_url the
    sandbox accepts (another host would be refused)."""
    return client.config.gateway_url.split("/sandbox/")[0] + "/payments/alipay/notify/"


def csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


def precreate(client, clock, amount="66.00"):
    out_trade_no = new_id("Q")
    result = client.precreate(
        out_trade_no=out_trade_no,
        amount=Decimal(amount),
        currency="HKD",
        subject="Aquarium tickets",
        notify_url=site_notify_url(client),
        timestamp_ms=int(clock.now().timestamp() * 1000),
        extend_params={"secondary_merchant_id": "ENTRADA-DEMO", "store_id": "WEB"},
    )
    assert result.outcome is Outcome.SUCCESS
    return out_trade_no, result.fields["qr_code"]
