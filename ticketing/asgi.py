"""ASGI entry point, what `make run` and production serve: gunicorn with uvicorn workers
(`gunicorn ticketing.asgi -k uvicorn_worker.UvicornWorker`). The partner API's long polls are
awaited there without a thread each (payments.waiters); every other view runs as before, on a
thread of its own per request."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
# Each request's synchronous code runs on a new thread here, so a connection kept open past its
# request would never be used again, only pile up: close them at the end of each request, as
# Django advises for ASGI. Task workers (qcluster) keep their persistent connections.
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0
application = get_asgi_application()
