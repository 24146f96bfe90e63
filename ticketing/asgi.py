"""ASGI entry point, what `make run` and production serve: gunicorn with uvicorn workers
(`gunicorn ticketing.asgi -k uvicorn_worker.UvicornWorker`). The site's handler
(ticketing/asgi_handler.py) runs each request's middleware and view in one trip to a thread of
its own, and awaits the partner API's long polls on the event loop without a thread
(payments.waiters)."""

import os

import django
from django.conf import settings

from ticketing.asgi_handler import SiteASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
# Each request's synchronous code runs on a new thread here, so a connection kept open past its
# request would never be used again, only pile up: close them at the end of each request, as
# Django advises for ASGI. Task workers (qcluster) keep their persistent connections.
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0
# What django.core.asgi.get_asgi_application does, with the site's handler.
django.setup(set_prefix=False)

application = SiteASGIHandler()
