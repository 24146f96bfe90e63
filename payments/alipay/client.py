"""The gateway client: builds, sends and reads one call; never raises for Alipay or the network.

Bad local parameters raise InvalidRequest before anything is sent (the caller's input or bug).
Everything after sending comes back as a GatewayResult whose `transport` tells a timeout, a refused
connection, an HTTP error, an HTML page, unreadable XML and a bad signature apart, and whose
`outcome` tells the lifecycle what to do. Logs carry ids only, never keys nor buyer codes.

Each exchange is bounded (payments.alipay.transport): connect, send and every read together within
connect_timeout + read_timeout, and at most replies.MAX_REPLY_BYTES of reply (Alipay's are a few
KB). A reply past that deadline is a timeout, one over the cap is unreadable: both leave the
outcome unknown, like any transport fault.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import requests

from payments.alipay import services, transport
from payments.alipay.config import ClientConfig
from payments.alipay.exceptions import ConfigError
from payments.alipay.notifications import Notification, parse_notification, verify_notification
from payments.alipay.replies import MAX_REPLY_BYTES, read_reply, transport_failure
from payments.alipay.results import GatewayResult, Transport
from payments.alipay.services import SignedRequest

logger = logging.getLogger(__name__)


def _session(gateway_url: str) -> transport.Session:
    """Kept-alive connections to the gateway, through the environment's proxy for it and with
    its CA bundle (the variables requests reads), read once here rather than on every request."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session = transport.Session(
        proxies=requests.utils.get_environ_proxies(gateway_url), verify=bundle or True
    )
    try:
        session.route(gateway_url)
    except requests.RequestException as exc:
        # A proxy the transport cannot speak to (SOCKS, https://): every call would fail.
        raise ConfigError(f"cannot reach the gateway: {exc}") from exc
    return session


class AlipayClient:
    def __init__(self, config: ClientConfig, session: transport.Session | None = None) -> None:
        self.config = config
        self.session = session or _session(config.gateway_url)

    # --- one method per service ---------------------------------------------------------------

    def pay(
        self,
        *,
        partner_trans_id: str,
        amount: Decimal,
        currency: str,
        buyer_identity_code: str,
        trans_name: str,
        trans_create_time: datetime,
        extend_info: Mapping[str, str],
        identity_code_type: str = "barcode",
        memo: str | None = None,
        quantity: int | None = None,
        trans_currency: str | None = None,
        notify_url: str | None = None,
    ) -> GatewayResult:
        """Barcode payment. SUCCESS: paid; IN_PROGRESS (UNKNOW) or RETRYABLE: poll query."""
        return self.send(
            services.build_pay(
                self.config,
                partner_trans_id=partner_trans_id,
                amount=amount,
                currency=currency,
                buyer_identity_code=buyer_identity_code,
                trans_name=trans_name,
                trans_create_time=trans_create_time,
                extend_info=extend_info,
                identity_code_type=identity_code_type,
                memo=memo,
                quantity=quantity,
                trans_currency=trans_currency,
                notify_url=notify_url,
            )
        )

    def precreate(
        self,
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
    ) -> GatewayResult:
        """Transaction QR: on SUCCESS, fields["qr_code"] is the text to render as a QR."""
        return self.send(
            services.build_precreate(
                self.config,
                out_trade_no=out_trade_no,
                amount=amount,
                currency=currency,
                subject=subject,
                notify_url=notify_url,
                timestamp_ms=timestamp_ms,
                extend_params=extend_params,
                body=body,
                timeout=timeout,
            )
        )

    def query(
        self, *, partner_trans_id: str | None = None, alipay_trans_id: str | None = None
    ) -> GatewayResult:
        """SUCCESS with result.trade_status; FAILED with code TRADE_NOT_EXIST if never received."""
        return self.send(
            services.build_query(
                self.config, partner_trans_id=partner_trans_id, alipay_trans_id=alipay_trans_id
            )
        )

    def cancel(
        self, *, out_trade_no: str, timestamp_ms: int, trade_no: str | None = None
    ) -> GatewayResult:
        """Pass the same timestamp_ms on every retry so the parameters stay identical."""
        return self.send(
            services.build_cancel(
                self.config, out_trade_no=out_trade_no, timestamp_ms=timestamp_ms, trade_no=trade_no
            )
        )

    def refund(
        self,
        *,
        partner_trans_id: str,
        partner_refund_id: str,
        refund_amount: Decimal,
        currency: str,
        refund_reason: str | None = None,
        is_sync: str = "Y",
        notify_url: str | None = None,
        alipay_trans_id: str | None = None,
    ) -> GatewayResult:
        """Retries reuse partner_refund_id: Alipay refunds once per (partner, refund id)."""
        return self.send(
            services.build_refund(
                self.config,
                partner_trans_id=partner_trans_id,
                partner_refund_id=partner_refund_id,
                refund_amount=refund_amount,
                currency=currency,
                refund_reason=refund_reason,
                is_sync=is_sync,
                notify_url=notify_url,
                alipay_trans_id=alipay_trans_id,
            )
        )

    def refund_query(
        self,
        *,
        partner_refund_id: str,
        partner_trans_id: str | None = None,
        alipay_trans_id: str | None = None,
    ) -> GatewayResult:
        """SUCCESS with fields["refund_status"]; FAILED REFUND_NOT_EXIST if never received."""
        return self.send(
            services.build_refund_query(
                self.config,
                partner_refund_id=partner_refund_id,
                partner_trans_id=partner_trans_id,
                alipay_trans_id=alipay_trans_id,
            )
        )

    def notify_verify(self, notify_id: str) -> bool | None:
        """Alipay's word on a notify_id: True / False, or None when it could not be asked."""
        request = services.build_notify_verify(self.config, notify_id=notify_id)
        try:
            response = self._post(request)
        except requests.RequestException as exc:
            logger.warning("alipay notify_verify unreachable: %s", type(exc).__name__)
            return None
        ok = response.status == 200 and response.complete
        answer = response.content.decode("utf-8", "replace").strip().lower() if ok else ""
        return {"true": True, "false": False}.get(answer)

    # --- notifications (no network) -----------------------------------------------------------

    def verify_notification(self, form: Mapping[str, object]) -> bool:
        return verify_notification(form, self.config.verifier())

    def parse_notification(self, form: Mapping[str, object]) -> Notification:
        """Verified notification or InvalidNotification."""
        return parse_notification(form, self.config.verifier())

    # --- the exchange -------------------------------------------------------------------------

    def send(self, request: SignedRequest) -> GatewayResult:
        """POST one signed request and classify what came back (or did not)."""
        started = time.monotonic()
        status: int | None = None
        try:
            response = self._post(request)
        except requests.ConnectTimeout:
            # Never connected, so never sent: still reported as unknown, like any transport fault.
            result = transport_failure(request.service, Transport.CONNECTION_ERROR)
        except requests.Timeout:
            result = transport_failure(request.service, Transport.TIMEOUT)
        except requests.RequestException:
            result = transport_failure(request.service, Transport.CONNECTION_ERROR)
        else:
            status = response.status
            if status != 200:
                raw = response.content[:65536].decode("utf-8", "replace")
                result = transport_failure(request.service, Transport.HTTP_ERROR, raw=raw)
            elif not response.complete:
                # Not a reply Alipay sends: what was read is kept for staff, nothing believed.
                raw = response.content[:65536].decode("utf-8", "replace")
                result = transport_failure(request.service, Transport.MALFORMED, raw=raw)
            else:
                result = read_reply(request.service, response.content, self.config.verifier())
        latency_ms = round((time.monotonic() - started) * 1000)
        result = replace(
            result,
            request_params=request.audit_params(),
            latency_ms=latency_ms,
            http_status=status,
        )
        logger.info(
            "alipay %s %s -> %s %s (%s, %d ms)",
            request.service,
            request.ids,
            result.outcome.value,
            result.code,
            result.transport.value,
            latency_ms,
        )
        return result

    def _post(self, request: SignedRequest) -> transport.Reply:
        # _input_charset travels in the URL too, so the gateway decodes the form correctly.
        return transport.post(
            self.session,
            self.config.gateway_url,
            params={"_input_charset": self.config.input_charset},
            data=request.form or request.params,
            connect_timeout=self.config.connect_timeout,
            read_timeout=self.config.read_timeout,
            deadline=self.config.connect_timeout + self.config.read_timeout,
            max_bytes=MAX_REPLY_BYTES,
            headers={"Accept": "text/xml, application/xml"},
        )
