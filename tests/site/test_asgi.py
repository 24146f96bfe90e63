"""The site under ASGI (what `make run` serves): a long poll must be awaited, never parked on a
thread by a synchronous piece of the request's path."""

from __future__ import annotations

import logging

from asgiref.sync import iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler
from django.urls import resolve


def test_no_middleware_turns_asgi_requests_synchronous(caplog, settings):
    # Django adapts a synchronous-only middleware by running it, and everything inside it (the
    # views too), on a thread per request; it logs each adaptation when DEBUG is on.
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG, logger="django.request")
    ASGIHandler()
    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    assert adapted == []


def test_the_payment_read_with_wait_is_an_async_view():
    match = resolve("/api/v1/payments/00000000-0000-0000-0000-000000000000/")
    assert iscoroutinefunction(match.func)
