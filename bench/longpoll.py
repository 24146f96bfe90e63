"""Long-polling registers against the shop: does waiting for PINs slow the buyers online?

    .venv/bin/python bench/longpoll.py                 # ASGI (what `make run` serves), 200 registers
    .venv/bin/python bench/longpoll.py --server wsgi   # the former shape: 2 gunicorn workers x 8 threads
    .venv/bin/python bench/longpoll.py --waiters 50 --baseline 20
    .venv/bin/python bench/longpoll.py --debug         # DEBUG on, as `make run` (slower pages)

One command, about three minutes. What runs, in a scratch directory on SQLite (the embedded
default, no Redis) with production settings (DEBUG off, as bench/booking.py and bench/polling.py:
with DEBUG on Django keeps every SQL statement and, on SQLite, quotes its parameters with one more
query each): the site as `make run` serves it (gunicorn, two uvicorn workers), one `manage.py qcluster`
that polls pending payments, and the sandbox gateway as a site of its own (its own database,
payments.sandbox.site_urls, one worker), so that the web workers serve only what they serve in
production: Alipay is not on the site's workers there. N registers (one terminal and token each)
each take a barcode payment through the partner API with the sandbox's "PIN confirmed after SS
seconds" buyer code (SS random in 45..95, the payment deadline raised to 150 s), so every payment
stays pending for a while and then changes. The gateway runs no task cluster, so it sends no
notifications: the site finds each change by polling, as it must when a notification is lost.

A buyer's client, in a process of its own, loads the shop's home page and the public availability
API (one attraction's slots) once a second throughout, and reads the load average each time. The
registers are one asyncio client (a connection each, `?wait=25&state=pending` again and again until
their payment changes), so that the bench's own client costs this machine as little as it can:
real registers are not on the server's cores.

Printed, baseline in the same run:
- home page and availability latency (median, p95, max) while the payments are pending but nobody
  long-polls them, then while every register long-polls its payment, each with the load average
  (1 minute) seen during it: the machine may be shared, so read the figures with it;
- how long after its payment's change (the `paid` transition's time) each register was told;
- the CPU the web workers, the task cluster (polling 200 payments every 3 s) and the gateway
  used in each phase, in seconds per second: on 2 cores, what is left for anything else;
- the web workers' threads without and with the waiters;
- a verdict line against the target (issue 14): home p95 < 100 ms with the waiters on this 2-core
  machine, and every waiter told within 1 s of its payment's change.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import random
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_HOME_P95 = 0.100  # seconds
TARGET_TOLD = 1.0  # seconds
WAIT = 25  # seconds each long poll asks for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    ms = [v * 1000 for v in values]
    return (
        f"median {statistics.median(ms):7.1f} ms, p95 {percentile(ms, 0.95):7.1f} ms, "
        f"max {max(ms):7.1f} ms ({len(values)} samples)"
    )


def wait_until_up(url: str, log: Path, refused_from: int = 400) -> None:
    ends = time.monotonic() + 90
    while True:
        try:
            if requests.get(url, timeout=5).status_code < refused_from:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > ends:
            raise SystemExit(f"{url} did not start; see {log}")
        time.sleep(0.3)


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=open(log, "ab"),  # the child owns the file
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def workers(master: subprocess.Popen) -> list[str]:
    """Threads and resident memory of each gunicorn worker (children of the master)."""
    shown = []
    try:
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    except OSError:
        return shown
    for pid in children:
        try:
            threads = len(os.listdir(f"/proc/{pid}/task"))
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        shown.append(f"{threads} threads, {int(rss) / 1024:.0f} MB")
    return shown


def session_cpu_seconds(session_id: int) -> float:
    """User + system CPU of every live process of a session (each child here starts one), plus
    what they reaped (recycled django-q2 workers)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session_id:  # field 6 of stat: the session id
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds per second of wall time that each named process (and its children) used."""

    def __init__(self, processes: dict[str, subprocess.Popen]):
        self.processes = processes
        self.mark()

    def mark(self) -> None:
        self.at = time.monotonic()
        self.used = {name: session_cpu_seconds(p.pid) for name, p in self.processes.items()}

    def since_mark(self) -> str:
        wall = time.monotonic() - self.at
        shares = [
            f"{name} {(session_cpu_seconds(p.pid) - self.used[name]) / wall:.2f}"
            for name, p in self.processes.items()
        ]
        return "CPU s/s: " + ", ".join(shares)


# --- the buyer online: a process of its own, so the registers' client cannot delay its timing ---
def buyer(base: str, slots_url: str, stopping, results) -> None:
    session = requests.Session()
    samples = []  # (wall time sent, page, seconds, load average)
    while not stopping.is_set():
        tick = time.monotonic()
        for name, url in (("home", base + "/"), ("availability", slots_url)):
            sent = time.time()
            began = time.monotonic()
            try:
                session.get(url, timeout=60).raise_for_status()
                took = time.monotonic() - began
            except requests.RequestException as exc:
                # Counted as the time it was given: a page that never came is no fast page.
                took = 60.0
                print(f"  {name}: {exc}", flush=True)
            samples.append((sent, name, took, os.getloadavg()[0]))
        stopping.wait(max(0.0, 1.0 - (time.monotonic() - tick)))
    results.put(samples)


# --- the registers: one asyncio client, a connection each ---------------------------------------
@dataclass
class Register:
    token: str
    payment_id: str
    began: float = 0.0
    told: float | None = None
    answers: int = 0
    refused: int = 0
    reconnects: int = 0
    error: str = ""
    trail: list = field(default_factory=list)  # (sent, answered, state, refused)


async def exchange(reader, writer, request: bytes) -> tuple[int, dict, dict]:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, json.loads(body) if body else {}


async def long_poll(register: Register, port: int, stopping: asyncio.Event) -> None:
    request = (
        f"GET /api/v1/payments/{register.payment_id}/?wait={WAIT}&state=pending HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Token {register.token}\r\n\r\n"
    ).encode()
    register.began = time.time()
    connection = None
    while not stopping.is_set():
        if connection is None:
            connection = await asyncio.open_connection("127.0.0.1", port)
        sent = time.time()
        try:
            status, headers, body = await asyncio.wait_for(exchange(*connection, request), 60)
        except (ConnectionError, asyncio.IncompleteReadError):
            # The server closed a keep-alive connection between two polls: ask again on a new one.
            connection[1].close()
            connection = None
            register.reconnects += 1
            continue
        except Exception as exc:  # a timeout, a bad answer: this register stops, counted
            register.error = repr(exc)
            break
        if status != 200:
            register.error = f"{status} {body}"
            break
        register.answers += 1
        refused = "retry-after" in headers
        register.refused += refused
        register.trail.append((sent, time.time(), body["state"], refused))
        if body["state"] != "pending":
            register.told = time.time()
            break
        if refused:
            await asyncio.sleep(float(headers["retry-after"]))
    if connection is not None:
        connection[1].close()


def run_registers(registers: list[Register], port: int, seconds: float) -> None:
    async def everyone() -> None:
        stopping = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stopping.set)
        tasks = [asyncio.create_task(long_poll(r, port, stopping)) for r in registers]
        # Past the time allowed, the waits still open are abandoned (each counts as not told).
        _done, pending = await asyncio.wait(tasks, timeout=seconds + WAIT + 5)
        for task in pending:
            task.cancel()

    asyncio.run(everyone())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--server", choices=["asgi", "wsgi"], default="asgi")
    parser.add_argument("--baseline", type=float, default=30, help="seconds without waiters")
    parser.add_argument("--seconds", type=float, default=100, help="most seconds with waiters")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="DEBUG on, as `make run` serves (every query logged, and quoted once more on SQLite)",
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="entrada-longpoll-"))
    (scratch / "site").mkdir()
    (scratch / "gateway").mkdir()
    port, gateway_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    common = {
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "DEBUG": "1" if args.debug else "0",
        "SECRET_KEY": "bench-" + secrets.token_hex(24),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_COOKIES": "0",
        "ALIPAY_SANDBOX": "1",
        "ALIPAY_KEY_DIR": str(scratch / "keys"),  # the site's and the gateway's demo keys agree
        "ENTRADA_PUBLIC_URL": base,  # where the gateway sends its notifications
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    gateway_env = {
        **os.environ,
        **common,
        "ENTRADA_VAR_DIR": str(scratch / "gateway"),
        "ENTRADA_ROOT_URLCONF": "payments.sandbox.site_urls",
    }
    os.environ.update(common)
    os.environ.update(
        {
            "ENTRADA_VAR_DIR": str(scratch / "site"),
            "ALIPAY_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}/sandbox/gateway.do",
            # One register per terminal; the buyer's client is one address: no rate limit in
            # the way.
            "TICKETING_API_READ_RATE": "",
            # Pending long enough for the registers to be waiting when their buyers confirm.
            "PAYMENTS_DEADLINE_SECONDS": "150",
        }
    )
    env = {**os.environ}
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from payments.api.terminals import get_or_create_terminal, issue_token
    from payments.models import Payment, PaymentEvent
    from ticketing.management.commands.serve import collect_static, web_server_command

    print(f"setting up in {scratch} (load average {os.getloadavg()[0]:.2f}) ...", flush=True)
    collect_static()
    call_command("migrate", verbosity=0)
    call_command("load_demo", verbosity=0)
    # The gateway's database: a copy of the site's, for the sandbox's demo merchant in it (the
    # gateway reads and writes only its own tables).
    with (
        sqlite3.connect(settings.DATABASES["default"]["NAME"]) as source,
        sqlite3.connect(scratch / "gateway" / "entrada.sqlite3") as copy,
    ):
        source.backup(copy)
    tokens = []
    for i in range(args.waiters):
        terminal, _created = get_or_create_terminal("BENCH", f"R{i:03d}", store_name="Bench")
        tokens.append(issue_token(terminal))
    connection.close()

    if args.server == "asgi":
        web_cmd = web_server_command("127.0.0.1", port, 2)
    else:
        web_cmd = [
            sys.executable, "-m", "gunicorn", "ticketing.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", "2", "--threads", "8", "--graceful-timeout", "5",
        ]  # fmt: skip
    gateway = start(
        web_server_command("127.0.0.1", gateway_port, 1), gateway_env, scratch / "gateway.log"
    )
    web = start(web_cmd, env, scratch / "web.log")
    cluster = start([sys.executable, "manage.py", "qcluster"], env, scratch / "qcluster.log")
    stopping = multiprocessing.get_context("spawn").Event()
    results = multiprocessing.get_context("spawn").Queue()
    sampler = None
    try:
        wait_until_up(base + "/", scratch / "web.log")
        # Any answer will do (a GET without parameters is refused): the gateway is up.
        wait_until_up(
            f"http://127.0.0.1:{gateway_port}/sandbox/gateway.do", scratch / "gateway.log", 500
        )
        day = (date.today() + timedelta(days=1)).isoformat()
        slots_url = f"{base}/api/v1/attractions/demo-harbour-museum/slots/?date={day}"
        requests.get(slots_url, timeout=30).raise_for_status()
        print(
            f"server: {args.server} ({' '.join(web_cmd[2:8])} ...), DEBUG "
            f"{'on' if args.debug else 'off'}, {args.waiters} registers, {os.cpu_count()} cores",
            flush=True,
        )
        sampler = multiprocessing.get_context("spawn").Process(
            target=buyer, args=(base, slots_url, stopping, results), daemon=True
        )
        sampler.start()
        phases: list[tuple[str, float]] = []  # (name, wall time it began)
        cpu: dict[str, str] = {}
        meter = CpuMeter({"web": web, "tasks": cluster, "gateway": gateway})

        def phase(name: str) -> None:
            if phases:
                cpu[phases[-1][0]] = meter.since_mark()
            meter.mark()
            phases.append((name, time.time()))
            print(f"{time.strftime('%H:%M:%S')} {name} (load average {os.getloadavg()[0]:.2f})")

        phase("idle")
        time.sleep(5)

        # Every register takes a payment that stays pending 45..95 s, then is paid.
        rng = random.Random(14)

        def pay(token: str) -> str:
            seconds = rng.randint(45, 95)
            response = requests.post(
                f"{base}/api/v1/payments/",
                json={
                    "amount": "100.00",
                    "currency": "HKD",
                    "description": "Bench tickets",
                    "buyer_code": f"2800000000000003{seconds:02d}",
                },
                headers={"Authorization": f"Token {token}", "Idempotency-Key": str(uuid.uuid4())},
                timeout=60,
            )
            response.raise_for_status()
            return response.json()["id"]

        phase("creating payments")
        with ThreadPoolExecutor(max_workers=4) as pool:
            payment_ids = list(pool.map(pay, tokens))
        phase("pending, no waiters")
        time.sleep(args.baseline)
        threads_before = workers(web)

        registers = [Register(t, p) for t, p in zip(tokens, payment_ids, strict=True)]
        waiting = f"{args.waiters} waiters"
        phase(waiting)
        client = threading.Thread(target=run_registers, args=(registers, port, args.seconds))
        client.start()
        time.sleep(5)
        threads_during = workers(web)
        client.join()
        phase("end")
        stopping.set()
        samples = results.get(timeout=30)

        changed_at = dict(
            PaymentEvent.objects.filter(
                payment__uuid__in=payment_ids, from_state=Payment.State.PENDING
            ).values_list("payment__uuid", "at")
        )
    finally:
        stopping.set()
        if sampler is not None:
            sampler.join(timeout=10)
        stop(cluster)
        stop(web)
        stop(gateway)

    print()
    figures = {}
    for (name, began), (_next, ended) in itertools.pairwise(phases):
        inside = [s for s in samples if began <= s[0] < ended]
        loads = [s[3] for s in inside]
        load = f"{min(loads):.2f}-{max(loads):.2f}" if loads else "?"
        print(f"{name} (load average {load}; {cpu[name]}):")
        for page in ("home", "availability"):
            timed = [(s[2], s[0]) for s in inside if s[1] == page]
            values = [took for took, _sent in timed]
            figures[name, page] = values
            # When the slowest came, into the phase: a burst (the registers' first waits) or not.
            slowest = f"; slowest at +{max(timed)[1] - began:.0f} s" if timed else ""
            print(f"  {page:<13} {summary(values)}{slowest}")
        figures[name, "load"] = load

    # Only changes a register was already waiting for: one made before its first request is
    # answered at once and says nothing about waking.
    delays, early, untold = [], 0, []
    for register in registers:
        at = changed_at.get(uuid.UUID(register.payment_id))
        if at is None or register.told is None:
            untold.append(register)
            continue
        if at.timestamp() <= register.began:
            early += 1
            continue
        delays.append(register.told - at.timestamp())
    within = sum(d < TARGET_TOLD for d in delays)
    print(
        f"waiters told of their payment's change while waiting: {len(delays)} of "
        f"{len(registers)} ({early} changed before their register began to wait, "
        f"{len(untold)} never told)"
    )
    if delays:
        print(
            f"  change -> told {summary(delays)}; within 1 s: {within} ({within / len(delays):.0%})"
        )
    late = [
        r
        for r in registers
        if r.told is not None
        and uuid.UUID(r.payment_id) in changed_at
        and r.began < changed_at[uuid.UUID(r.payment_id)].timestamp() < r.told - TARGET_TOLD
    ]
    for register in late[:5]:
        at = changed_at[uuid.UUID(register.payment_id)].timestamp()
        seen = [(round(a - at, 2), round(b - at, 2), st, rf) for a, b, st, rf in register.trail]
        print(f"  late: requests (sent, answered, state, refused) relative to the change: {seen}")
    answers = sum(r.answers for r in registers)
    refused = sum(r.refused for r in registers)
    errors = [r.error for r in registers if r.error]
    print(
        f"  {answers} answers to the registers, {refused} refused at a cap (Retry-After), "
        f"{sum(r.reconnects for r in registers)} reconnects, {len(errors)} errors"
        + (f", e.g. {errors[0]}" if errors else "")
    )
    print(f"web workers without waiters: {threads_before}; with: {threads_during}")

    home = figures.get((waiting, "home"), [])
    home_p95 = percentile(home, 0.95) if home else float("inf")
    told_all = not untold and not errors and within == len(delays)
    passed = home_p95 < TARGET_HOME_P95 and told_all
    print(
        f"VERDICT: {'PASS' if passed else 'FAIL'}: home p95 {home_p95 * 1000:.0f} ms with "
        f"{args.waiters} waiters (target < {TARGET_HOME_P95 * 1000:.0f} ms; without waiters "
        f"{percentile(figures[('pending, no waiters', 'home')], 0.95) * 1000:.0f} ms); told within "
        f"1 s: {within} of {len(delays)} waiting"
        + (f", {len(untold)} never told" if untold else "")
        + f" (target all); load average {figures.get((waiting, 'load'), '?')} during the waiters"
        f" on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
