"""The shared sandbox fixtures give what other test packages rely on."""

import pytest
from django.conf import settings

from payments.sandbox.demo import ensure_demo_merchant
from payments.sandbox.models import SandboxMerchant


def test_demo_merchant_is_idempotent_and_updates_keys(sandbox_merchant, demo_rsa_keys):
    again = ensure_demo_merchant(
        partner_id=sandbox_merchant.partner_id,
        md5_key="another-key",
        merchant_public_key_pem=demo_rsa_keys["alipay_public"],
        sandbox_private_key_pem=demo_rsa_keys["merchant_private"],
        sign_type="MD5",
    )
    assert again.pk == sandbox_merchant.pk
    assert SandboxMerchant.objects.count() == 1
    stored = SandboxMerchant.objects.get()
    assert (stored.md5_key, stored.sign_type, stored.is_demo) == ("another-key", "MD5", True)


@pytest.mark.parametrize("sandbox_merchant", ["MD5"], indirect=True)
def test_sandbox_merchant_sign_type_is_a_parameter(sandbox_merchant):
    assert sandbox_merchant.sign_type == "MD5"


def test_alipay_gateway_points_settings_at_the_live_sandbox(alipay_gateway, live_server):
    assert settings.ALIPAY["GATEWAY_URL"] == live_server.url + "/sandbox/gateway.do"
    assert settings.ALIPAY["PARTNER_ID"] == settings.ALIPAY_DEMO_PARTNER_ID
    assert "BEGIN PRIVATE KEY" in alipay_gateway["PRIVATE_KEY"]
    assert alipay_gateway["READ_TIMEOUT"] < settings.SANDBOX_SLOW_REPLY_SECONDS
