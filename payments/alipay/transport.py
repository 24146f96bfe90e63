"""One HTTP POST bounded in time and in size, for talking to a server we do not control.

A socket timeout bounds each read, not the exchange: a server that sends a byte every few
seconds (in its headers or its body) keeps the caller reading forever, and one that sends
gigabytes fills its memory. `post` bounds both: one deadline for connecting, sending and reading
headers and body together, and a cap on the body, read as a stream. Every read of the reply is
given only the time left to the deadline as its timeout, so the deadline holds with no timer.
Redirects are never followed: a redirect is a reply like any other, for the caller to judge.

Built on http.client, not requests: the poller sends a query every few milliseconds, and
requests' per-request machinery (preparing and merging settings, cookies, hooks, adapters) cost
more CPU than the whole rest of a query (bench/polling.py --pinned). A Session keeps connections
alive between exchanges (one exchange per connection at a time, any number of threads), checks
that an idle one was not closed by the server before reusing it, and reaches the host directly
or through the http:// proxy given for its scheme (the environment's, read once by the caller).
The errors raised are requests' exception classes, which callers already tell apart: a
connection refused or reset, a connect timeout, a read timeout, the deadline.
"""

from __future__ import annotations

import base64
import http.client
import io
import select
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit

import certifi
import requests
from requests.utils import select_proxy

# Bytes read at a time: small enough that the cap is overshot by little.
CHUNK = 16384
# Idle connections kept per host: more than the poller's threads ever use at once.
MAX_IDLE = 64
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


class _DeadlineIO(io.RawIOBase):
    """The reply's bytes from the socket, each read given only the time left to the deadline."""

    def __init__(self, sock, ends_at: float, read_timeout: float) -> None:
        super().__init__()
        self._sock = sock
        # The socket's own file object: it keeps the socket open while the reply is read, even
        # when http.client closes the connection first (a reply that ends the connection).
        self._raw = sock.makefile("rb", buffering=0)
        self._ends_at = ends_at
        self._read_timeout = read_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self._ends_at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the reply is still arriving past the deadline")
        self._sock.settimeout(min(left, self._read_timeout))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _BoundedSocket:
    """What http.client's reply reads from: the connection's socket behind the deadline."""

    def __init__(self, sock, ends_at: float, read_timeout: float) -> None:
        self._io = _DeadlineIO(sock, ends_at, read_timeout)

    def makefile(self, mode: str, *args, **kwargs):
        return io.BufferedReader(self._io)


def _bounded_reply(ends_at: float, read_timeout: float):
    def response_class(sock, *args, **kwargs) -> http.client.HTTPResponse:
        return http.client.HTTPResponse(_BoundedSocket(sock, ends_at, read_timeout), **kwargs)

    return response_class


@dataclass(frozen=True)
class _Route:
    """How to reach one URL: the host to connect to, and the request target to send it."""

    key: tuple
    scheme: str
    host: str
    port: int
    target: str
    proxy_host: str = ""
    proxy_port: int = 0
    proxy_headers: tuple[tuple[str, str], ...] = ()


class Session:
    """Kept-alive connections, shared safely by threads; close() closes the idle ones.

    `proxies` maps a scheme (or scheme://host) to an http:// proxy URL, as requests' do;
    `verify` is True (certifi's CA bundle, as requests uses), False, or a CA bundle's path.
    """

    def __init__(self, *, proxies: Mapping[str, str] | None = None, verify: bool | str = True):
        self.proxies = dict(proxies or {})
        self.verify = verify
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._routes: dict[str, _Route] = {}

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def route(self, url: str) -> _Route:
        """How to reach `url` (remembered: a client posts to one gateway URL all its life)."""
        route = self._routes.get(url)
        if route is None:
            route = self._route(url)
            if len(self._routes) < MAX_IDLE:
                self._routes[url] = route
        return route

    def _route(self, url: str) -> _Route:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise requests.exceptions.InvalidURL(f"not an http(s) URL: {url}")
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS[scheme]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        proxy = select_proxy(url, self.proxies)
        if not proxy:
            return _Route((scheme, host, port), scheme, host, port, target)
        via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if via.scheme != "http" or not via.hostname:
            # http.client speaks to a proxy only in plain HTTP (CONNECT for an https target).
            raise requests.exceptions.InvalidProxyURL(f"not an http:// proxy: {proxy}")
        headers: tuple[tuple[str, str], ...] = ()
        if via.username:
            secret = f"{unquote(via.username)}:{unquote(via.password or '')}".encode()
            headers = (("Proxy-Authorization", "Basic " + base64.b64encode(secret).decode()),)
        if scheme == "http":
            target = url  # a plain-HTTP proxy is sent the whole URL
        return _Route(
            (scheme, host, port, via.hostname, via.port or 80),
            scheme,
            host,
            port,
            target,
            via.hostname,
            via.port or 80,
            headers,
        )

    def take(self, route: _Route, connect_timeout: float) -> http.client.HTTPConnection:
        """An idle connection the server has not closed meanwhile, or a new (unopened) one."""
        while True:
            with self._lock:
                idle = self._idle.get(route.key)
                connection = idle.pop() if idle else None
            if connection is None:
                return self._new(route, connect_timeout)
            if _still_open(connection):
                return connection
            connection.close()

    def give_back(self, route: _Route, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(route.key, [])
            if len(idle) < MAX_IDLE:
                idle.append(connection)
                return
        connection.close()

    def _new(self, route: _Route, connect_timeout: float) -> http.client.HTTPConnection:
        host, port = route.host, route.port
        if route.proxy_host:
            host, port = route.proxy_host, route.proxy_port
        if route.scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._ssl_context()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        if route.proxy_host and route.scheme == "https":
            connection.set_tunnel(route.host, route.port, headers=dict(route.proxy_headers))
        return connection

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            if self.verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                bundle = self.verify if isinstance(self.verify, str) else certifi.where()
                context = ssl.create_default_context(cafile=bundle)
            self._context = context
        return self._context


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """Has an idle kept-alive connection neither been closed by the server nor sent anything?
    (Readable while idle means the end of the stream, or bytes nobody asked for.)"""
    sock = connection.sock
    if sock is None:
        return True  # never opened: it opens on use
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def bounded_session() -> Session:
    return Session()


def post(
    session: Session,
    url: str,
    *,
    data: Mapping[str, str] | bytes,
    connect_timeout: float,
    read_timeout: float,
    deadline: float,
    max_bytes: int,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """POST `data` (a form, or one already encoded) and read at most `max_bytes` of the reply,
    all within `deadline` seconds.

    Raises DeadlineExceeded past the deadline, requests.ConnectTimeout when no connection was
    made (nothing sent), requests.ReadTimeout and requests.ConnectionError for the rest; a body
    over the cap is not an error here: `complete` says so.
    """
    ends_at = time.monotonic() + deadline
    body = data if isinstance(data, bytes) else urlencode(data).encode("ascii")
    if params:
        url += ("&" if "?" in url else "?") + urlencode(params)
    route = session.route(url)
    connection = session.take(route, min(connect_timeout, deadline))
    reusable = False
    try:
        if connection.sock is None:
            try:
                connection.connect()
            except TimeoutError as exc:
                raise requests.ConnectTimeout(f"no connection to {route.host}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                # Refused, unreachable, a TLS failure, a proxy refusing the tunnel: never sent.
                raise requests.ConnectionError(f"no connection to {route.host}: {exc}") from exc
        left = ends_at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"no connection within {deadline:g} s")
        connection.sock.settimeout(min(left, read_timeout))
        connection.response_class = _bounded_reply(ends_at, read_timeout)
        sent = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept-Encoding": "identity",
            "User-Agent": "Entrada",
            **dict(route.proxy_headers if route.scheme == "http" else ()),
            **(headers or {}),
        }
        try:
            connection.request("POST", route.target, body=body, headers=sent)
            response = connection.getresponse()
            declared = response.getheader("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                content, complete = b"", False
            else:
                content, complete = _read(response, max_bytes)
        except DeadlineExceeded:
            raise
        except TimeoutError as exc:
            if time.monotonic() >= ends_at:
                raise DeadlineExceeded(f"no complete reply within {deadline:g} s") from exc
            raise requests.ReadTimeout(f"no reply from {route.host} in time") from exc
        except (OSError, http.client.HTTPException) as exc:
            # Reset, closed mid-reply, a broken status line: the server may have acted.
            raise requests.ConnectionError(f"exchange with {route.host} failed: {exc!r}") from exc
        reusable = complete and not response.will_close
        return Reply(
            status=response.status,
            headers=dict(response.getheaders()),
            content=content,
            complete=complete,
        )
    finally:
        if reusable:
            session.give_back(route, connection)
        else:
            # Never reuse a half-read, timed-out or closing connection.
            connection.close()


def _read(response: http.client.HTTPResponse, max_bytes: int) -> tuple[bytes, bool]:
    body = bytearray()
    while chunk := response.read(CHUNK):
        body += chunk
        if len(body) > max_bytes:
            return bytes(body[:max_bytes]), False
    return bytes(body), True
