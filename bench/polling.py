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

    python bench/polling.py --pinned             # poller and sandbox on separate cores

Pinned mode separates the poller's own cost from the gateway's: the sandbox runs as a site of
its own (its own database, payments.sandbox.site_urls) pinned with `taskset` to core 0, together
with this process (which creates the payments); ONE `manage.py qcluster` runs the pollers pinned
to core 1. For each shard count (--shards, default 1 and 2: PAYMENTS_POLLER_SHARDS) it searches
for the largest N that holds the cadence, within a time budget (--budget seconds for the whole
search), or tries the N given with --at. A trial: N barcode payments, half of them confirmed by
the buyer at a random 6..30 s after it was made, half never (cancelled at their deadline, set
once all N exist: 20 s later for the first, spread over the next 20 s in the order they were
made). It holds when, once all N exist, at least 95% of the poller's gaps
between two queries of a payment are within 3-4 s and the deadline cancels go out at most 1 s
late (p95). A payment's first gap runs from its pay, and a payment still unpaid at its deadline
adds the stretch from its last query to the deadline when that is already over 4 s: a payment
the poller never got to counts as late, not as nothing (a poller past its capacity serves the
nearest deadlines and lets the rest wait until they age, which gaps between queries alone never
show). Printed per trial: the poller's CPU time per gateway call (user + system time of
every qcluster process, read from /proc, over the calls the pollers sent), the cadence, the
cancel lateness, and the load average. Baselines measured in the same run: the idle cluster's
CPU per second, and the protocol client alone (sign, send, verify; no database) per query from
this process. --threads sets PAYMENTS_POLLER_THREADS: a poller keeps at most threads / latency
queries a second in flight, so with a slow gateway threads, not CPU, bound the cadence.

    python bench/polling.py --pinned --baseline main --at 100,500,1000,1500 --threads 64
    python bench/polling.py --pinned --gateway-latency 200 --threads 16 --at 150,300,450

--gateway-latency MS makes the sandbox hold every reply that long (SANDBOX_REPLY_LATENCY_MS), as
the network to Alipay does (about 200 ms cross-border), and gives it threads enough that the
hold, not its own threads, is what the poller waits for. Then a poller's threads bound its
cadence (threads / latency queries a second) long before its CPU does, and a second shard, with
threads of its own, adds their worth: what the trials with 1 and 2 shards show.

--baseline REV first measures the poller's CPU per query of the code at git revision REV and of
this tree in turns (REV, this tree, REV, this tree: the machine's load drifts over both alike),
on 300 fresh pending payments per turn that never confirm (every call a query that changes nothing):
the poller's own process (the busiest one of the cluster) and the whole cluster, per query.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from itertools import count, pairwise
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


def start(cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
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


# --- pinned mode: the poller on one core, the sandbox on the other -----------------------------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A trial's deadlines: the first this long after all N payments exist, the rest spread over the
# next SPREAD_SECONDS.
STEADY_SECONDS = 20
SPREAD_SECONDS = 20


def session_cpu(session_id: int) -> dict[int, float]:
    """User + system CPU seconds of each live process of a session, with what it reaped
    (children that exited: recycled django-q2 workers)."""
    seconds = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) != session_id:  # field 6 of stat: the session id
            continue
        # utime stime cutime cstime
        seconds[int(entry)] = sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
    return seconds


def session_cpu_seconds(session_id: int) -> float:
    return sum(session_cpu(session_id).values())


def load_average() -> str:
    return "load " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def pinned(cmd: list[str], core: int) -> list[str]:
    return ["taskset", "-c", str(core), *cmd]


def manage(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def protocol_baseline(calls: int = 200) -> float:
    """CPU ms per query of the protocol client alone (sign, HTTP, verify), in this thread."""
    from payments import alipay_client

    client = alipay_client.client()
    client.query(partner_trans_id="EBASELINE0")  # connect once
    started = time.thread_time()
    for i in range(calls):
        client.query(partner_trans_id=f"EBASELINE{i}")
    return (time.thread_time() - started) * 1000 / calls


def pinned_trial(n: int, run_id: str, cluster: subprocess.Popen, rng: random.Random) -> dict:
    from django.db import connection

    from payments import lifecycle
    from payments.models import GatewayExchange, Payment

    def create(i: int) -> int:
        seconds = rng.randint(6, 30)
        code = f"2800000000000003{seconds:02d}" if i % 2 else "280000000000000004"
        try:
            return lifecycle.create_barcode_payment(
                amount=Decimal("10.00"),
                currency="USD",
                description="Bench entry",
                buyer_code=code,
                reference=f"{run_id}-{n}-{i}",
                store_id="BENCH",
                terminal_id="BENCH-1",
                deadline_seconds=3600,  # set below, once all N exist
            ).pk
        finally:
            connection.close()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(n)))
    created_in = time.monotonic() - started
    from datetime import timedelta

    from payments import clock

    # The deadlines are set once all N exist, however long making them took (it grows with N
    # and with the machine's load): the first one STEADY_SECONDS later (the steady window: all N
    # pending, none at its deadline), the rest spread over the next SPREAD_SECONDS in the order
    # the payments were made, as a steady flow of payments would bring them.
    start = clock.now() + timedelta(seconds=STEADY_SECONDS)
    order = {pk: index for index, pk in enumerate(ids)}
    rows = list(Payment.objects.filter(pk__in=ids).only("pk"))
    for row in rows:
        row.deadline_at = start + timedelta(seconds=SPREAD_SECONDS * order[row.pk] / n)
    Payment.objects.bulk_update(rows, ["deadline_at"], batch_size=500)
    window_start = clock.now()
    # Buyers who confirmed while the rest were being made are paid already: what the poller
    # must keep up with is the pending ones, N / 3 queries a second only when none has paid.
    waiting = Payment.objects.filter(pk__in=ids, state__in=Payment.ACTIVE_STATES).count()
    cpu_start = session_cpu_seconds(cluster.pid)
    # Until the first deadline the pollers only query (and mark confirmed payments paid): the
    # steady window, whose CPU per call is the cost of a query.
    first_deadline = Payment.objects.filter(pk__in=ids).order_by("deadline_at")[0].deadline_at
    steady_cpu = None
    ends = time.monotonic() + STEADY_SECONDS + SPREAD_SECONDS + 30
    while (
        time.monotonic() < ends
        and Payment.objects.filter(pk__in=ids, state__in=Payment.ACTIVE_STATES).exists()
    ):
        if steady_cpu is None and clock.now() >= first_deadline:
            steady_cpu = session_cpu_seconds(cluster.pid) - cpu_start
        time.sleep(0.5)
    cpu = session_cpu_seconds(cluster.pid) - cpu_start
    window_end = clock.now()
    deadlines = dict(Payment.objects.filter(pk__in=ids).values_list("pk", "deadline_at"))
    rows = list(
        GatewayExchange.objects.filter(payment_id__in=ids, actor__startswith="system:")
        .order_by("created_at")
        .values_list("payment_id", "service", "created_at", "actor")
    )
    sent = [at for _pk, _service, at, actor in rows if actor != "system:pay"]
    calls = sum(1 for at in sent if window_start <= at <= window_end)
    steady_calls = sum(1 for at in sent if window_start <= at < first_deadline)
    polls: dict[int, list] = {}
    lateness = []
    for pk, service, at, actor in rows:
        if actor == "system:pay":
            polls.setdefault(pk, [at])  # its first pay: where its first gap starts
        elif service.endswith("query"):
            polls.setdefault(pk, []).append(at)
        elif service.endswith("cancel"):
            lateness.append((at - deadlines[pk]).total_seconds())
    final = dict(Payment.objects.filter(pk__in=ids).values_list("pk", "state"))
    states: dict[str, int] = {}
    for state in final.values():
        states[state] = states.get(state, 0) + 1
    gaps = []
    for pk, times in polls.items():
        before = [at for at in times if at < deadlines[pk]]
        gaps += [(b - a).total_seconds() for a, b in pairwise(before) if b >= window_start]
        # The last stretch ends early, at the deadline: counted only when already too long.
        if before and final[pk] != Payment.State.PAID:
            tail = (deadlines[pk] - max(before[-1], window_start)).total_seconds()
            if tail > 4.0:
                gaps.append(tail)
    within = sum(1 for g in gaps if 3.0 <= g <= 4.0) / len(gaps) if gaps else 0.0
    late_p95 = percentile(lateness, 0.95) if lateness else float("inf")
    return {
        "n": n, "created_in": created_in, "states": states, "cpu": cpu, "calls": calls,
        "steady_cpu": steady_cpu, "steady_calls": steady_calls,
        "waiting": waiting,
        "steady_rate": steady_calls / max((first_deadline - window_start).total_seconds(), 1e-3),
        "gaps": gaps, "within": within, "lateness": lateness, "late_p95": late_p95,
        "held": within >= 0.95 and late_p95 <= 1.0 and set(states) <= {"paid", "cancelled"},
        "load": load_average(),
    }  # fmt: skip


def pinned_report(t: dict) -> str:
    per_call = t["cpu"] * 1000 / t["calls"] if t["calls"] else float("nan")
    steady = (
        f"{t['steady_cpu'] * 1000 / t['steady_calls']:.2f} ms per query before the first deadline"
        f" ({t['steady_calls']} calls: {t['steady_rate']:.0f} a second for the"
        f" {t['waiting']} pending, {t['waiting'] / 3:.0f} needed), "
        if t["steady_cpu"] is not None and t["steady_calls"]
        else ""
    )
    gaps = t["gaps"]
    gap_text = (
        f"gaps median {statistics.median(gaps):.2f} s, p95 {percentile(gaps, 0.95):.2f} s, "
        f"within 3-4 s {t['within']:.0%}"
        if gaps
        else "no gaps"
    )
    late = t["lateness"]
    late_text = (
        f"cancel after deadline p95 {t['late_p95']:.2f} s, max {max(late):.2f} s"
        if late
        else "no cancel"
    )
    return (
        f"  N={t['n']}: {'HELD' if t['held'] else 'not held'}; poller CPU {steady}"
        f"{per_call:.2f} ms per call overall ({t['calls']} calls, {t['cpu']:.1f} s CPU); "
        f"{gap_text}; {late_text}; created in "
        f"{t['created_in']:.1f} s; {t['states']}; {t['load']}"
    )  # fmt: skip


def export_tree(rev: str, into: Path) -> Path:
    """The project's files as they were at `rev` (git archive): the baseline's code, run by the
    same virtualenv against the same sandbox and database."""
    into.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def free_poller() -> None:
    """Forget the stopped cluster's poller leases and queued-kick marker (this bench's own
    database): the next cluster starts polling at once instead of waiting for them to expire."""
    from payments.models import WorkerLease

    WorkerLease.objects.all().delete()


def cpu_comparison(variants: list[tuple[str, Path]], cluster_env, scratch: Path, args) -> dict:
    """Poller CPU per query of each variant (label, project tree) on N fresh pending
    payments, in turns (A, B, A, B, ...) so that the machine's load drifts over both alike.

    The payments never confirm and their deadline is far: every call in the window is a query
    that changes nothing, the poller's steady work. Each turn starts the variant's qcluster
    (pinned to core 1), wakes the poller, lets it catch up for --cpu-warmup s, then counts the
    cluster's CPU (every process of it) and the queries it sent over --cpu-window s.
    """
    from django.db import connection

    from payments import clock, lifecycle
    from payments.models import GatewayExchange, Payment
    from payments.wakeup import kick_poller

    def create(i: int) -> int:
        try:
            return lifecycle.create_barcode_payment(
                amount=Decimal("10.00"), currency="USD", description="Bench entry",
                buyer_code="280000000000000004", reference=f"CPU-{i}", store_id="BENCH",
                terminal_id="BENCH-1", deadline_seconds=3600,
            ).pk  # fmt: skip
        finally:
            connection.close()

    def retire(ids: list[int]) -> None:
        # The turn's rows, out of the way of the next turn and of the capacity trials.
        Payment.objects.filter(pk__in=ids).update(
            state=Payment.State.CANCELLED, next_action_at=None
        )

    serial = count()
    turns: dict[str, list[tuple[float, int]]] = {label: [] for label, _ in variants}
    for turn in range(args.cpu_rounds):
        for label, tree in variants:
            # Fresh payments each turn: the sandbox closes an unconfirmed trade after 3 minutes,
            # and a turn that met those closings would measure transitions, not queries.
            with ThreadPoolExecutor(max_workers=8) as pool:
                ids = list(pool.map(create, [next(serial) for _ in range(args.cpu_n)]))
            free_poller()
            cluster = start(pinned([sys.executable, "manage.py", "qcluster"], 1), cluster_env,
                            scratch / f"qcluster-cpu-{label}.log", cwd=tree)  # fmt: skip
            try:
                time.sleep(4)  # started
                kick_poller()
                time.sleep(args.cpu_warmup)
                begins, cpu_start = clock.now(), session_cpu(cluster.pid)
                time.sleep(args.cpu_window)
                cpu_end = session_cpu(cluster.pid)
                ends = clock.now()
                spent = {pid: cpu_end[pid] - cpu_start.get(pid, 0.0) for pid in cpu_end}
                cpu = sum(spent.values())
                # The poller runs in one worker process: the busiest one over the window.
                own = max(spent.values())
            finally:
                stop(cluster)
                retire(ids)
                free_poller()
            calls = GatewayExchange.objects.filter(
                payment_id__in=ids, actor="system:poller", created_at__gte=begins,
                created_at__lt=ends,
            ).count()  # fmt: skip
            turns[label].append((own, cpu, calls))
            calls = calls or 1
            print(f"  turn {turn + 1} {label}: poller {own * 1000 / calls:.2f} ms CPU per "
                  f"query, whole cluster {cpu * 1000 / calls:.2f} ms ({calls} queries in "
                  f"{args.cpu_window:.0f} s, {calls / args.cpu_window:.0f}/s, cadence needs "
                  f"{args.cpu_n / 3:.0f}/s); {load_average()}", flush=True)  # fmt: skip
    summary = {}
    for label, results in turns.items():
        calls = max(1, sum(q for _, _, q in results))
        summary[label] = (
            sum(o for o, _, _ in results) * 1000 / calls,
            sum(c for _, c, _ in results) * 1000 / calls,
        )
    return summary


def search_capacity(trial, start: int, budget: float) -> tuple[int, list[dict]]:
    """The largest N that held: doubling from `start`, then halving the gap, within `budget`
    seconds (a trial is not started when the last one's duration would overrun it)."""
    ends = time.monotonic() + budget
    best, worst, n, trials, last = 0, None, start, [], 0.0
    while time.monotonic() + last < ends and n > 0:
        began = time.monotonic()
        result = trial(n)
        last = time.monotonic() - began
        trials.append(result)
        print(pinned_report(result), flush=True)
        if result["held"]:
            best = n
        else:
            worst = n
        if worst is None:
            n *= 2
        elif worst - best <= max(50, best // 8):
            break
        else:
            n = (best + worst) // 2 if best else worst // 2
    return best, trials


def run_pinned(args) -> None:
    from django.conf import settings

    scratch = Path(tempfile.mkdtemp(prefix="entrada-bench-pinned-"))
    (scratch / "entrada").mkdir()
    (scratch / "sandbox").mkdir()
    port = free_port()
    # Production settings (DEBUG off): with DEBUG on, Django keeps every SQL statement and, on
    # SQLite, quotes its parameters with one more query each, which would be measured as ours.
    common = {
        "ALIPAY_KEY_DIR": str(scratch / "keys"), "LOG_LEVEL": "WARNING", "DEBUG": "0",
        "SECRET_KEY": "bench-" + secrets.token_hex(24), "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0", "SECURE_COOKIES": "0",
        "ALIPAY_SANDBOX": "1",
    }  # fmt: skip
    sandbox_env = {
        **os.environ,
        **common,
        "ENTRADA_VAR_DIR": str(scratch / "sandbox"),
        "ENTRADA_ROOT_URLCONF": "payments.sandbox.site_urls",
        "ALIPAY_SANDBOX": "1",
        # The sandbox refuses a notify_url off its own site unless listed: the pays name the
        # closed port the notifications are meant to miss.
        "SANDBOX_NOTIFY_HOSTS": "127.0.0.1:9",
        "SANDBOX_REPLY_LATENCY_MS": str(args.gateway_latency),
    }
    sandbox_env.pop("DATABASE_URL", None)  # the gateway's tables are not ours: its own SQLite
    os.environ.update(common)
    env = setup_environment(scratch / "entrada", port)
    manage(["migrate"], sandbox_env)
    manage(["load_demo"], sandbox_env)  # the demo merchant and keys, in the gateway's database
    os.sched_setaffinity(0, {0})  # payment creation shares the gateway's core, not the poller's
    backend = "SQLite (ORM broker)"
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        backend = "PostgreSQL + " + ("Redis broker" if os.environ.get("REDIS_URL") else "ORM")

    import django

    settings.DATABASES  # noqa: B018  (load the settings before adding the gateway's database)
    settings.DATABASES["sandbox"] = {
        "ENGINE": "django.db.backends.sqlite3", "NAME": scratch / "sandbox" / "entrada.sqlite3",
    }  # fmt: skip
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    connection.close()
    gateway = start(
        pinned([sys.executable, "-m", "gunicorn", "ticketing.wsgi", "--bind",
                f"127.0.0.1:{port}", "--workers", "2", "--threads",
                str(8 if not args.gateway_latency else 128)], 0),
        sandbox_env, scratch / "sandbox.log",
    )  # fmt: skip
    print(f"Polling bench, pinned: sandbox and this process on core 0, qcluster on core 1 "
          f"(POLLER_THREADS {args.threads or 'default'}; gateway replies held "
          f"{args.gateway_latency:.0f} ms); "
          f"{backend}; scratch {scratch}; {load_average()}")  # fmt: skip
    rng = random.Random(args.seed)
    summary = []
    try:
        wait_http(f"http://127.0.0.1:{port}/sandbox/wallet/")
        print(f"baseline: protocol client alone {protocol_baseline():.2f} ms CPU per query "
              f"(sign, HTTP, verify; no database)")  # fmt: skip
        threads = {"PAYMENTS_POLLER_THREADS": str(args.threads)} if args.threads else {}
        cluster_env = {**env, **threads, "PAYMENTS_POLLER_SHARDS": "1", "LOG_LEVEL": "CRITICAL"}
        if args.baseline:
            variants = [(f"baseline {args.baseline}", export_tree(args.baseline, scratch / "baseline")),
                        ("this tree", ROOT)]  # fmt: skip
            print(f"Poller CPU per query, {args.cpu_n} pending payments, 1 poller, in turns:")
            cpu = cpu_comparison(variants, cluster_env, scratch, args)
            for label, (own, whole) in cpu.items():
                print(f"Poller CPU per query, all turns, {label}: {own:.2f} ms (the poller's "
                      f"process), {whole:.2f} ms (the whole cluster)", flush=True)  # fmt: skip
        for shards in [int(s) for s in args.shards.split(",") if s]:
            # CRITICAL: each paid bench payment has no order, which ticketing logs as an ERROR, and
            # Django's mail handler renders a full error report for each (ADMINS empty or not):
            # ~10 ms of the poller's CPU per paid payment that a real site does not spend.
            cluster_env = {**env, **threads, "PAYMENTS_POLLER_SHARDS": str(shards),
                           "LOG_LEVEL": "CRITICAL"}  # fmt: skip
            cluster = start(pinned([sys.executable, "manage.py", "qcluster"], 1), cluster_env,
                            scratch / f"qcluster-{shards}.log")  # fmt: skip
            try:
                time.sleep(5)  # started and idle
                idle_start = session_cpu_seconds(cluster.pid)
                time.sleep(5)
                idle = (session_cpu_seconds(cluster.pid) - idle_start) / 5
                print(f"POLLER_SHARDS={shards}: idle cluster {idle * 1000:.0f} ms CPU per s")
                run_id = f"PIN{shards}{int(time.time())}"
                trial = partial(pinned_trial, run_id=run_id, cluster=cluster, rng=rng)
                if args.sizes_pinned:
                    trials = []
                    for n in [int(v) for v in args.sizes_pinned.split(",")]:
                        trials.append(trial(n))
                        print(pinned_report(trials[-1]), flush=True)
                    best = max((t["n"] for t in trials if t["held"]), default=0)
                else:
                    best, trials = search_capacity(trial, args.start, args.budget)
                summary.append((shards, best, trials))
                print(f"POLLER_SHARDS={shards}: largest N holding the cadence: {best}", flush=True)
            finally:
                stop(cluster)
    finally:
        stop(gateway)
    print("Summary (" + backend + "):")
    for shards, best, trials in summary:
        cpu = sum(t["cpu"] for t in trials) * 1000 / max(1, sum(t["calls"] for t in trials))
        steady = [t for t in trials if t["steady_cpu"] is not None and t["steady_calls"]]
        query = sum(t["steady_cpu"] for t in steady) * 1000
        query /= max(1, sum(t["steady_calls"] for t in steady))
        print(f"  {shards} poller(s): largest N held {best}; poller CPU {query:.2f} ms per query "
              f"(steady windows), {cpu:.2f} ms per call overall; {len(trials)} trials")  # fmt: skip
    print(f"  {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,500,1000")
    parser.add_argument("--max-wait", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pinned", action="store_true", help="sandbox and poller on own cores")
    parser.add_argument("--shards", default="1,2", help="pinned: POLLER_SHARDS values to try")
    parser.add_argument("--start", type=int, default=300, help="pinned: first N of the search")
    parser.add_argument("--budget", type=float, default=240.0, help="pinned: s per shard count")
    parser.add_argument(
        "--at",
        dest="sizes_pinned",
        default="",
        help="pinned: these N (e.g. 100,500,1000,1500) instead of the search",
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="pinned: a git revision whose poller CPU per query is measured in "
        "turns with this tree's, first (e.g. main)",
    )
    parser.add_argument(
        "--gateway-latency",
        type=float,
        default=0.0,
        help="pinned: ms the sandbox holds each reply, as the network to Alipay (about 200)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="pinned: PAYMENTS_POLLER_THREADS of the cluster (default: the site's)",
    )
    parser.add_argument("--cpu-n", type=int, default=300, help="pinned: payments per CPU turn")
    parser.add_argument("--cpu-rounds", type=int, default=2, help="pinned: turns per variant")
    parser.add_argument("--cpu-window", type=float, default=20.0, help="pinned: s per turn")
    parser.add_argument("--cpu-warmup", type=float, default=6.0, help="pinned: s before each")
    args = parser.parse_args()
    if args.pinned:
        run_pinned(args)
        return
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
