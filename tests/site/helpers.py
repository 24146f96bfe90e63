"""A URLconf and a middleware that record which thread runs each part of a request, for the tests
of the site's ASGI handler (ticketing/asgi_handler.py)."""

from __future__ import annotations

import threading

from django.db import connection, connections
from django.http import HttpResponse
from django.urls import path

# (what ran, thread id, that thread's own database connection wrapper)
seen: list[tuple[str, int, object]] = []
# `?block=1` holds the view until this is set (a request whose client hangs up meanwhile).
blocked = threading.Event()
release = threading.Event()


def record(what: str) -> None:
    seen.append((what, threading.get_ident(), connections["default"]))


class RecordingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        record("middleware, before")
        response = self.get_response(request)
        record("middleware, after")
        return response


def view(request):
    with connection.cursor() as cursor:  # opens the thread's connection, as a real view would
        cursor.execute("SELECT 1")
    record("view")
    if request.GET.get("block"):
        blocked.set()
        release.wait(30)
    response = HttpResponse("first answer")
    if request.GET.get("defer") and getattr(request, "deferrable", False):

        async def finish(response):
            record("deferred")
            view_connection = next(wrapper for what, _t, wrapper in seen if what == "view")
            # Whether the view's thread still holds its connection while the answer waits.
            seen.append(("view's connection open", 0, view_connection.connection is not None))
            response.content = b"the answer after waiting"

        response.deferred = finish
    return response


urlpatterns = [path("", view)]
