"""The site's ASGI handler: a request's synchronous work in one trip to a thread, its waiting none.

Django's own ASGIHandler runs the middleware chain asynchronously. Django's middleware are
synchronous, so each of their hooks (about twenty per request here) was a trip from the event loop
to the request's thread and back, and under load those trips cost more than the views: profiled
(py-spy, bench/longpoll.py) with 200 registers re-sending their long polls together, most of the
worker's time went to hopping between threads, and the shop's page waited behind the bursts.

This handler runs the middleware chain and the view synchronously, as a WSGI server would, in one
trip to the request's thread. Every request still has a thread of its own (Django's thread-
sensitive context), so nothing queues behind a slow one; but the thread is taken from those the
last requests left idle, as in a WSGI server's pool, rather than started for each request and
ended by another (a third less CPU per page).

A long poll's wait must not keep that thread busy, so the view leaves it to the handler: a
response may carry `deferred`, an async callable taking the response, which the handler awaits on
the event loop after the thread's work is done and before anything is sent (the idle thread stays
the request's until its end, as in Django's own handler; no pool limits how many there are). The
view sees that it may defer by `request.deferrable` (true only here; under WSGI or Django's own
handlers it waits in its thread instead). The request's database connections are closed before a
deferred wait, so a waiting register holds none. An asynchronous view still works: the chain runs
it in the request's thread.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import FileResponse, HttpRequest, HttpResponseBase

logger = logging.getLogger(__name__)


# Request threads kept idle for the next requests, per process: enough for the requests one
# worker serves at once in the common case; past it a thread is made, and ended after its request.
KEEP_THREADS = 16


class RequestThread(ThreadPoolExecutor):
    """The thread of one request at a time: Django's thread-sensitive context runs all of a
    request's synchronous work here."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self._lock = threading.Lock()
        self._pending = 0

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future) -> None:
        with self._lock:
            self._pending -= 1

    @property
    def idle(self) -> bool:
        """False while work is queued or running: a request cancelled by its client's hang-up
        may leave its synchronous part still running here."""
        with self._lock:
            return not self._pending


class SiteASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        # ASGIHandler.__init__ would build the asynchronous chain; the synchronous one is built
        # instead, and everything else (reading the body, sending, signals, disconnects) is
        # Django's.
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._idle_threads: list[RequestThread] = []

    async def __call__(self, scope, receive, send) -> None:
        # Django's __call__, with a request thread taken from the idle ones rather than made for
        # each request (and a second one to end it): what a WSGI server's thread pool gives.
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = self._idle_threads.pop() if self._idle_threads else RequestThread()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            if thread.idle and len(self._idle_threads) < KEEP_THREADS:
                self._idle_threads.append(thread)
            else:
                # Where CONN_MAX_AGE keeps connections, the thread's would outlive it: close them
                # there, after whatever it is still running.
                thread.submit(connections.close_all)
                thread.shutdown(wait=False)

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        request.deferrable = True
        response = await sync_to_async(self._respond)(request)
        deferred = getattr(response, "deferred", None)
        if deferred is not None:
            try:
                await deferred(response)
            except Exception:
                # What the view answered first is a true answer as of the request: send it.
                logger.exception("a deferred response failed; sending its first answer")
            if not response.streaming and response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        response._handler_class = self.__class__
        # Larger chunks for file responses: the ASGI server does the low-level chunking.
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response

    def _respond(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if getattr(response, "deferred", None) is not None:
            # The request's thread waits idle until its end: its connections would too.
            connections.close_all()
        return response
