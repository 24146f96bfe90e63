"""The Django edge of the protocol client: configuration from settings, and one call per service.

Settings are read at call time (tests point them at the live sandbox). The functions here take our
rows and build the protocol call with parameters derived only from stored fields, so that every
retry of a pay, cancel or refund sends byte-identical parameters (docs/alipay.md, lifecycle rules).
"""

from __future__ import annotations

import base64
import hashlib
import threading

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from payments.alipay.client import AlipayClient
from payments.alipay.config import ClientConfig
from payments.alipay.exceptions import ConfigError
from payments.alipay.results import GatewayResult
from payments.exceptions import GatewayUnavailable
from payments.models import Payment, Refund

NOTIFY_PATH = "/payments/alipay/notify/"


def client_config() -> ClientConfig:
    """Build the frozen client configuration from settings.ALIPAY (PEM text or *_FILE paths)."""
    conf = settings.ALIPAY
    try:
        return ClientConfig.from_sources(
            gateway_url=conf["GATEWAY_URL"],
            partner=conf["PARTNER_ID"],
            sign_type=conf["SIGN_TYPE"],
            md5_key=conf.get("MD5_KEY", ""),
            md5_key_file=conf.get("MD5_KEY_FILE", ""),
            private_key=conf.get("PRIVATE_KEY", ""),
            private_key_file=conf.get("PRIVATE_KEY_FILE", ""),
            alipay_public_key=conf.get("ALIPAY_PUBLIC_KEY", ""),
            alipay_public_key_file=conf.get("ALIPAY_PUBLIC_KEY_FILE", ""),
            connect_timeout=float(conf.get("CONNECT_TIMEOUT", 5)),
            read_timeout=float(conf.get("READ_TIMEOUT", 15)),
        )
    except ConfigError as exc:
        # The message names a setting or a file path, never a key's content.
        raise GatewayUnavailable(fields={"gateway": str(exc)}) from exc


_local = threading.local()


def client() -> AlipayClient:
    """A client for the current settings, reused per thread: its HTTP session keeps the
    connection to the gateway alive between the poller's queries.

    The client is made again when `settings.ALIPAY` is another dict (override_settings, a test's
    `settings` fixture): compared by identity, which the cache's own reference to the dict keeps
    unambiguous, because comparing its items cost the poller a tenth of a query's CPU.
    """
    key = settings.ALIPAY
    cached = getattr(_local, "client", None)
    if cached is None or cached[0] is not key:
        try:
            cached = (key, AlipayClient(client_config()))
        except ConfigError as exc:
            raise GatewayUnavailable(fields={"gateway": str(exc)}) from exc
        _local.client = cached
    return cached[1]


def close_client() -> None:
    """Close this thread's cached client and its kept-alive connection (tests, shutdown)."""
    cached = getattr(_local, "client", None)
    if cached is not None:
        cached[1].session.close()
        del _local.client


def notify_url() -> str:
    return settings.ALIPAY["NOTIFY_BASE_URL"].rstrip("/") + NOTIFY_PATH


def extend_info(payment: Payment) -> dict[str, str]:
    """secondary merchant and store (required in practice), plus the terminal when known."""
    conf = settings.ALIPAY
    info = {
        "secondary_merchant_id": conf["SECONDARY_MERCHANT_ID"],
        "secondary_merchant_name": conf["SECONDARY_MERCHANT_NAME"],
        "secondary_merchant_industry": conf["SECONDARY_MERCHANT_INDUSTRY"],
        "store_id": payment.store_id or conf["SECONDARY_MERCHANT_ID"],
    }
    if payment.terminal_id:
        info["terminal_id"] = payment.terminal_id
    return info


# --- the buyer code, sealed while a pay may need re-sending -------------------------------------
def _fernet() -> Fernet:
    digest = hashlib.sha256(("payments.buyer_code:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal_buyer_code(code: str) -> str:
    return _fernet().encrypt(code.encode("ascii")).decode("ascii")


def unseal_buyer_code(sealed: str) -> str:
    """'' when nothing is sealed or the key changed (then the pay is not re-sent, only queried)."""
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        return ""


# --- one function per service, parameters from stored fields only ------------------------------
def pay(payment: Payment, buyer_code: str) -> GatewayResult:
    return client().pay(
        partner_trans_id=payment.partner_trans_id,
        amount=payment.amount,
        currency=payment.currency,
        buyer_identity_code=buyer_code,
        trans_name=payment.description,
        trans_create_time=payment.trans_create_time,
        extend_info=extend_info(payment),
        notify_url=notify_url(),
    )


def precreate(payment: Payment, *, validity_minutes: int) -> GatewayResult:
    return client().precreate(
        out_trade_no=payment.partner_trans_id,
        amount=payment.amount,
        currency=payment.currency,
        subject=payment.description,
        notify_url=notify_url(),
        timestamp_ms=int(payment.created_at.timestamp() * 1000),
        extend_params=extend_info(payment),
        timeout=f"{validity_minutes}m",
    )


def query(payment: Payment) -> GatewayResult:
    return client().query(partner_trans_id=payment.partner_trans_id)


def cancel(payment: Payment) -> GatewayResult:
    return client().cancel(
        out_trade_no=payment.partner_trans_id, timestamp_ms=payment.cancel_timestamp_ms
    )


def refund(refund: Refund) -> GatewayResult:
    payment = refund.payment
    return client().refund(
        partner_trans_id=payment.partner_trans_id,
        partner_refund_id=refund.partner_refund_id,
        refund_amount=refund.amount,
        currency=payment.currency,
        refund_reason=refund.reason or None,
    )


def refund_query(refund: Refund) -> GatewayResult:
    """What became of a refund whose answer was lost: asked by the ids the refund was sent with."""
    return client().refund_query(
        partner_trans_id=refund.payment.partner_trans_id,
        partner_refund_id=refund.partner_refund_id,
    )
