"""Test settings: the same site, with tasks run inline and fast password hashing.

django-q2 reads Q_CLUSTER at import, so sync mode must be set here, not with override_settings
(docs/stack.md). Crash tests start a real `qcluster` subprocess with `ticketing.settings` instead,
on the same database file, which is why the SQLite test database is a file and not in memory.
"""

import os

from .settings import *  # noqa: F403
from .settings import DATABASES, IS_SQLITE, LOGGING, PAYMENTS, Q_CLUSTER, VAR_DIR

Q_CLUSTER = {**Q_CLUSTER, "sync": True}
# Inline (sync) tasks run one poller to completion inside the call that queued it; a single
# shard keeps that order simple. Sharded polling has its own test, and the crash tests run
# real clusters on the default settings.
# Alipay's refund blackout (00:00-01:30 Beijing) would make refund tests depend on the hour the
# suite runs at: off here, and switched on by the tests of the blackout with a frozen clock.
PAYMENTS = {**PAYMENTS, "POLLER_SHARDS": 1, "REFUND_BLACKOUT": False}
SANDBOX_REFUND_BLACKOUT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SANDBOX_ENABLED = True
# Tests run with DEBUG off, where production mails every ERROR log to ADMINS: tests that count the
# mails an alert sends would count the logs too. The production routing has its own test
# (tests/ticketing/test_check_capacity_command.py), which configures ticketing.settings.LOGGING.
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "handlers": ["console"]}}
# Each test starts from an empty cache of its own process (rate limits, look-up counters).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# SQLite: one test database file per test process, so that two suites running at once (two
# shells, xdist workers) never share one. Subprocesses read the name from connection.settings_dict.
_run = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
if IS_SQLITE:
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{_run}.sqlite3")}
else:
    # A fixed name: Django replaces a database an interrupted run left behind.
    DATABASES["default"]["TEST"] = {"NAME": "test_entrada"}
