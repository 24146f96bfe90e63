"""The site's ASGI handler: a request's synchronous work in one trip to a thread, its waiting none.

Django's own ASGIHandler runs the middleware chain asynchronously. Django's middleware are
synchronous, so each of their hooks (about twenty per request here) was a trip from the event loop
to the request's thread and back, and under load those trips cost more than the views: profiled
(py-spy, bench/longpoll.py) with 200 registers re-sending their long polls together, most of the
worker's time went to hopping between threads, and the shop's page waited behind the bursts.

This handler runs the middleware chain and the view synchronously, as a WSGI server would, in one
trip to the request's thread (Django's thread-sensitive context still gives every request a thread
of its own, so nothing queues behind a slow request). What must not hold that thread, a long
poll's wait, is left by the view to the handler: a response may carry `deferred`, an async
callable taking the response, which the handler awaits on the event loop after the thread's work
is done and before anything is sent. The view sees that it may defer by `request.deferrable`
(true only here; under WSGI or Django's own handlers it waits in its thread instead). The
request's database connections are closed before a deferred wait, so a waiting register holds no
connection either. An asynchronous view still works: the chain runs it in the request's thread.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import FileResponse, HttpRequest, HttpResponseBase

logger = logging.getLogger(__name__)


class SiteASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        # ASGIHandler.__init__ would build the asynchronous chain; the synchronous one is built
        # instead, and everything else (reading the body, sending, signals, disconnects) is
        # Django's.
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

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
