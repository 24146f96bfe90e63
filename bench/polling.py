"""Polling under load: N pending payments whose buyers confirm at random times, one qcluster.

    python bench/polling.py                      # SQLite in a scratch dir, N = 100, 500, 1000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/5 \
        python bench/polling.py                  # PostgreSQL with the Redis broker
    python bench/polling.py --sizes 100 --max-wait 60

What runs: the site (gunicorn, 2 workers x 8 threads, as `make run`) serving the sandbox gateway,
and ONE `manage.py qcluster` on the default settings (Q_WORKERS=4, the payments poller with
POLLER_THREADS=8). This process creates N barcode payments (8 threads) with the sandbox's
"PIN confirmed after SS seconds" buyer codes, SS random in 5..45, so each buyer confirms at a
random time while the payment is pending. Notifications are pointed at a closed port so that
only polling can find the confirmations (what is measured is the poller, not the notify path).

Printed per N: the delay from the buyer's confirmation (the sandbox trade's confirm_at) to our
`paid` transition (median, p95, max), queries per payment, the first query's delay after the pay,
and the share of poll gaps within 3-4 s. Baseline in the same run: a perfect 3 s cadence gives a
delay uniform on [0, 3] s (median 1.5, p95 2.85, max 3.0) plus one round trip.
Bounded: each N waits at most --max-wait seconds after its last payment was created.
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
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def setup_environment(scratch: Path, port: int) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "ENTRADA_VAR_DIR": str(scratch),
        "ALIPAY_GATEWAY_URL": f"http://127.0.0.1:{port}/sandbox/gateway.do",
        # Notifications go nowhere (refused at once): only polling can see a confirmation.
        "ENTRADA_PUBLIC_URL": "http://127.0.0.1:9",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    return {**os.environ}


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


def wait_http(url: str, timeout: float = 60) -> None:
    import requests

    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.5)
    raise SystemExit(f"the site did not start at {url}")


def run_size(n: int, run_id: str, max_wait: float, rng: random.Random) -> dict:
    from payments import lifecycle
    from payments.models import GatewayExchange, Payment, PaymentEvent
    from payments.sandbox.models import SandboxTrade

    def create(i: int) -> int:
        seconds = rng.randint(5, 45)
        payment = lifecycle.create_barcode_payment(
            amount=Decimal("10.00"),
            currency="USD",
            description="Bench entry",
            buyer_code=f"2800000000000003{seconds:02d}",
            reference=f"{run_id}-{n}-{i}",
            store_id="BENCH",
            terminal_id="BENCH-1",
        )
        from django.db import connection

        connection.close()
        return payment.pk

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(n)))
    created_in = time.monotonic() - started
    ends = time.monotonic() + max_wait
    active = Payment.ACTIVE_STATES
    while time.monotonic() < ends and Payment.objects.filter(pk__in=ids, state__in=active).exists():
        time.sleep(1)
    payments = {p.pk: p for p in Payment.objects.filter(pk__in=ids)}
    trades = {
        t.partner_trans_id: t
        for t in SandboxTrade.objects.filter(
            partner_trans_id__in=[p.partner_trans_id for p in payments.values()]
        )
    }
    paid_at = dict(
        PaymentEvent.objects.filter(payment_id__in=ids, to_state="paid").values_list(
            "payment_id", "at"
        )
    )
    exchanges: dict[int, list] = {}
    for row in (
        GatewayExchange.objects.filter(payment_id__in=ids)
        .order_by("created_at")
        .values("payment_id", "service", "actor", "created_at")
    ):
        exchanges.setdefault(row["payment_id"], []).append(row)

    delays, queries, first_delays, gaps = [], [], [], []
    for pk, payment in payments.items():
        rows = exchanges.get(pk, [])
        pays = [r for r in rows if r["service"].endswith("spot.pay")]
        polls = [
            r for r in rows if r["service"].endswith("query") and r["actor"] == "system:poller"
        ]
        queries.append(len([r for r in rows if r["service"].endswith("query")]))
        if pays and polls:
            first_delays.append((polls[0]["created_at"] - pays[0]["created_at"]).total_seconds())
        gaps += [(b["created_at"] - a["created_at"]).total_seconds() for a, b in pairwise(polls)]
        trade = trades.get(payment.partner_trans_id)
        if pk in paid_at and trade is not None and trade.confirm_at is not None:
            delays.append((paid_at[pk] - trade.confirm_at).total_seconds())
    states: dict[str, int] = {}
    for payment in payments.values():
        states[payment.state] = states.get(payment.state, 0) + 1
    return {
        "n": n,
        "created_in": created_in,
        "states": states,
        "delays": delays,
        "queries": queries,
        "first": first_delays,
        "gaps": gaps,
    }


def report(result: dict, backend: str) -> str:
    delays, gaps, first = result["delays"], result["gaps"], result["first"]
    lines = [f"N={result['n']} on {backend}: created in {result['created_in']:.1f} s; "
             f"final states {result['states']}"]  # fmt: skip
    if delays:
        lines.append(
            f"  confirm -> paid: median {statistics.median(delays):.2f} s, "
            f"p95 {percentile(delays, 0.95):.2f} s, max {max(delays):.2f} s "
            f"({len(delays)} paid)  [baseline, perfect 3 s cadence: 1.50 / 2.85 / 3.00]"
        )
    else:
        lines.append("  no payment reached paid")
    if result["queries"]:
        lines.append(
            f"  queries per payment: mean {statistics.mean(result['queries']):.1f}, "
            f"max {max(result['queries'])}"
        )
    if first:
        within = sum(1 for d in first if 3.0 <= d <= 4.0) / len(first)
        lines.append(
            f"  first query after pay: median {statistics.median(first):.2f} s, "
            f"max {max(first):.2f} s, within 3-4 s: {within:.0%}"
        )
    if gaps:
        within = sum(1 for g in gaps if 3.0 <= g <= 4.0) / len(gaps)
        lines.append(
            f"  poll gaps: median {statistics.median(gaps):.2f} s, p95 {percentile(gaps, 0.95):.2f}"
            f" s, max {max(gaps):.2f} s; within 3-4 s: {within:.0%} -> cadence "
            + ("held" if within >= 0.95 else "NOT held")
        )
    verdict = bool(delays) and percentile(delays, 0.95) < 5.0
    lines.append(f"  p95 under 5 s: {'yes' if verdict else 'no'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,500,1000")
    parser.add_argument("--max-wait", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    scratch = Path(tempfile.mkdtemp(prefix="entrada-bench-"))
    port = free_port()
    env = setup_environment(scratch, port)
    backend = "SQLite (ORM broker)"
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        backend = "PostgreSQL + " + (
            "Redis broker" if os.environ.get("REDIS_URL") else "ORM broker"
        )

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    from django.db import connection

    connection.close()

    web = start(
        [sys.executable, "-m", "gunicorn", "ticketing.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "8"],
        env, scratch / "web.log",
    )  # fmt: skip
    cluster = start([sys.executable, "manage.py", "qcluster"], env, scratch / "qcluster.log")
    rng = random.Random(args.seed)
    print(f"Polling bench on {backend}; scratch {scratch}; one qcluster (default settings)")
    try:
        wait_http(f"http://127.0.0.1:{port}/sandbox/wallet/")
        run_id = f"BENCH{int(time.time())}"
        for n in sizes:
            result = run_size(n, run_id, args.max_wait, rng)
            print(report(result, backend), flush=True)
    finally:
        stop(cluster)
        stop(web)


if __name__ == "__main__":
    main()
