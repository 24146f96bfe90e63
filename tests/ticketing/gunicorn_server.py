"""A real gunicorn (2 worker processes x 8 threads) serving the site on the test database.

Django's live_server is one process with threads: it cannot show what two processes writing to
one SQLite file do. This is the production shape: separate processes, separate connections, the
same database file (or PostgreSQL database) the test created.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database the running test sees, as a DATABASE_URL for another process."""
    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(cfg['NAME']).resolve()}"
    auth = cfg["USER"] or ""
    if cfg.get("PASSWORD"):
        auth += f":{cfg['PASSWORD']}"
    host = cfg["HOST"] or "127.0.0.1"
    port = cfg["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{cfg['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(workers: int = 2, threads: int = 8):
    """Yield the base URL of a gunicorn serving ticketing.wsgi on the test database."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "DATABASE_URL": database_url(),
        "DEBUG": "1",
        "ALLOWED_HOSTS": "127.0.0.1",
        # The race is many buyers from one address: per-address rates would answer 429.
        "TICKETING_API_ORDER_RATE": "",
        "TICKETING_API_READ_RATE": "",
        "TICKETING_API_LOOKUP_RATE": "",
        "TICKETING_HOLDS_PER_ADDRESS": "0",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "gunicorn", "ticketing.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", str(threads),
        "--backlog", "512", "--timeout", "60", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        # Startup polling: the server process is outside our clock's reach.
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            try:
                requests.get(f"{base}/api/v1/attractions/", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
