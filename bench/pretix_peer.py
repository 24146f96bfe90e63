"""pretix 2026.8.0, installed and run beside Entrada so a benchmark measures both in the same run.

A figure for pretix remembered from another day says as much about how busy the machine was that
day as about pretix, so bench/booking.py and bench/etickets.py (`--peer pretix`) measure it anew,
right after Entrada, on the same cores:

- On first use it makes its own virtualenv under var/peers/pretix-2026.8.0/ with the system
  python3.11 and installs `pretix==2026.8.0` and gunicorn from the package index (a few minutes;
  the time is kept in `installed.json` and printed). Nothing of pretix enters Entrada's .venv.
- Each database gets its own configuration (pretix.cfg) and data directory under that folder.
  SQLite: a database migrated once (`template.sqlite3`) and copied fresh for every run, as
  Entrada's bench starts from a fresh file. pretix's SQLite is left as pretix configures it
  (rollback journal, deferred transactions). Either way, in WAL mode like Entrada's or as it
  ships, its race on SQLite fails nearly every attempt with "database is locked" (297 and 295 of
  300 on 2 December 2026): pretix means SQLite for trying it out, PostgreSQL for production.
  PostgreSQL: a database of its own, `pretix_bench`, on the server of `DATABASE_URL`, created and
  migrated on first use; every run adds a new organizer. With `REDIS_URL` set pretix gets Redis as
  its cache, as Entrada does (the next database index, so the two never share keys); without it,
  pretix's default (no cache). Celery is left unconfigured: pretix then runs its tasks in the
  request (`CELERY_TASK_ALWAYS_EAGER`), which is the work an order costs it either way, on the
  same two cores.
- Code that runs inside pretix (creating the organizer, event, quota and API token; counting what
  a race sold; rendering tickets) lives in bench/pretix_scripts/ and runs with the peer's python.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VERSION = "2026.8.0"
HOME = ROOT / "var" / "peers" / f"pretix-{VERSION}"
VENV = HOME / "venv"
PYTHON = VENV / "bin" / "python"
SCRIPTS = Path(__file__).resolve().parent / "pretix_scripts"
INSTALLED = HOME / "installed.json"
TEMPLATE = HOME / "template.sqlite3"
PG_DATABASE = "pretix_bench"


def ensure_installed() -> dict:
    """The peer's virtualenv, made on first use; answers how long the install took and when."""
    if INSTALLED.exists() and PYTHON.exists():
        return {**json.loads(INSTALLED.read_text()), "now": False}
    HOME.mkdir(parents=True, exist_ok=True)
    interpreter = shutil.which("python3.11")
    if interpreter is None:
        raise RuntimeError("python3.11 is needed for the pretix peer (pretix supports 3.11+)")
    print(f"installing pretix {VERSION} into {VENV} (first use only) ...", flush=True)
    started = time.monotonic()
    if VENV.exists():
        shutil.rmtree(VENV)  # an install interrupted before its stamp: start again
    subprocess.run([interpreter, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", f"pretix=={VERSION}", "gunicorn"],
        check=True,
    )
    seconds = time.monotonic() - started
    stamp = {"version": VERSION, "seconds": round(seconds, 1), "at": time.strftime("%Y-%m-%d")}
    INSTALLED.write_text(json.dumps(stamp))
    print(f"pretix {VERSION} installed in {seconds:.0f} s", flush=True)
    return {**stamp, "now": True}


def _config(path: Path, data_dir: Path, database: dict[str, str], redis_url: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "[pretix]",
        "instance_name=pretix bench",
        "loglevel=ERROR",
        "url=http://127.0.0.1",
        "currency=CNY",
        f"datadir={data_dir}",
        "",
        "[django]",
        "debug=off",
        "secret=" + "bench-peer-" + "x" * 40,
        "",
        "[locale]",
        "timezone=Asia/Shanghai",
        "",
        "[database]",
        *(f"{key}={value}" for key, value in database.items()),
        "",
        "[mail]",
        "from=bench@example.com",
        "",
    ]
    if redis_url:
        lines += ["[redis]", f"location={redis_url}", ""]
    path.write_text("\n".join(lines))
    return path


def _peer_redis(redis_url: str) -> str:
    """Entrada's Redis server, next database index: pretix's keys never meet Entrada's."""
    if not redis_url:
        return ""
    parts = urlsplit(redis_url)
    index = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(index + 1) % 16}"))


def env(config: Path) -> dict[str, str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    return {
        **clean,
        "PRETIX_CONFIG_FILE": str(config),
        "DJANGO_SETTINGS_MODULE": "pretix.settings",
        "PYTHONUNBUFFERED": "1",
    }


def manage(config: Path, *args: str) -> None:
    subprocess.run(
        [str(PYTHON), "-m", "pretix", *args],
        cwd=HOME,
        env=env(config),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def prepare_sqlite(run_dir: Path, redis_url: str = "") -> Path:
    """A configuration on a fresh copy of the migrated template database; answers its path."""
    if not TEMPLATE.exists():
        print("migrating pretix's SQLite template database (first use only) ...", flush=True)
        building = HOME / "template-building.sqlite3"
        building.unlink(missing_ok=True)
        config = _config(
            HOME / "template.cfg",
            HOME / "template-data",
            {"backend": "sqlite3", "name": str(building)},
            "",
        )
        manage(config, "migrate", "--noinput")
        building.rename(TEMPLATE)
    database = run_dir / "pretix.sqlite3"
    shutil.copyfile(TEMPLATE, database)
    return _config(
        run_dir / "pretix.cfg",
        run_dir / "pretix-data",
        {"backend": "sqlite3", "name": str(database)},
        _peer_redis(redis_url),
    )


def prepare_postgres(database_url: str, run_dir: Path, redis_url: str = "") -> Path:
    """pretix's own database (`pretix_bench`) beside Entrada's on the same server, migrated."""
    parts = urlsplit(database_url)
    database = {
        "backend": "postgresql",
        "name": PG_DATABASE,
        "user": parts.username or "",
        "password": parts.password or "",
        "host": parts.hostname or "",
        "port": str(parts.port or ""),
    }
    create = (
        "import sys, psycopg2\n"
        "from psycopg2 import sql\n"
        "c = psycopg2.connect(sys.argv[1]); c.autocommit = True; cur = c.cursor()\n"
        "cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', [sys.argv[2]])\n"
        "if cur.fetchone() is None:\n"
        "    cur.execute(sql.SQL('CREATE DATABASE {}').format(sql.Identifier(sys.argv[2])))\n"
    )
    server = urlunsplit(parts._replace(path="/postgres"))
    subprocess.run([str(PYTHON), "-c", create, server, PG_DATABASE], check=True)
    config = _config(
        run_dir / "pretix-pg.cfg", run_dir / "pretix-pg-data", database, _peer_redis(redis_url)
    )
    stamp = HOME / f"migrated-{parts.hostname}-{parts.port}-{PG_DATABASE}"
    if not stamp.exists():
        print(f"migrating pretix's PostgreSQL database {PG_DATABASE} (first use only) ...")
        manage(config, "migrate", "--noinput")
        stamp.touch()
    return config


def script(config: Path, name: str, *args: str) -> dict:
    """Run bench/pretix_scripts/NAME with the peer's python; answers the JSON it prints last."""
    out = subprocess.run(
        [str(PYTHON), str(SCRIPTS / name), *args],
        cwd=HOME,
        env=env(config),
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"pretix_scripts/{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_gunicorn(
    config: Path, port: int, workers: int, threads: int, log: Path
) -> subprocess.Popen:
    """pretix's WSGI app in the same gunicorn shape as Entrada's in the same bench.

    Its output goes to `log`: on SQLite pretix logs each "database is locked" with a traceback,
    which the bench counts among the race's errors instead of printing."""
    command = [
        str(PYTHON), "-m", "gunicorn", "pretix.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", str(threads),
        "--backlog", "512", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=HOME, env=env(config), stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.terminate()
                process.wait(timeout=15)
                raise RuntimeError("pretix's gunicorn did not start") from None
            time.sleep(0.2)


if __name__ == "__main__":
    # `python bench/pretix_peer.py` installs the peer ahead of a bench run.
    print(json.dumps(ensure_installed()))
    sys.exit(0)
