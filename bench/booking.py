"""Booking benchmark: the public API served by gunicorn (2 workers), on SQLite and PostgreSQL,
and with `--peer pretix` the same workload against pretix 2026.8.0 in the same run.

(a) Orders placed one after another, 200 and for at least 10 s: orders/s, median and p95
latency, and the server's CPU time per order (its gunicorn processes, from /proc: hardly affected
by other work on the machine, unlike the wall-clock figures). (b) A race: 32 threads make 300
attempts for 100 places: sold (must be 100), sold-out answers, errors (must be 0), wall time. Targets, as the ratio of (a) to pretix's measured in the same run: goal 20x, floor 15x, on
SQLite and on PostgreSQL, with 0 race errors.

    .venv/bin/python bench/booking.py --peer pretix   # SQLite (fresh files in a temp dir)
    DATABASE_URL=postgres://... .venv/bin/python bench/booking.py --peer pretix  # then PostgreSQL

Entrada runs with DEBUG off under gunicorn gthread workers (2 x 8 threads; not the uvicorn ASGI
workers `manage.py serve` uses: pretix is a WSGI application, and one server shape for both keeps
the comparison about the applications), SQLite in WAL mode with IMMEDIATE transactions. Request throttling and the per-address hold cap are switched off (the
benchmark is one client address); the idempotency key is sent and stored as any client would.
Warm-up requests (imports, first connections, prepared statements) are not timed.

The peer (bench/pretix_peer.py installs it under var/peers/ on first use) runs in the same
gunicorn shape, right after Entrada on the same cores, on its own database of the same kind
(pretix_peer.py says how it is configured). What is comparable: Entrada's booking API creates
an unpaid order that holds places against a slot's capacity, behind an idempotency key. pretix's
nearest equivalent is its REST API's order creation (`POST /api/v1/organizers/O/events/E/orders/`
with a team API token and `X-Idempotency-Key`): one request creates a pending order whose
positions count against the time slot's (subevent's) quota, which pretix checks under its quota
lock; the race's sold-out answer is its 400 naming the quota. Its shop checkout is not
comparable: a cart, a questions step and a confirm step take several requests and pages per
order, which would measure its templates, not its booking. pretix is given the lighter order (an
e-mail and the positions, no names; no e-mail sent). Each phase's load average is printed with its
figures: on a shared machine the two sides may not get the same share of it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pretix_peer
import requests

ROOT = Path(__file__).resolve().parent.parent
SEQUENTIAL = 200
SEQUENTIAL_SECONDS = 10
WARM_UP = 160
RACE_ATTEMPTS = 300
RACE_THREADS = 32
RACE_PLACES = 100
WORKERS, THREADS = 2, 8
GOAL, FLOOR = 20, 15

SETUP = """
import datetime as dt, json, uuid
from decimal import Decimal
import django
django.setup()
from payments import clock
from ticketing.models import Attraction, TicketType, TimeSlot
slug = "bench-" + uuid.uuid4().hex[:8]
a = Attraction.objects.create(slug=slug, name="Bench", timezone="Asia/Shanghai", currency="CNY")
adult = TicketType.objects.create(attraction=a, code="adult", name="Adult", price=Decimal("80"))
start = (clock.now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
def slot(hours, capacity):
    s = start + dt.timedelta(hours=hours)
    return TimeSlot.objects.create(attraction=a, starts_at=s, ends_at=s + dt.timedelta(hours=1),
        local_date=s.astimezone(a.tz).date(), capacity=capacity).pk
print(json.dumps({"slug": slug, "adult": adult.pk, "warm": slot(0, 100000),
                  "sequential": slot(1, 100000), "race": slot(2, PLACES)}))
""".replace("PLACES", str(RACE_PLACES))

CHECK = """
import json, sys
import django
django.setup()
from ticketing.inventory import check_capacity
from ticketing.models import TimeSlot
slot = TimeSlot.objects.get(pk=int(sys.argv[1]))
problems = len(check_capacity([slot.pk]))
print(json.dumps({"held": slot.held, "sold": slot.sold, "problems": problems}))
"""


@dataclass
class Site:
    """One booking server as the client sees it: where to post an order and how to read the answer."""

    name: str
    base: str
    path: str
    body: Callable[[str, int, int], dict]  # (phase, index, quantity) -> JSON body
    outcome: Callable[[requests.Response], str]  # "created", "sold_out" or what went wrong
    headers: dict[str, str] = field(default_factory=dict)
    key_header: str = "Idempotency-Key"
    server: subprocess.Popen | None = None  # its gunicorn master, whose CPU time is counted

    def post(self, session: requests.Session, phase: str, index: int, quantity: int) -> str:
        try:
            response = session.post(
                self.base + self.path,
                json=self.body(phase, index, quantity),
                headers={**self.headers, self.key_header: str(uuid.uuid4())},
                timeout=60,
            )
            return self.outcome(response)
        except (requests.RequestException, ValueError) as exc:
            return type(exc).__name__


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(master: subprocess.Popen | None) -> float:
    """CPU time (user + system) of a gunicorn master and its workers so far, from /proc.

    Unlike wall time it hardly depends on what else the machine runs, so the per-order figure
    compares the two servers even when other work shares the cores."""
    if master is None:
        return 0.0
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # a process that ended meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if master.pid in (pid, ppid):
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def site_env(database_url: str, var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "DATABASE_URL": database_url,
        "ENTRADA_VAR_DIR": str(var_dir),
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: with DEBUG off the site would redirect every request to HTTPS.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_COOKIES": "0",
        "ALIPAY_SANDBOX": "1",
        "TICKETING_API_ORDER_RATE": "",
        "TICKETING_API_READ_RATE": "",
        "TICKETING_API_LOOKUP_RATE": "",
        "TICKETING_HOLDS_PER_ADDRESS": "0",
        "LOG_LEVEL": "ERROR",  # a 409 sold-out is an answer, not a warning worth a line
        "PYTHONUNBUFFERED": "1",
    }


def python(env: dict[str, str], code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "ticketing.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
        "--worker-class", "gthread", "--threads", str(THREADS),
        "--backlog", "512", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/attractions/", timeout=10)
            return process
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.1)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:  # a worker stuck behind a lock: the figures are taken
        server.kill()
        server.wait()


def sequential(site: Site) -> dict:
    session = requests.Session()
    # Warm-up: every worker thread imports, opens its persistent database connection and fills
    # caches, and on PostgreSQL prepares its statements (psycopg does so at a statement's 5th
    # use on a connection): 2 workers x 8 threads x 5 uses is 80 requests, so warm up with more.
    for index in range(WARM_UP):
        outcome = site.post(session, "warm", index, 1)
        if outcome != "created":
            raise RuntimeError(f"{site.name} warm-up order failed: {outcome}")
    latencies = []
    outcomes: Counter = Counter()
    load_before = load()
    cpu_before = cpu_seconds(site.server)
    started = time.perf_counter()
    index = 0
    # At least SEQUENTIAL orders and SEQUENTIAL_SECONDS: a phase of under a second would measure
    # whatever else the machine did in that second as much as the server.
    while index < SEQUENTIAL or time.perf_counter() - started < SEQUENTIAL_SECONDS:
        t0 = time.perf_counter()
        outcomes[site.post(session, "sequential", index, 2)] += 1
        latencies.append((time.perf_counter() - t0) * 1000)
        index += 1
    wall = time.perf_counter() - started
    cpu = cpu_seconds(site.server) - cpu_before
    latencies.sort()
    return {
        "orders": outcomes["created"],
        "outcomes": dict(outcomes),
        "orders_per_s": outcomes["created"] / wall,
        "median_ms": statistics.median(latencies),
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "wall_s": wall,
        "server_cpu_ms": cpu * 1000 / max(outcomes["created"], 1),
        "load": f"{load_before} -> {load()}",
    }


def race(site: Site) -> dict:
    attempts = iter(range(RACE_ATTEMPTS))
    lock = threading.Lock()
    outcomes: Counter = Counter()
    barrier = threading.Barrier(RACE_THREADS)

    def worker() -> None:
        session = requests.Session()
        barrier.wait()
        while True:
            with lock:
                index = next(attempts, None)
            if index is None:
                break
            outcome = site.post(session, "race", index, 1)
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(RACE_THREADS)]
    load_before = load()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "sold": outcomes["created"],
        "sold_out": outcomes["sold_out"],
        "errors": RACE_ATTEMPTS - outcomes["created"] - outcomes["sold_out"],
        "outcomes": dict(outcomes),
        "wall_s": wall,
        "load": f"{load_before} -> {load()}",
    }


def _entrada_outcome(response: requests.Response) -> str:
    if response.status_code == 201:
        return "created"
    try:
        return response.json().get("code") or str(response.status_code)
    except ValueError:
        return str(response.status_code)


def run_entrada(database_url: str, var_dir: Path) -> dict:
    env = site_env(database_url, var_dir)
    (var_dir / "staticfiles").mkdir(exist_ok=True)  # whitenoise warns when STATIC_ROOT is missing
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    world = python(env, SETUP)
    port = free_port()
    server = start_gunicorn(env, port)

    def body(phase: str, index: int, quantity: int) -> dict:
        return {
            "attraction": world["slug"],
            "slot": world[phase],
            "quantities": [{"ticket_type": world["adult"], "quantity": quantity}],
            "buyer_name": f"Bench Buyer {index}",
            "email": f"bench{index}@example.com",
            "language": "en",
        }

    site = Site(
        "Entrada",
        f"http://127.0.0.1:{port}",
        "/api/v1/orders/",
        body,
        _entrada_outcome,
        server=server,
    )
    try:
        seq = sequential(site)
        rc = race(site)
    finally:
        stop(server)
    slot = python(env, CHECK, str(world["race"]))
    rc["sound"] = slot["held"] + slot["sold"] == rc["sold"] and slot["problems"] == 0
    rc["after"] = (
        f"slot held {slot['held']}, sold {slot['sold']}, check_capacity problems {slot['problems']}"
    )
    return {"sequential": seq, "race": rc}


def _pretix_outcome(response: requests.Response) -> str:
    if response.status_code == 201:
        return "created"
    # A sold-out quota is a 400 naming the quota ("There is not enough quota available on
    # quota ..."): an answer, not an error.
    if response.status_code == 400 and "quota" in response.text.lower():
        return "sold_out"
    return f"{response.status_code} {response.text[:60]}" if response.status_code < 500 else "500"


def run_pretix(config: Path) -> dict:
    world = pretix_peer.script(config, "setup_event.py", str(RACE_PLACES))
    port = free_port()
    log = config.with_suffix(".log")
    server = pretix_peer.start_gunicorn(config, port, WORKERS, THREADS, log)
    path = f"/api/v1/organizers/{world['organizer']}/events/{world['event']}/orders/"

    def body(phase: str, index: int, quantity: int) -> dict:
        return {
            "email": f"bench{index}@example.com",
            "locale": "en",
            "sales_channel": "web",
            "send_email": False,
            "positions": [{"item": world["item"], "subevent": world[phase]}] * quantity,
        }

    site = Site(
        "pretix",
        f"http://127.0.0.1:{port}",
        path,
        body,
        _pretix_outcome,
        headers={"Authorization": f"Token {world['token']}"},
        key_header="X-Idempotency-Key",
        server=server,
    )
    try:
        seq = sequential(site)
        rc = race(site)
    finally:
        stop(server)
    quota = pretix_peer.script(config, "check_quota.py", str(world["race_quota"]))
    rc["sound"] = quota["held"] == rc["sold"] <= quota["size"]
    rc["after"] = (
        f"quota size {quota['size']}, positions held {quota['held']}, left {quota['left']}"
    )
    rc["log"] = log.read_text(errors="replace").count("database is locked")
    return {"sequential": seq, "race": rc}


def report(label: str, entrada: dict, peer: dict | None) -> bool:
    """Print one database's figures side by side; True when the targets are met."""
    rows = [
        ("(a) sequential orders/s", "sequential", "orders_per_s", "{:.1f}"),
        ("    median latency ms", "sequential", "median_ms", "{:.1f}"),
        ("    p95 latency ms", "sequential", "p95_ms", "{:.1f}"),
        ("    server CPU ms per order", "sequential", "server_cpu_ms", "{:.1f}"),
        ("    orders placed", "sequential", "orders", "{}"),
        ("    load average 1/5/15 min", "sequential", "load", "{}"),
        ("(b) race sold (must be 100)", "race", "sold", "{}"),
        ("    sold-out answers", "race", "sold_out", "{}"),
        ("    errors (must be 0)", "race", "errors", "{}"),
        ("    wall time s", "race", "wall_s", "{:.2f}"),
        ("    load average 1/5/15 min", "race", "load", "{}"),
    ]
    print(f"\n== {label} (gunicorn {WORKERS} workers x {THREADS} threads each) ==")
    print(f"{'':32}{'Entrada':>26}  {'pretix ' + pretix_peer.VERSION if peer else ''}")
    for title, part, key, fmt in rows:
        theirs = fmt.format(peer[part][key]) if peer else ""
        print(f"{title:32}{fmt.format(entrada[part][key]):>26}  {theirs}")
    for name, result in (("Entrada", entrada), ("pretix", peer)):
        if result:
            print(f"    {name} afterwards: {result['race']['after']}")
            odd = {k: v for k, v in result["race"]["outcomes"].items() if k not in
                   ("created", "sold_out")}  # fmt: skip
            if odd:
                print(f"    {name} race errors: {odd}")
            if result["race"].get("log"):
                print(f"    {name}'s log: 'database is locked' {result['race']['log']} times")
    rc = entrada["race"]
    race_ok = rc["sold"] == RACE_PLACES and rc["errors"] == 0 and rc["sound"]
    if peer is None:
        print("    no peer measured (--peer pretix): no ratio")
        return race_ok
    ratio = entrada["sequential"]["orders_per_s"] / peer["sequential"]["orders_per_s"]
    cpu_ratio = peer["sequential"]["server_cpu_ms"] / entrada["sequential"]["server_cpu_ms"]
    race_ratio = peer["race"]["wall_s"] / rc["wall_s"]
    verdict = "MISSES the floor"
    if ratio >= GOAL:
        verdict = "meets the goal"
    elif ratio >= FLOOR:
        verdict = "meets the floor, not the goal"
    print(
        f"    sequential throughput {ratio:.1f}x pretix ({verdict}: floor {FLOOR}x, goal "
        f"{GOAL}x); {cpu_ratio:.1f}x less server CPU per order; race {race_ratio:.1f}x faster; "
        f"Entrada race "
        f"{'clean' if race_ok else 'NOT CLEAN'} (100 sold, 0 errors, counters agree)"
    )
    return race_ok and ratio >= FLOOR


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peer", choices=["pretix"], help="also measure pretix 2026.8.0 (installed on first use)"
    )
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    args = parser.parse_args()
    if args.peer:
        installed = pretix_peer.ensure_installed()
        when = "just now" if installed["now"] else f"on {installed['at']}"
        print(f"pretix {installed['version']} peer: installed {when} in {installed['seconds']} s")
    redis_url = os.environ.get("REDIS_URL", "")
    databases = [("SQLite (WAL, IMMEDIATE)", "sqlite")]
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        databases.append(("PostgreSQL", os.environ["DATABASE_URL"]))
    results = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="entrada-bench-") as tmp:
        for label, database in databases:
            var_dir = Path(tmp) / database.split(":")[0]
            var_dir.mkdir()
            url = f"sqlite:///{var_dir / 'bench.sqlite3'}" if database == "sqlite" else database
            print(f"{label}: Entrada ... (load average {load()})", flush=True)
            entrada = run_entrada(url, var_dir)
            peer = None
            if args.peer:
                config = (
                    pretix_peer.prepare_sqlite(var_dir, redis_url)
                    if database == "sqlite"
                    else pretix_peer.prepare_postgres(database, var_dir, redis_url)
                )
                print(f"{label}: pretix ... (load average {load()})", flush=True)
                peer = run_pretix(config)
            results.append({"database": label, "entrada": entrada, "pretix": peer})
    print(f"\n{os.cpu_count()} cores; Entrada and pretix measured one after the other")
    for result in results:
        ok = report(result["database"], result["entrada"], result["pretix"]) and ok
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
