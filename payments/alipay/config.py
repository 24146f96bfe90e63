"""The client's configuration: a small frozen value built from settings by the Django edge.

Going live changes only these values (gateway URL, partner id, keys), never code (docs/alipay.md).
Keys live in fields hidden from repr so that a logged or printed config never shows a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from payments.alipay.exceptions import ConfigError
from payments.alipay.signing import SIGN_TYPES, KeyConfigError, Signer, Verifier

# A partner id (PID) is 16 digits starting 2088 (docs/alipay.md, "Gateways").
PARTNER_RE = re.compile(r"2088\d{12}")


def key_from(text: str = "", path: str | Path = "") -> str:
    """A key given as text wins; otherwise it is read from `path`; '' when neither is given."""
    if text and text.strip():
        return text.strip()
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        # Only the path is named, never any content.
        raise ConfigError(f"cannot read the key file {path}") from exc


@dataclass(frozen=True)
class ClientConfig:
    gateway_url: str
    partner: str
    sign_type: str
    md5_key: str = field(default="", repr=False)
    private_key_pem: str = field(default="", repr=False)
    alipay_public_key_pem: str = field(default="", repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    input_charset: str = "UTF-8"

    def __post_init__(self) -> None:
        if not PARTNER_RE.fullmatch(self.partner or ""):
            raise ConfigError("the Alipay partner id must be 16 digits starting with 2088")
        if self.sign_type not in SIGN_TYPES:
            raise ConfigError(f"sign_type must be one of {', '.join(SIGN_TYPES)}")
        url = urlsplit(self.gateway_url or "")
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ConfigError("the Alipay gateway URL must be an http(s) URL")
        if not (0 < self.connect_timeout <= 120 and 0 < self.read_timeout <= 300):
            raise ConfigError("the Alipay timeouts must be positive and bounded")
        # docs/alipay.md: always send UTF-8; the charset is signed, so it is fixed here.
        if self.input_charset != "UTF-8":
            raise ConfigError("_input_charset must be UTF-8")
        # Fail at start-up, not at the first payment: build both now.
        self.signer()
        self.verifier()

    @classmethod
    def from_sources(
        cls,
        *,
        gateway_url: str,
        partner: str,
        sign_type: str,
        md5_key: str = "",
        md5_key_file: str | Path = "",
        private_key: str = "",
        private_key_file: str | Path = "",
        alipay_public_key: str = "",
        alipay_public_key_file: str | Path = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
    ) -> ClientConfig:
        """Build from settings where each key is PEM/text or a file; only needed keys are read."""
        sign_type = (sign_type or "").upper()
        rsa = sign_type in ("RSA", "RSA2")
        return cls(
            gateway_url=gateway_url,
            partner=partner,
            sign_type=sign_type,
            md5_key=key_from(md5_key, md5_key_file) if sign_type == "MD5" else "",
            private_key_pem=key_from(private_key, private_key_file) if rsa else "",
            alipay_public_key_pem=key_from(alipay_public_key, alipay_public_key_file)
            if rsa
            else "",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> ClientConfig:
        """Build from a dict shaped like Django's settings.ALIPAY (the edge passes it in)."""
        return cls.from_sources(
            gateway_url=str(values.get("GATEWAY_URL", "")),
            partner=str(values.get("PARTNER_ID", "")),
            sign_type=str(values.get("SIGN_TYPE", "")),
            md5_key=str(values.get("MD5_KEY") or ""),
            md5_key_file=str(values.get("MD5_KEY_FILE") or ""),
            private_key=str(values.get("PRIVATE_KEY") or ""),
            private_key_file=str(values.get("PRIVATE_KEY_FILE") or ""),
            alipay_public_key=str(values.get("ALIPAY_PUBLIC_KEY") or ""),
            alipay_public_key_file=str(values.get("ALIPAY_PUBLIC_KEY_FILE") or ""),
            connect_timeout=float(values.get("CONNECT_TIMEOUT", 5.0)),  # type: ignore[arg-type]
            read_timeout=float(values.get("READ_TIMEOUT", 15.0)),  # type: ignore[arg-type]
        )

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) as requests expects it."""
        return (self.connect_timeout, self.read_timeout)

    def signer(self) -> Signer:
        return self._signer

    def verifier(self) -> Verifier:
        return self._verifier

    @cached_property
    def _signer(self) -> Signer:
        try:
            return Signer(
                self.sign_type, md5_key=self.md5_key, private_key_pem=self.private_key_pem
            )
        except KeyConfigError as exc:
            raise ConfigError(str(exc)) from exc

    @cached_property
    def _verifier(self) -> Verifier:
        try:
            return Verifier(
                self.sign_type, md5_key=self.md5_key, public_key_pem=self.alipay_public_key_pem
            )
        except KeyConfigError as exc:
            raise ConfigError(str(exc)) from exc
