"""The transport's kept-alive connections and proxies, against real HTTP/1.1 servers on 127.0.0.1.

A poller thread sends a query every few seconds on one kept-alive connection; the server may
close an idle one at any time (gunicorn after 2 s), and that must never cost a failed exchange.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from payments.alipay import transport
from payments.alipay.client import AlipayClient
from payments.alipay.exceptions import ConfigError

BODY = b"success"


@dataclass
class Server:
    url: str
    # The client's address of each connection the server accepted, and each request's target.
    peers: list = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    proxy_authorization: list[str] = field(default_factory=list)
    close_after_reply: bool = False


@pytest.fixture
def server() -> Iterator[Server]:
    state: Server

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections alive unless told otherwise

        def setup(self):
            super().setup()
            state.peers.append(self.client_address)

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.targets.append(self.path)
            state.proxy_authorization.append(self.headers.get("Proxy-Authorization", ""))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
            self.wfile.flush()
            if state.close_after_reply:
                # An idle timeout, without announcing it in the reply (as servers do).
                self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state = Server(url=f"http://127.0.0.1:{httpd.server_port}/gateway.do")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def post(session: transport.Session, url: str) -> transport.Reply:
    return transport.post(
        session,
        url,
        data={"service": "alipay.acquire.overseas.query", "partner_trans_id": "E-1"},
        params={"_input_charset": "UTF-8"},
        connect_timeout=2,
        read_timeout=2,
        deadline=4,
        max_bytes=1000,
    )


def test_one_connection_carries_many_exchanges(server):
    with transport.Session() as session:
        replies = [post(session, server.url) for _ in range(5)]
    assert [r.content for r in replies] == [BODY] * 5 and all(r.complete for r in replies)
    assert len(server.peers) == 1
    assert server.targets == ["/gateway.do?_input_charset=UTF-8"] * 5


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed(server):
    server.close_after_reply = True
    with transport.Session() as session:
        for _ in range(4):
            reply = post(session, server.url)
            assert reply.status == 200 and reply.content == BODY
            # Wait until the server has closed it, so that the next post finds it closed.
            idle = session._idle[session.route(server.url).key][0]
            assert idle.sock.recv(1) == b""
    assert len(server.peers) == 4


def test_threads_share_a_session_without_sharing_a_connection(server):
    errors: list[BaseException] = []
    with transport.Session() as session:

        def work():
            try:
                for _ in range(10):
                    assert post(session, server.url).content == BODY
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert len(server.targets) == 40 and len(server.peers) <= 4


def test_a_plain_http_proxy_is_sent_the_whole_url_with_its_credentials(server):
    # The test server stands in for the proxy: it answers whatever it is asked to forward.
    proxy = server.url.replace("http://", "http://user:pass%21@").rsplit("/", 1)[0]
    with transport.Session(proxies={"http": proxy}) as session:
        reply = post(session, "http://gateway.example.invalid/gateway.do")
    assert reply.content == BODY
    assert server.targets == ["http://gateway.example.invalid/gateway.do?_input_charset=UTF-8"]
    assert server.proxy_authorization == ["Basic dXNlcjpwYXNzIQ=="]  # user:pass!


def test_a_proxy_the_transport_cannot_speak_to_is_a_configuration_error(make_config, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(ConfigError, match="not an http:// proxy"):
        AlipayClient(make_config("RSA2", "https://gateway.example.invalid/gateway.do"))


def test_https_is_verified_against_the_ca_bundle_given(tmp_path):
    """The gateway is HTTPS in production: the certificate must check out against the bundle
    (REQUESTS_CA_BUNDLE's, or certifi's), and a certificate nobody vouches for is refused."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{httpd.server_port}/gateway.do"
    try:
        with transport.Session(verify=str(cert_file)) as session:
            assert [post(session, url).content for _ in range(2)] == [BODY, BODY]
        with transport.Session() as session, pytest.raises(requests.ConnectionError):
            post(session, url)  # certifi's bundle does not vouch for it
    finally:
        httpd.shutdown()
        httpd.server_close()
