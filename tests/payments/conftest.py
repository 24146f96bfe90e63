"""Fixtures of the payment lifecycle tests: the live sandbox gateway and a frozen clock, and
real `qcluster` subprocesses for the crash tests.

With django-q2 in sync mode and the clock frozen, the poller runs inline when a payment goes
pending and clock.sleep advances the clock, so a 60 s polling chain runs in well under a second
while recording its real 3 s steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from payments.tasks import ensure_schedules


@pytest.fixture
def sandbox_clock(alipay_gateway, clock, mailoutbox):
    """The sandbox over real HTTP and the clock frozen; returns the clock, which tests move."""
    return clock


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def cluster(alipay_gateway, live_server, tmp_path, no_worker):
    """Start / kill real qcluster processes; every one still running is stopped at the end."""
    conf = alipay_gateway
    env = {
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "DATABASE_URL": _database_url(),
        "ALIPAY_GATEWAY_URL": conf["GATEWAY_URL"],
        "ALIPAY_PARTNER_ID": conf["PARTNER_ID"],
        "ALIPAY_SIGN_TYPE": conf["SIGN_TYPE"],
        "ALIPAY_MD5_KEY": conf["MD5_KEY"],
        "ALIPAY_PRIVATE_KEY": conf["PRIVATE_KEY"],
        "ALIPAY_PUBLIC_KEY": conf["ALIPAY_PUBLIC_KEY"],
        "ENTRADA_PUBLIC_URL": live_server.url,
        "Q_WORKERS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    started: list[subprocess.Popen] = []
    # The migration creates the sweeper schedule; transactional tests flush it between tests.
    ensure_schedules()

    class Cluster:
        def start(self) -> subprocess.Popen:
            log = open(tmp_path / f"qcluster-{len(started)}.log", "wb")  # noqa: SIM115
            process = subprocess.Popen(
                [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
                env={**os.environ, **env},  # read now: a test may have set ENTRADA_CLOCK_FILE
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill the workers with it
            )
            started.append(process)
            return process

        def kill(self, process: subprocess.Popen) -> None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    cluster = Cluster()
    yield cluster
    # Killed, not stopped: the test is over, and a graceful stop waited for the running poller's
    # window (15 s per test, before the SIGKILL anyway). Its leases and ORM queue rows go with the
    # flushed database; a graceful stop would leave Redis's queued tasks queued all the same.
    for process in started:
        if process.poll() is None:
            cluster.kill(process)
