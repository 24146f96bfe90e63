"""The site under ASGI (what `make run` serves, ticketing/asgi_handler.py): the middleware chain
and the view run in one trip to the request's thread, and a deferred answer (a long poll's wait)
is awaited on the event loop, with the request's database connection already given back."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings as site_settings
from django.db import connections

from ticketing.asgi_handler import SiteASGIHandler

from . import helpers

MIDDLEWARE = [*site_settings.MIDDLEWARE, "tests.site.helpers.RecordingMiddleware"]


def scope(query: bytes = b"") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": query,
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }


def get(handler: SiteASGIHandler, query: bytes = b"") -> tuple[dict, dict, list]:
    """Send one GET / through the handler: its start and body messages, and what ran where:
    (what, thread id, on the event loop's thread, that thread's connection wrapper)."""

    async def exchange():
        app = ApplicationCommunicator(handler, scope(query))
        await app.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await app.receive_output(10)
        body = await app.receive_output(10)
        await app.wait(10)
        return start, body, threading.get_ident()

    helpers.seen.clear()
    start, body, loop_thread = asyncio.run(exchange())
    ran = [(what, ident, ident == loop_thread, wrapper) for what, ident, wrapper in helpers.seen]
    return start, body, ran


@pytest.fixture
def handler(settings, transactional_db):
    settings.ROOT_URLCONF = "tests.site.helpers"
    settings.MIDDLEWARE = MIDDLEWARE
    settings.ALLOWED_HOSTS = ["localhost"]
    handler = SiteASGIHandler()
    yield handler
    # The threads it keeps idle keep their connections where CONN_MAX_AGE allows (PostgreSQL
    # here; ticketing/asgi.py sets 0): end them, or the test database cannot be dropped.
    for thread in handler._idle_threads:
        thread.submit(connections.close_all).result()
        thread.shutdown()


def test_middleware_and_view_run_together_in_one_thread_off_the_event_loop(handler):
    start, body, ran = get(handler)
    assert start["status"] == 200 and body["body"] == b"first answer"
    assert [what for what, *_rest in ran] == ["middleware, before", "view", "middleware, after"]
    assert len({thread for _what, thread, _loop, _db in ran}) == 1
    assert not any(on_loop for *_rest, on_loop, _db in ran)


def test_a_deferred_answer_is_awaited_on_the_loop_after_the_connection_is_closed(handler):
    start, body, ran = get(handler, b"defer=1")
    assert body["body"] == b"the answer after waiting"
    headers = dict(start["headers"])
    assert headers[b"Content-Length"] == str(len(b"the answer after waiting")).encode()
    assert [what for what, *_rest in ran] == [
        "middleware, before",
        "view",
        "middleware, after",
        "deferred",
        "view's connection open",
    ]
    _what, _thread, on_loop, _db = ran[3]
    assert on_loop, "the deferred part ran on the event loop, holding no thread"
    _what, _thread, _loop, still_open = ran[4]
    assert still_open is False, "the request's connection was closed before the wait"


def test_the_next_request_runs_on_the_thread_the_last_one_left_idle(handler):
    _start, _body, first = get(handler)
    _start, _body, second = get(handler)
    assert first[1][1] == second[1][1]  # the view's thread


def test_a_thread_still_busy_after_its_client_hung_up_is_not_given_to_another_request(handler):
    helpers.blocked.clear()
    helpers.release.clear()

    async def hang_up():
        app = ApplicationCommunicator(handler, scope(b"block=1"))
        await app.send_input({"type": "http.request", "body": b"", "more_body": False})
        while not helpers.blocked.is_set():  # the view is running in the request's thread
            await asyncio.sleep(0.01)
        await app.send_input({"type": "http.disconnect"})
        await app.wait(10)

    helpers.seen.clear()
    asyncio.run(hang_up())
    busy_thread = helpers.seen[-1][1]
    try:
        _start, body, ran = get(handler)
        assert body["body"] == b"first answer"
        assert ran[1][1] != busy_thread, "the next request did not queue behind the busy thread"
    finally:
        helpers.release.set()


def test_no_middleware_is_adapted_to_another_mode(caplog, settings):
    # Django adapts a middleware that cannot run synchronously by running it, and everything
    # inside it, through the event loop for each request; it logs each adaptation with DEBUG on.
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG, logger="django.request")
    SiteASGIHandler()
    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    assert adapted == []
