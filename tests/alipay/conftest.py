"""Protocol test fixtures: keys, configs, replies built as Alipay builds them, a local gateway.

Nothing here needs Django or a database: payments.alipay is pure Python.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import pytest

from payments.alipay.config import ClientConfig
from payments.alipay.signing import Signer, presign_string

PARTNER = "2088000000000001"
MD5_KEY = "entrada-test-md5-key"


@pytest.fixture(scope="session")
def make_config(demo_rsa_keys):
    def make(sign_type: str = "RSA2", gateway_url: str = "http://127.0.0.1:9/gateway.do", **kw):
        return ClientConfig(
            gateway_url=gateway_url,
            partner=PARTNER,
            sign_type=sign_type,
            md5_key=MD5_KEY if sign_type == "MD5" else "",
            private_key_pem=demo_rsa_keys["merchant_private"] if sign_type != "MD5" else "",
            alipay_public_key_pem=demo_rsa_keys["alipay_public"] if sign_type != "MD5" else "",
            **kw,
        )

    return make


@pytest.fixture(scope="session")
def alipay_signer(demo_rsa_keys):
    """Signs as Alipay does: the shared MD5 key, or Alipay's private key."""

    def make(sign_type: str) -> Signer:
        if sign_type == "MD5":
            return Signer("MD5", md5_key=MD5_KEY)
        return Signer(sign_type, private_key_pem=demo_rsa_keys["alipay_private"])

    return make


@pytest.fixture(scope="session")
def make_reply(alipay_signer):
    """An accepted reply in docs/alipay.md's shape, signed by "Alipay"; options break it on
    purpose."""

    def make(
        fields: Mapping[str, str],
        sign_type: str = "RSA2",
        *,
        encoding: str = "UTF-8",
        signature: str | None = None,
        declared_sign_type: str | None = None,
        tamper: Mapping[str, str] | None = None,
    ) -> bytes:
        sign = alipay_signer(sign_type).sign_text(presign_string(fields))
        shown = {**fields, **(tamper or {})}
        body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in shown.items())
        xml = (
            f'<?xml version="1.0" encoding="{encoding}"?>\n<alipay><is_success>T</is_success>'
            '<request><param name="_input_charset">UTF-8</param>'
            '<param name="service">alipay.acquire.overseas.query</param></request>'
            f"<response><alipay>{body}</alipay></response>"
            f"<sign>{signature if signature is not None else sign}</sign>"
            f"<sign_type>{declared_sign_type or sign_type}</sign_type></alipay>"
        )
        return xml.encode(encoding)

    return make


@dataclass
class Gateway:
    """A real HTTP server on 127.0.0.1 whose next answer each test sets."""

    url: str
    status: int = 200
    content_type: str = "text/xml; charset=UTF-8"
    body: bytes = b""
    delay: float = 0.0
    requests: list[dict] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state: Gateway

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8")))
            query = dict(parse_qsl(urlsplit(self.path).query))
            state.requests.append({"path": self.path, "query": query, "form": form})
            if state.delay:
                # Wait like a slow gateway; the fixture releases it at teardown.
                state.release.wait(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            # The client may have given up (timeout): then there is nobody to answer.
            with contextlib.suppress(OSError):
                self.wfile.write(state.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Gateway(url=f"http://127.0.0.1:{server.server_port}/gateway.do")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on a port nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/gateway.do"
