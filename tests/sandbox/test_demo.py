"""load_demo sets up the sandbox's demo merchant with the demo key files, idempotently."""

import io

from django.core.management import call_command
from django_q.models import Schedule

from payments.alipay.signing import Signer, Verifier
from payments.sandbox.models import SandboxMerchant
from payments.sandbox.notify import TASK


def test_load_demo_creates_the_demo_merchant_with_the_demo_keys(db, settings, tmp_path):
    settings.ALIPAY_KEY_DIR = tmp_path
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())
    merchant = SandboxMerchant.objects.get()
    assert (merchant.partner_id, merchant.md5_key, merchant.is_demo) == (
        "2088000000000001",
        "entrada-demo-md5-key-not-for-production",
        True,
    )
    assert merchant.sign_type == settings.ALIPAY["SIGN_TYPE"]
    # What Entrada signs with its demo private key, the sandbox verifies, and the other way round.
    ours = Signer("RSA2", private_key_pem=(tmp_path / "demo-merchant-private.pem").read_text())
    assert Verifier("RSA2", public_key_pem=merchant.merchant_public_key_pem).verify(
        {"a": "1"}, ours.sign({"a": "1"})
    )
    theirs = Signer("RSA2", private_key_pem=merchant.sandbox_private_key_pem)
    alipay_public = (tmp_path / "demo-alipay-public.pem").read_text()
    assert Verifier("RSA2", public_key_pem=alipay_public).verify(
        {"b": "2"}, theirs.sign({"b": "2"})
    )
    assert Schedule.objects.filter(func=TASK).count() == 1


def test_the_demo_partner_defaults_to_the_demo_md5_key(settings):
    assert settings.ALIPAY["PARTNER_ID"] == settings.ALIPAY_DEMO_PARTNER_ID
    assert settings.ALIPAY["MD5_KEY"] == settings.ALIPAY_DEMO_MD5_KEY
