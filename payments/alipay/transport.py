"""One HTTP POST bounded in time and in size, for talking to a server we do not control.

requests' timeout bounds each socket operation, not the exchange: a server that sends a byte
every few seconds (in its headers or its body) keeps the caller reading forever, and one that
sends gigabytes fills its memory. `post` bounds both: one deadline for connecting, sending and
reading headers and body together, and a cap on the body, read as a stream.

The deadline is kept by a timer that shuts the connection's socket down when it passes, which
wakes a read blocked in the kernel at once; every connection the session opens is registered with
the exchange of the thread using it, so the timer knows which socket to shut. Redirects are never
followed: a redirect is a reply like any other, for the caller to judge.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection

# Bytes read at a time: small enough that the cap is overshot by little.
CHUNK = 16384


class DeadlineExceeded(requests.Timeout):
    """The whole exchange took longer than its deadline (a slow or trickling server)."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    # At most the cap's worth of the body.
    content: bytes
    # False when the body was longer than the cap: the rest was never read.
    complete: bool


_current = threading.local()


class _Watch:
    """The deadline of one exchange: at expiry, shut the socket of the connection in use."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self._finished = False
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                # Expired while no socket was open yet (name resolution is not bounded by
                # the connect timeout): end this connection before it reads.
                self._shut()

    def finish(self) -> None:
        with self._lock:
            self._finished = True
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        sock = getattr(self._connection, "sock", None)
        if sock is not None:
            # The plain socket's shutdown, also for TLS: the TLS state is not touched from this
            # thread, and the reader wakes with an end of stream.
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watched:
    """A urllib3 connection that reports itself to the exchange of the thread using it."""

    def request(self, *args, **kwargs):
        _attach(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args, **kwargs):
        _attach(self)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


def _attach(connection) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(connection)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class BoundedAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP proxy) can be watched."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # A SOCKS manager has pools of its own; the deadline is then checked between reads.
        if type(manager) is ProxyManager:
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def bounded_session() -> requests.Session:
    session = requests.Session()
    mount(session)
    return session


def mount(session: requests.Session) -> requests.Session:
    adapter = BoundedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post(
    session: requests.Session,
    url: str,
    *,
    data: Mapping[str, str],
    connect_timeout: float,
    read_timeout: float,
    deadline: float,
    max_bytes: int,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """POST `data` and read at most `max_bytes` of the reply, all within `deadline` seconds.

    Raises DeadlineExceeded past the deadline and requests' exceptions for the rest (refused,
    reset, per-read timeout); a body over the cap is not an error here: `complete` says so.
    """
    ends_at = time.monotonic() + deadline
    watch = _Watch(deadline)
    _current.watch = watch
    watch.start()
    response = None
    clean = False
    try:
        response = session.post(
            url,
            params=params,
            data=data,
            headers={"Accept-Encoding": "identity", **(headers or {})},
            timeout=(min(connect_timeout, deadline), min(read_timeout, deadline)),
            allow_redirects=False,
            stream=True,
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            content, complete = b"", False
        else:
            content, complete = _read(response, max_bytes, ends_at)
        if watch.expired or time.monotonic() > ends_at:
            # A shut socket can look like a clean end of a body without Content-Length.
            raise DeadlineExceeded(f"no complete reply within {deadline:g} s")
        clean = complete
        return Reply(
            status=response.status_code,
            headers=dict(response.headers),
            content=content,
            complete=complete,
        )
    except requests.RequestException as exc:
        if watch.expired and not isinstance(exc, DeadlineExceeded):
            raise DeadlineExceeded(f"no complete reply within {deadline:g} s") from exc
        raise
    finally:
        watch.finish()
        _current.watch = None
        if response is not None and not clean:
            # Never hand a half-read or shut connection back to the pool.
            response.close()


def _read(response: requests.Response, max_bytes: int, ends_at: float) -> tuple[bytes, bool]:
    body = bytearray()
    for chunk in response.iter_content(CHUNK):
        if time.monotonic() > ends_at:
            raise DeadlineExceeded("the reply is still arriving past the deadline")
        body += chunk
        if len(body) > max_bytes:
            return bytes(body[:max_bytes]), False
    return bytes(body), True
