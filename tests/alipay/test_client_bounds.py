"""A gateway reply is bounded in time and size, against a real misbehaving server on 127.0.0.1.

Per-read timeouts alone let a server that trickles bytes hold the client forever, and an
unbounded read lets one fill its memory: both must end as a transport failure (outcome unknown).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments.alipay.client import AlipayClient
from payments.alipay.replies import MAX_REPLY_BYTES
from payments.alipay.results import Outcome, Transport

# The trickling server gives up by itself after this long, so a client without a deadline
# fails the test instead of hanging it.
TRICKLE_FOR = 8.0
HUGE = 48 * 1024 * 1024


@dataclass
class Misbehaving:
    url: str
    answer: Callable[[BaseHTTPRequestHandler, Misbehaving], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    hung_up: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def server() -> Iterator[Misbehaving]:
    state: Misbehaving

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                state.answer(self, state)
            except OSError:
                state.hung_up.set()  # the client closed the connection: what a bound does

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state = Misbehaving(url=f"http://127.0.0.1:{httpd.server_port}/gateway.do")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.stop.set()
    httpd.shutdown()
    httpd.server_close()


def trickle(handler, state: Misbehaving, data: bytes) -> None:
    """One byte every 50 ms: each read gets something well within any read timeout."""
    for index in range(len(data)):
        if state.stop.wait(0.05) or index * 0.05 > TRICKLE_FOR:
            return
        handler.wfile.write(data[index : index + 1])
        state.sent += 1


def trickled_body(handler, state):
    body = b"<alipay><is_success>F</is_success><error>SYSTEM_ERROR</error></alipay>" * 20
    handler.wfile.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    trickle(handler, state, body)


def trickled_headers(handler, state):
    trickle(handler, state, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"z" * 2000 + b"\r\n\r\n")


def endless_body(handler, state):
    """No Content-Length, so only the cap can stop the client: 48 MiB of XML-looking bytes."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n")
    chunk = b"<alipay>" + b" " * 65528
    while state.sent < HUGE and not state.stop.is_set():
        handler.wfile.write(chunk)
        state.sent += len(chunk)


def declared_huge_body(handler, state):
    handler.wfile.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
        + f"Content-Length: {HUGE}\r\n\r\n".encode()
    )
    chunk = b" " * 65536
    while state.sent < HUGE and not state.stop.is_set():
        handler.wfile.write(chunk)
        state.sent += len(chunk)


@pytest.fixture
def quick_client(make_config, server):
    # connect 0.5 s + read 0.5 s: the whole exchange must end within 1 s.
    return AlipayClient(make_config("RSA2", server.url, connect_timeout=0.5, read_timeout=0.5))


@pytest.mark.parametrize("answer", [trickled_body, trickled_headers])
def test_a_trickling_server_cannot_hold_the_client_past_its_deadline(server, quick_client, answer):
    server.answer = answer
    result = quick_client.query(partner_trans_id="E-1")
    assert result.transport is Transport.TIMEOUT and result.outcome is Outcome.RETRYABLE
    assert result.code == "timeout" and result.fields == {}
    # The deadline is 1 s; the server would have gone on for 8.
    assert result.latency_ms < 3000
    assert server.sent < 60


@pytest.mark.parametrize("answer", [endless_body, declared_huge_body])
def test_a_huge_reply_is_not_read_past_the_cap(server, quick_client, make_config, answer):
    server.answer = answer
    # A generous deadline, so that only the cap can stop the read.
    client = AlipayClient(make_config("RSA2", server.url, connect_timeout=5, read_timeout=20))
    result = client.query(partner_trans_id="E-1")
    assert result.transport is Transport.MALFORMED and result.outcome is Outcome.RETRYABLE
    assert result.fields == {} and len(result.raw) <= 65536
    # The client hung up long before the server got its 48 MiB out.
    assert server.hung_up.wait(10)
    assert server.sent < HUGE // 2
    assert MAX_REPLY_BYTES <= 1024 * 1024


def test_a_bounded_client_still_reads_a_normal_reply(server, quick_client, make_reply):
    body = make_reply({"result_code": "FAIL", "error": "TRADE_NOT_EXIST"}, "RSA2")

    def normal(handler, state):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(body)

    server.answer = normal
    for _ in range(3):  # the kept-alive connection is reused and stays usable
        result = quick_client.query(partner_trans_id="E-1")
        assert result.transport is Transport.OK and result.code == "TRADE_NOT_EXIST"
