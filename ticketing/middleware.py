"""Static files for a site served under ASGI as well as WSGI.

WhiteNoise's middleware is synchronous only. Anywhere in an ASGI site's chain it makes Django run
everything inside it, views included, on a thread per request, so an awaiting view (the partner
API's long poll) would hold a thread for its whole wait again. This middleware hands WhiteNoise
only what it serves (paths under STATIC_URL) and lets every other request through in the
handler's own mode: awaited under ASGI, called under WSGI.
"""

from __future__ import annotations

from urllib.parse import urlparse

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        # A missing static file falls through to the site (its 404 page), in WhiteNoise's thread.
        inner = async_to_sync(get_response) if self.is_async else get_response
        self.whitenoise = WhiteNoiseMiddleware(inner)
        path = urlparse(settings.STATIC_URL).path
        self.prefix = "/" + path.lstrip("/")

    def __call__(self, request):
        if self.is_async:
            return self._serve_async(request)
        if request.path_info.startswith(self.prefix):
            return self.whitenoise(request)
        return self.get_response(request)

    async def _serve_async(self, request):
        if request.path_info.startswith(self.prefix):
            return await sync_to_async(self.whitenoise)(request)
        return await self.get_response(request)
