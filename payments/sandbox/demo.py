"""The sandbox's demo merchant: the partner Entrada's development settings point at."""

from __future__ import annotations

from .models import SandboxMerchant, SignType


def ensure_demo_merchant(
    *,
    partner_id: str,
    md5_key: str,
    merchant_public_key_pem: str,
    sandbox_private_key_pem: str,
    sign_type: str = SignType.RSA2,
) -> SandboxMerchant:
    """Create or update the demo merchant; idempotent, so a new key pair simply replaces the old."""
    if sign_type not in SignType.values:
        raise ValueError(f"unsupported sign type {sign_type!r}")
    merchant, _created = SandboxMerchant.objects.update_or_create(
        partner_id=partner_id,
        defaults={
            "name": "Entrada demo merchant",
            "md5_key": md5_key,
            "merchant_public_key_pem": merchant_public_key_pem,
            "sandbox_private_key_pem": sandbox_private_key_pem,
            "sign_type": sign_type,
            "is_demo": True,
        },
    )
    return merchant
