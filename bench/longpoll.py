"""Long-polling registers against the shop: does waiting for PINs slow the buyers online?

    python bench/longpoll.py                     # ASGI (what `make run` serves), 200 registers
    python bench/longpoll.py --server wsgi       # the former shape: gunicorn 2 workers x 8 threads
    python bench/longpoll.py --waiters 50 --seconds 20

What runs, in a scratch directory on SQLite (the embedded default, no Redis): the site as
`make run` serves it (or the former threaded WSGI server), serving the sandbox gateway too, and one
`manage.py qcluster` that polls pending payments. N registers (one terminal and token each) each
take a barcode payment through the partner API with the sandbox's "PIN confirmed after SS
seconds" buyer code (SS random in 45..95, the payment deadline raised to 150 s), so every payment
stays pending for a while and then changes. A buyer's client loads the shop's home page and the
public availability API (one attraction's slots) once a second, throughout.

Printed, baseline in the same run:
- home page and availability latency (median, p95, max) while the payments are pending but nobody
  long-polls them, then while every register long-polls its payment (`?wait=25`, again and again);
- how long after its payment's change (the `paid` transition's time) each register was told;
- the threads of the web workers, without and with the waiters.
Target (issue 14): home page p95 < 100 ms with 200 waiters on 2 cores; each waiter told < 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def summary(values: list[float], unit: float = 1000.0, suffix: str = "ms") -> str:
    if not values:
        return "no samples"
    scaled = [v * unit for v in values]
    return (
        f"median {statistics.median(scaled):7.1f} {suffix}, p95 {percentile(scaled, 0.95):7.1f} "
        f"{suffix}, max {max(scaled):7.1f} {suffix} ({len(values)} samples)"
    )


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


class Sampler(threading.Thread):
    """The buyer online: the home page and the availability API, once a second."""

    def __init__(self, base: str, slots_url: str):
        super().__init__(daemon=True)
        self.base, self.slots_url = base, slots_url
        self.session = requests.Session()
        self.phase = "idle"
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.stopping = threading.Event()

    def timed(self, url: str) -> float:
        started = time.monotonic()
        response = self.session.get(url, timeout=60)
        response.raise_for_status()
        return time.monotonic() - started

    def run(self) -> None:
        while not self.stopping.is_set():
            tick = time.monotonic()
            phase = self.samples.setdefault(self.phase, {"home": [], "availability": []})
            for name, url in (("home", self.base + "/"), ("availability", self.slots_url)):
                try:
                    phase[name].append(self.timed(url))
                except requests.RequestException as exc:
                    # Counted as the time it was given: a page that never came is no fast page.
                    phase[name].append(60.0)
                    print(f"  {name}: {exc}", flush=True)
            self.stopping.wait(max(0.0, 1.0 - (time.monotonic() - tick)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--server", choices=["asgi", "wsgi"], default="asgi")
    parser.add_argument("--baseline", type=float, default=12, help="seconds without waiters")
    parser.add_argument("--seconds", type=float, default=100, help="most seconds with waiters")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="entrada-longpoll-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "ENTRADA_VAR_DIR": str(scratch),
        "ALIPAY_GATEWAY_URL": f"{base}/sandbox/gateway.do",
        "ENTRADA_PUBLIC_URL": base,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        # One register per terminal; the buyer's client is one address: no rate limit in the way.
        "TICKETING_API_READ_RATE": "",
        # Pending long enough for the registers to be waiting when their buyers confirm.
        "PAYMENTS_DEADLINE_SECONDS": "150",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(env)
    env = {**os.environ}
    import django

    django.setup()
    from django.core.management import call_command

    from payments.api.terminals import get_or_create_terminal, issue_token
    from payments.models import Payment, PaymentEvent
    from ticketing.management.commands.serve import web_server_command

    call_command("migrate", verbosity=0)
    call_command("load_demo", verbosity=0)
    tokens = []
    for i in range(args.waiters):
        terminal, _created = get_or_create_terminal("BENCH", f"R{i:03d}", store_name="Bench")
        tokens.append(issue_token(terminal))
    from django.db import connection

    connection.close()

    if args.server == "asgi":
        web_cmd = web_server_command("127.0.0.1", port, 2)
    else:
        web_cmd = [
            sys.executable, "-m", "gunicorn", "ticketing.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", "2", "--threads", "8", "--graceful-timeout", "5",
        ]  # fmt: skip
    web = start(web_cmd, env, scratch / "web.log")
    cluster = start([sys.executable, "manage.py", "qcluster"], env, scratch / "qcluster.log")
    try:
        ends = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/", timeout=5).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > ends:
                    raise SystemExit(f"the site did not start; see {scratch}/web.log") from None
                time.sleep(0.3)
        day = (date.today() + timedelta(days=1)).isoformat()
        slots_url = f"{base}/api/v1/attractions/demo-harbour-museum/slots/?date={day}"
        print(
            f"server: {args.server} ({' '.join(web_cmd[2:8])} ...), {args.waiters} registers; "
            f"load before: {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        sampler = Sampler(base, slots_url)
        sampler.start()
        time.sleep(args.baseline / 2)  # the site idle: nothing pending

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

        sampler.phase = "creating payments"
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            payment_ids = list(pool.map(pay, tokens))
        print(f"created {len(payment_ids)} pending payments in {time.monotonic() - started:.1f} s")
        sampler.phase = "pending, no waiters"
        time.sleep(args.baseline)
        threads_before = workers(web)

        told: dict[str, float] = {}
        began: dict[str, float] = {}
        trail: dict[str, list] = {}
        errors: list[str] = []
        stop_waiting = threading.Event()

        def wait_loop(token: str, payment_id: str) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {token}"
            url = f"{base}/api/v1/payments/{payment_id}/"
            began[payment_id] = time.time()
            while not stop_waiting.is_set():
                sent = time.time()
                try:
                    response = session.get(url, params={"wait": 25, "state": "pending"}, timeout=60)
                except requests.RequestException as exc:
                    errors.append(str(exc))
                    return
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:100]}")
                    return
                trail.setdefault(payment_id, []).append(
                    (sent, time.time(), response.json()["state"], "Retry-After" in response.headers)
                )
                if response.json()["state"] != "pending":
                    told[payment_id] = time.time()
                    return
                if "Retry-After" in response.headers:
                    stop_waiting.wait(float(response.headers["Retry-After"]))

        sampler.phase = f"{args.waiters} waiters"
        waiters = [
            threading.Thread(target=wait_loop, args=pair, daemon=True)
            for pair in zip(tokens, payment_ids, strict=True)
        ]
        for thread in waiters:
            thread.start()
        time.sleep(3)
        threads_during = workers(web)
        ends = time.monotonic() + args.seconds
        for thread in waiters:
            thread.join(timeout=max(0.0, ends - time.monotonic()))
        stop_waiting.set()
        sampler.stopping.set()
        sampler.join()
        load_after = os.getloadavg()[0]

        changed_at = dict(
            PaymentEvent.objects.filter(
                payment__uuid__in=payment_ids, from_state=Payment.State.PENDING
            ).values_list("payment__uuid", "at")
        )
        # Only changes a register was already waiting for: one made before its first request
        # is answered at once and says nothing about waking.
        delays = [
            told[pid] - changed_at[uuid.UUID(pid)].timestamp()
            for pid in payment_ids
            if pid in told
            and uuid.UUID(pid) in changed_at
            and changed_at[uuid.UUID(pid)].timestamp() > began[pid]
        ]
        early = sum(
            1
            for pid in payment_ids
            if uuid.UUID(pid) in changed_at and changed_at[uuid.UUID(pid)].timestamp() <= began[pid]
        )
        print()
        for phase, series in sampler.samples.items():
            print(f"{phase}:")
            for name, values in series.items():
                print(f"  {name:<13} {summary(values)}")
        print(
            f"waiters told of their payment's change while waiting: {len(delays)} of "
            f"{len(payment_ids)} ({early} changed before their register began to wait)"
        )
        if delays:
            print(f"  change -> told {summary(delays)}; within 1 s: "
                  f"{sum(d < 1.0 for d in delays) / len(delays):.0%}")  # fmt: skip
        late = [
            pid
            for pid in payment_ids
            if pid in told
            and uuid.UUID(pid) in changed_at
            and began[pid] < changed_at[uuid.UUID(pid)].timestamp() < told[pid] - 1.0
        ]
        for pid in late[:5]:
            at = changed_at[uuid.UUID(pid)].timestamp()
            requests_seen = [
                (round(a - at, 2), round(b - at, 2), st, r) for a, b, st, r in trail[pid]
            ]
            print(f"  late: changed at +{at - began[pid]:.2f} s; requests (sent, answered, state, "
                  f"refused) relative to the change: {requests_seen}")  # fmt: skip
        if errors:
            print(f"  {len(errors)} waiter errors, e.g. {errors[0]}")
        print(f"web workers without waiters: {threads_before}; with: {threads_during}")
        print(f"load average after: {load_after:.2f} (machine shared; see `uptime`)")
        print("target: home p95 < 100 ms with 200 waiters; each waiter told < 1 s")
    finally:
        stop(cluster)
        stop(web)


if __name__ == "__main__":
    main()
