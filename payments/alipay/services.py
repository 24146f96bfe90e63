"""Request building: one builder per service of docs/alipay.md, validating before anything is
signed.

A bad parameter raises InvalidRequest (field + plain message) so that nothing reaches Alipay that it
would refuse or, worse, misread. Builders return a SignedRequest; the client only sends it.
Lengths and formats follow docs/alipay.md; where the public docs are silent (extend_info sub-fields)
the limits come from Alipay's published field tables and live in one place below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlencode

from payments.alipay.beijing import BEIJING
from payments.alipay.config import ClientConfig
from payments.alipay.exceptions import InvalidRequest
from payments.alipay.money import check_currency, format_amount
from payments.alipay.validation import (
    check_id,
    check_json_object,
    check_text,
    check_url,
    check_yes_no,
    is_buyer_code,
)

SPOT_PAY = "alipay.acquire.overseas.spot.pay"
PRECREATE = "alipay.acquire.precreate"
QUERY = "alipay.acquire.overseas.query"
CANCEL = "alipay.acquire.cancel"
REFUND = "alipay.acquire.overseas.spot.refund"
REFUND_QUERY = "alipay.acquire.refund.query"
NOTIFY_VERIFY = "notify_verify"
SERVICES = (SPOT_PAY, PRECREATE, QUERY, CANCEL, REFUND, REFUND_QUERY, NOTIFY_VERIFY)

BIZ_PRODUCT = "OVERSEAS_MBARCODE_PAY"
IDENTITY_CODE_TYPES = ("barcode", "qrcode")
# extend_info / extend_params: allowed keys and their maximum lengths; the first two are required.
EXTEND_INFO_FIELDS = {
    "secondary_merchant_id": 64,
    "store_id": 32,
    "secondary_merchant_name": 128,
    "secondary_merchant_industry": 4,
    "store_name": 128,
    "terminal_id": 32,
}
EXTEND_INFO_REQUIRED = ("secondary_merchant_id", "store_id")
# Never shown whole outside the request itself: a live buyer code pays (docs/contributing.md).
MASKED_PARAMS = frozenset({"buyer_identity_code"})


@dataclass(frozen=True)
class SignedRequest:
    """What goes on the wire: every parameter, `sign_type` and `sign` included."""

    service: str
    params: dict[str, str] = field(default_factory=dict)
    # `params` form-encoded, as sent: made once when signed and kept with a cached query, whose
    # signature's percent-encoding cost more CPU than the rest of building the request.
    form: bytes = b""

    @property
    def ids(self) -> str:
        """The ids of this request, for logs (never keys nor buyer codes)."""
        names = ("partner_trans_id", "out_trade_no", "partner_refund_id", "alipay_trans_id")
        return " ".join(f"{n}={self.params[n]}" for n in names if n in self.params)

    def audit_params(self) -> dict[str, str]:
        """The parameters for the audit record: no signature, buyer code masked."""
        return {
            k: (mask(v) if k in MASKED_PARAMS else v) for k, v in self.params.items() if k != "sign"
        }


def mask(value: str) -> str:
    """Keep the first 4 and last 4 characters, enough to match a receipt, not to pay."""
    return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:] if len(value) > 8 else "****"


def sign(config: ClientConfig, service: str, params: Mapping[str, str | None]) -> SignedRequest:
    """Add the common parameters and sign; drops None (optional, not sent)."""
    full = {k: v for k, v in params.items() if v is not None}
    full.update(service=service, partner=config.partner, _input_charset=config.input_charset)
    full["sign"] = config.signer().sign(full)
    full["sign_type"] = config.sign_type
    return SignedRequest(service=service, params=full, form=urlencode(full).encode("ascii"))


def format_time(value: datetime | str, name: str) -> str:
    """yyyyMMddHHmmss in Beijing time (Alipay's GMT+8); aware datetimes only, no guessing."""
    if isinstance(value, str):
        try:
            datetime.strptime(value, "%Y%m%d%H%M%S")
        except ValueError:
            raise InvalidRequest(name, "expected yyyyMMddHHmmss") from None
        if len(value) != 14 or not value.isdigit():
            raise InvalidRequest(name, "expected yyyyMMddHHmmss")
        return value
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRequest(name, "expected a timezone-aware datetime")
    return value.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def check_timestamp(value: object, name: str = "timestamp") -> str:
    """Milliseconds since the epoch: 13 digits (2001 to 2286)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 10**12 <= value < 10**13:
        raise InvalidRequest(name, "expected milliseconds since the epoch (13 digits)")
    return str(value)


def check_buyer_code(code: object) -> str:
    """The scanned payment code: 16-24 digits starting 25-30 (docs/alipay.md, spot.pay)."""
    text = check_text(code, "buyer_identity_code", 24)
    if not is_buyer_code(text):
        raise InvalidRequest("buyer_identity_code", "expected 16 to 24 digits starting 25 to 30")
    return text


def check_extend_info(info: object, name: str) -> str:
    return check_json_object(info, name, EXTEND_INFO_FIELDS, EXTEND_INFO_REQUIRED)


def build_pay(
    config: ClientConfig,
    *,
    partner_trans_id: str,
    amount: Decimal,
    currency: str,
    buyer_identity_code: str,
    trans_name: str,
    trans_create_time: datetime | str,
    extend_info: Mapping[str, str],
    identity_code_type: str = "barcode",
    memo: str | None = None,
    quantity: int | None = None,
    trans_currency: str | None = None,
    notify_url: str | None = None,
) -> SignedRequest:
    check_currency(currency)
    if trans_currency is not None:
        check_currency(trans_currency, "trans_currency")
    if identity_code_type not in IDENTITY_CODE_TYPES:
        raise InvalidRequest("identity_code_type", "expected barcode or qrcode")
    if quantity is not None and (
        isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 99999
    ):
        raise InvalidRequest("quantity", "expected a whole number from 1 to 99999")
    params = {
        "alipay_seller_id": config.partner,
        "partner_trans_id": check_id(partner_trans_id, "partner_trans_id"),
        "currency": currency,
        "trans_currency": trans_currency,
        # trans_amount is in trans_currency when one is given (docs/alipay.md).
        "trans_amount": format_amount(amount, trans_currency or currency, "trans_amount"),
        "buyer_identity_code": check_buyer_code(buyer_identity_code),
        "identity_code_type": identity_code_type,
        "trans_name": check_text(trans_name, "trans_name", 256),
        "trans_create_time": format_time(trans_create_time, "trans_create_time"),
        "biz_product": BIZ_PRODUCT,
        "extend_info": check_extend_info(extend_info, "extend_info"),
        "memo": None if memo is None else check_text(memo, "memo", 256),
        "quantity": None if quantity is None else str(quantity),
        "notify_url": None if notify_url is None else check_url(notify_url, "notify_url"),
    }
    return sign(config, SPOT_PAY, params)


def build_precreate(
    config: ClientConfig,
    *,
    out_trade_no: str,
    amount: Decimal,
    currency: str,
    subject: str,
    notify_url: str,
    timestamp_ms: int,
    extend_params: Mapping[str, str],
    body: str | None = None,
    timeout: str = "5m",
) -> SignedRequest:
    check_currency(currency)
    if not isinstance(timeout, str) or not (
        timeout[-1:] in ("m", "h", "d") and timeout[:-1].isdigit() and 1 <= int(timeout[:-1]) <= 999
    ):
        raise InvalidRequest("it_b_pay", "expected a validity such as 5m, 2h or 1d")
    params = {
        "out_trade_no": check_id(out_trade_no, "out_trade_no"),
        "subject": check_text(subject, "subject", 256),
        "body": None if body is None else check_text(body, "body", 400),
        "product_code": BIZ_PRODUCT,
        "total_fee": format_amount(amount, currency, "total_fee"),
        "currency": currency,
        "trans_currency": currency,
        "seller_id": config.partner,
        "notify_url": check_url(notify_url, "notify_url"),
        "timestamp": check_timestamp(timestamp_ms),
        "extend_params": check_extend_info(extend_params, "extend_params"),
        "it_b_pay": timeout,
    }
    return sign(config, PRECREATE, params)


def build_query(
    config: ClientConfig, *, partner_trans_id: str | None = None, alipay_trans_id: str | None = None
) -> SignedRequest:
    if partner_trans_id is None and alipay_trans_id is None:
        raise InvalidRequest("partner_trans_id", "give partner_trans_id or alipay_trans_id")
    params = {
        "partner_trans_id": _optional_id(partner_trans_id, "partner_trans_id"),
        "alipay_trans_id": _optional_id(alipay_trans_id, "alipay_trans_id"),
    }
    signed = _signed_query(config, params["partner_trans_id"], params["alipay_trans_id"])
    return SignedRequest(service=signed.service, params=dict(signed.params), form=signed.form)


@lru_cache(maxsize=8192)
def _signed_query(
    config: ClientConfig, partner_trans_id: str | None, alipay_trans_id: str | None
) -> SignedRequest:
    """A query carries no timestamp, so its signed form never changes: a pending payment is
    queried every 3 s until its deadline, and signing each (RSA2) was a fifth of the query's
    cost to the poller. The signature is deterministic (PKCS#1 v1.5, MD5), so the cached
    request is byte-identical to a fresh one."""
    return sign(
        config, QUERY, {"partner_trans_id": partner_trans_id, "alipay_trans_id": alipay_trans_id}
    )


def build_cancel(
    config: ClientConfig,
    *,
    out_trade_no: str,
    timestamp_ms: int,
    trade_no: str | None = None,
    terminal_timestamp_ms: int | None = None,
) -> SignedRequest:
    """The caller keeps timestamp_ms across retries so the parameters stay identical."""
    params = {
        "out_trade_no": check_id(out_trade_no, "out_trade_no"),
        "trade_no": _optional_id(trade_no, "trade_no"),
        "timestamp": check_timestamp(timestamp_ms),
        "terminal_timestamp": (
            None
            if terminal_timestamp_ms is None
            else check_timestamp(terminal_timestamp_ms, "terminal_timestamp")
        ),
    }
    return sign(config, CANCEL, params)


def build_refund(
    config: ClientConfig,
    *,
    partner_trans_id: str,
    partner_refund_id: str,
    refund_amount: Decimal,
    currency: str,
    refund_reason: str | None = None,
    is_sync: str = "Y",
    notify_url: str | None = None,
    alipay_trans_id: str | None = None,
) -> SignedRequest:
    trans_id = check_id(partner_trans_id, "partner_trans_id")
    refund_id = check_id(partner_refund_id, "partner_refund_id")
    if refund_id == trans_id:
        raise InvalidRequest("partner_refund_id", "must differ from partner_trans_id")
    params = {
        "partner_trans_id": trans_id,
        "alipay_trans_id": _optional_id(alipay_trans_id, "alipay_trans_id"),
        "partner_refund_id": refund_id,
        "refund_amount": format_amount(refund_amount, currency, "refund_amount"),
        "currency": currency,
        "refund_reason": (
            None if refund_reason is None else check_text(refund_reason, "refund_reason", 128)
        ),
        "is_sync": check_yes_no(is_sync, "is_sync"),
        "notify_url": None if notify_url is None else check_url(notify_url, "notify_url"),
    }
    return sign(config, REFUND, params)


def build_refund_query(
    config: ClientConfig,
    *,
    partner_refund_id: str,
    partner_trans_id: str | None = None,
    alipay_trans_id: str | None = None,
) -> SignedRequest:
    """Parameters are not public: query's (either trade id), plus the refund id (docs/alipay.md)."""
    if partner_trans_id is None and alipay_trans_id is None:
        raise InvalidRequest("partner_trans_id", "give partner_trans_id or alipay_trans_id")
    params = {
        "partner_trans_id": _optional_id(partner_trans_id, "partner_trans_id"),
        "alipay_trans_id": _optional_id(alipay_trans_id, "alipay_trans_id"),
        "partner_refund_id": check_id(partner_refund_id, "partner_refund_id"),
    }
    if params["partner_refund_id"] == params["partner_trans_id"]:
        raise InvalidRequest("partner_refund_id", "must differ from partner_trans_id")
    return sign(config, REFUND_QUERY, params)


def build_notify_verify(config: ClientConfig, *, notify_id: str) -> SignedRequest:
    # Alipay does not require a signature here; signing costs nothing and the sandbox checks it.
    return sign(config, NOTIFY_VERIFY, {"notify_id": check_text(notify_id, "notify_id", 128)})


def _optional_id(value: str | None, name: str) -> str | None:
    return None if value is None else check_id(value, name)
