"""Exceptions of the protocol package: only for what a caller cannot turn into a gateway result.

An Alipay answer or a network problem is never an exception (results.GatewayResult is). These are
raised before anything is sent: a bad parameter (the caller's input or bug) or a bad configuration.
Each carries a stable `code` and a plain-language message for the edge to show.
"""

from __future__ import annotations

from payments.alipay.signing import KeyConfigError


class InvalidRequest(ValueError):
    """A parameter would make Alipay refuse the request (or worse, misread it): refused locally."""

    code = "invalid_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConfigError(KeyConfigError):
    """The client configuration (partner id, sign type, keys, gateway URL) is unusable."""

    code = "config_error"


class InvalidNotification(ValueError):
    """An async notification whose signature or content cannot be believed: ignore it, query."""

    code = "invalid_notification"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
