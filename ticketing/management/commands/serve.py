"""Run the whole platform in the foreground: the web server and a django-q2 cluster together.

`make run` calls this. Ctrl-C (SIGINT) or SIGTERM stops both children cleanly; if either dies,
the other is stopped too, so a half-running platform never lingers. With DEBUG off, static files
are served from STATIC_ROOT by their hashed names (WhiteNoise's manifest), so they are collected
first: without the manifest every page would answer 500.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the site (gunicorn) and run a django-q2 cluster until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, host: str, port: int, workers: int, threads: int, **options):
        collect_static()
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        web_cmd = [
            sys.executable, "-m", "gunicorn", "ticketing.wsgi",
            "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
            "--access-logfile", "-", "--graceful-timeout", "5",
        ]  # fmt: skip
        # Both commands are fixed argument lists built from our own interpreter and settings.
        children = [
            subprocess.Popen([*manage, "qcluster"], env=env),  # noqa: S603
            subprocess.Popen(web_cmd, env=env, cwd=settings.BASE_DIR),  # noqa: S603
        ]
        self._print_urls(host, port)
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
        self.stdout.write("Entrada stopped.")

    def _print_urls(self, host: str, port: int) -> None:
        base = f"http://{host}:{port}"
        lines = [
            "",
            "Entrada is starting (web server + task cluster). Ctrl-C stops both.",
            f"  Shop:            {base}/",
            f"  Admin:           {base}/admin/   (demo login: admin / entrada-demo)",
            f"  Gate check-in:   {base}/gate/    (demo login: gate / entrada-demo)",
            f"  Box office:      {base}/box-office/   (demo logins: cashier / entrada-demo,"
            " supervisor / entrada-demo)",
            f"  API docs:        {base}/api/docs/",
        ]
        if settings.SANDBOX_ENABLED:
            lines.append(f"  Sandbox wallet:  {base}/sandbox/wallet/")
        self.stdout.write("\n".join(lines) + "\n")


def collect_static() -> None:
    """With DEBUG off, collect the static files (quietly) and their manifest into STATIC_ROOT."""
    if settings.DEBUG:
        return  # served from the app directories as they are
    call_command("collectstatic", interactive=False, verbosity=0)
