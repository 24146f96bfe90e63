"""What a gateway call came to, as a value the payment lifecycle can act on.

Every call returns a GatewayResult, never raises for an Alipay answer or a network problem: the
caller must decide (docs/contributing.md). `outcome` is the classification; `code` is Alipay's
result or error code, or one of our transport codes below; `message` is plain language for staff and
cashiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    # The call did what it asked: paid, created the QR, cancelled, refunded, or a query answered.
    SUCCESS = "success"
    # Alipay is waiting for the buyer (UNKNOW, WAIT_BUYER_PAY): keep polling.
    IN_PROGRESS = "in_progress"
    # The outcome is unknown (SYSTEM_ERROR, timeout, transport error, unverifiable reply):
    # retry with identical parameters or query; never assume it failed.
    RETRYABLE = "retryable"
    # A final business answer: the buyer, the trade state or the amount says no.
    FAILED = "failed"
    # Our request or configuration is wrong (signature, partner, parameters): alert staff.
    CONFIG_ERROR = "config_error"


class Transport(StrEnum):
    """How the exchange itself went, separate from what Alipay said."""

    OK = "ok"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    HTTP_ERROR = "http_error"  # a non-200 status
    HTML = "html"  # an HTML page instead of XML
    MALFORMED = "malformed"  # not parseable as the XML we expect
    BAD_SIGNATURE = "bad_signature"  # a reply whose signature does not verify: not believed
    NOT_SENT = "not_sent"  # refused locally before sending (bad parameters)


class SignatureVerdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNSIGNED = "unsigned"  # is_success=F replies carry no signature


@dataclass(frozen=True)
class GatewayResult:
    service: str
    outcome: Outcome
    code: str
    message: str
    transport: Transport = Transport.OK
    signature: SignatureVerdict = SignatureVerdict.UNSIGNED
    # The signed children of <response><alipay>, as strings; empty unless signature is VALID.
    fields: dict[str, str] = field(default_factory=dict)
    # What was sent, without `sign` and never any key; stored in the audit record.
    request_params: dict[str, str] = field(default_factory=dict)
    raw: str = ""
    latency_ms: int = 0
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS

    @property
    def trade_status(self) -> str:
        """alipay_trans_status of a query (WAIT_BUYER_PAY, TRADE_SUCCESS, ...), or ''."""
        return self.fields.get("alipay_trans_status", "")

    @property
    def retry_flag(self) -> bool:
        """cancel's retry_flag=Y: failed, but Alipay asks us to send the same cancel again."""
        return self.fields.get("retry_flag", "").upper() == "Y"
