"""Async notifications (docs/alipay.md): checked by signature before anything in them is read.

A notification is a hint. Even a verified one is applied by the lifecycle only after its amount
and currency match the payment on record; when in doubt it queries. Answer `success` once handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from payments.alipay.exceptions import InvalidNotification
from payments.alipay.signing import UNSIGNED_KEYS, Verifier

# The body Alipay expects once a notification is handled; anything else makes it resend.
ACKNOWLEDGEMENT = "success"
REQUIRED_FIELDS = ("notify_id", "out_trade_no", "trade_status")
# Known notify_action_type values; others are passed on, not refused (a notification is a hint).
ACTION_TYPES = frozenset(
    {"payByAccountAction", "refundFPAction", "reverseAction", "closeTradeAction", "finishFPAction"}
)
MAX_FIELD_LENGTH = 1024


@dataclass(frozen=True)
class Notification:
    """A verified notification; amounts stay strings until compared with the record's currency."""

    notify_id: str
    out_trade_no: str
    trade_status: str
    trade_no: str = ""
    notify_type: str = ""
    notify_time: str = ""
    notify_action_type: str = ""
    # Every signed field (amounts such as total_fee, trans_amount, refund_fee, currency, ...).
    fields: dict[str, str] = field(default_factory=dict)

    def amount(self, *names: str) -> str:
        """The first of `names` present (e.g. amount("trans_amount", "total_fee")), or ''."""
        return next((self.fields[n] for n in names if self.fields.get(n)), "")

    @property
    def currency(self) -> str:
        return self.fields.get("currency", "") or self.fields.get("trans_currency", "")


def as_plain_dict(form: Mapping[str, object]) -> dict[str, str]:
    """A form (a dict or Django's QueryDict: last value wins) as str -> str."""
    return {str(k): str(form[k]) for k in form}


def verify_notification(form: Mapping[str, object], verifier: Verifier) -> bool:
    """Signature over every field but sign/sign_type; a '+' in sign may arrive as a space."""
    fields = as_plain_dict(form)
    signature = fields.get("sign", "")
    sign_type = fields.get("sign_type", "").strip().upper()
    if not signature or (sign_type and sign_type != verifier.sign_type):
        return False
    if any(len(v) > MAX_FIELD_LENGTH for v in fields.values()):
        return False
    return verifier.verify(fields, signature)


def parse_notification(form: Mapping[str, object], verifier: Verifier) -> Notification:
    """Verify, then read. Raises InvalidNotification (answer 4xx / not `success`) otherwise."""
    if not verify_notification(form, verifier):
        raise InvalidNotification("the notification's signature does not verify")
    fields = {k: v for k, v in as_plain_dict(form).items() if k not in UNSIGNED_KEYS}
    missing = [name for name in REQUIRED_FIELDS if not fields.get(name)]
    if missing:
        raise InvalidNotification(f"the notification lacks {', '.join(missing)}")
    return Notification(
        notify_id=fields["notify_id"],
        out_trade_no=fields["out_trade_no"],
        trade_status=fields["trade_status"],
        trade_no=fields.get("trade_no", ""),
        notify_type=fields.get("notify_type", ""),
        notify_time=fields.get("notify_time", ""),
        notify_action_type=fields.get("notify_action_type", ""),
        fields=fields,
    )
