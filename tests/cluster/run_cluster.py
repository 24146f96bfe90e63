"""Cluster test: two web nodes and two task nodes on PostgreSQL and Redis behind a real nginx.

    make cluster-test            # or: .venv/bin/python tests/cluster/run_cluster.py

Everything runs on 127.0.0.1 with its own pieces, never the machine's: a database of its own
(`entrada_cluster`, dropped at the end) on the PostgreSQL at 127.0.0.1:5432, its own
redis-server on a free port, and nginx started from a configuration in a scratch directory on a
high port, including deploy/nginx/entrada-proxy.conf. The web nodes are gunicorn with
deploy/gunicorn.conf.py; the task nodes `manage.py qcluster`. The Alipay sandbox is served by the
site itself, reached through nginx like the rest, so a killed web node also cuts gateway calls.

What happens, in parallel:
- a booking race: 300 attempts at 100 places, through the public booking API;
- 200 barcode payments through the partner API whose buyers must confirm with a PIN: half
  confirm 5-40 s after the pay reaches the sandbox (paid when that is before the deadline), half
  never do (so they are cancelled at their deadline);
- a reader that looks at those payments while everything else goes on;
- and, a few seconds in: SIGKILL of one web node, SIGKILL of one task node, and one restart of
  Redis (its queue and cache are lost: it keeps nothing on disk).

Clients retry what a client may retry (a refused or dropped connection, 502/503/504 from nginx,
409 `idempotency_in_progress`) with the same Idempotency-Key, a bounded number of times. Asserted:
every answer is one of those or a right one (no 500, no state a payment cannot be in: a
confirming buyer's payment is cancelled only past its deadline, when the pay reached the sandbox
late enough for the confirmation to miss it); zero
oversell (`manage.py check_capacity`, and no more places taken than the slot has); every payment
final within its deadline plus one sweep; the sandbox holds exactly one trade per payment, each
paid or closed as its buyer did, never charged twice. Exit status 1 on any failure; 0 with a
message, skipping, when nginx is not installed (`make system-deps` installs it).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "entrada_cluster"
POSTGRES = os.environ.get("CLUSTER_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DEADLINE_SECONDS = 60
# A payment is final at the latest when the sweep after its deadline has run: the sweeper runs
# every minute and, when the poller's lease was held by a killed node, first waits for it to
# expire (LEASE_SECONDS, 15 s) and runs the cancel; 30 s more for a loaded 2-core machine.
SWEEP_BOUND_SECONDS = 60 + 15 + 30
PAYMENTS = 200
RACE_PLACES = 100
RACE_ATTEMPTS = 300
# A request met by a node's death leaves its Idempotency-Key "in progress" until it is stale;
# a retry then takes it over. Stale after 20 s here (production: 120 s), so a client keeps
# retrying for up to RETRY_SECONDS, at most RETRIES times, each 0.2-1 s apart.
IDEMPOTENCY_STALE_SECONDS = 20
RETRY_SECONDS = 60
RETRIES = 200
WHOLE_RUN_SECONDS = 480  # well under CI's 10 minutes, setup included
RETRYABLE_STATUSES = {502, 503, 504}
# What a payment may be while its buyer has not yet confirmed, and what it may end as.
# `created`: the node that sent the pay died before recording Alipay's answer, and a retry that
# took the key over answers with the payment as it stands; the poller takes it from there.
MAY_BE = {
    "confirms": {"created", "pending", "paid"},
    "never": {"created", "pending", "cancelling", "cancelled"},
}
# ...and once its deadline has passed, a confirming buyer's payment may be cancelled too: a pay that
# reached the sandbox late (its node killed first, say, and the poller sending it later) can have
# its buyer confirm after the deadline (check_results holds each such cancel against the trade).
PAST_DEADLINE_MAY_BE = {"cancelling", "cancelled"}

started_at = time.monotonic()


def allowed(kind: str, body: dict) -> bool:
    """Whether a payment answered as `body` is in a state its buyer allows at this moment.

    A payment's deadline is its created_at plus DEADLINE_SECONDS (payments.paying), and the nodes
    share this machine's clock: an answer read before that moment may never be a cancel.
    """
    state = body.get("state")
    if state in MAY_BE[kind]:
        return True
    created = datetime.fromisoformat(body["created_at"]).timestamp()
    return state in PAST_DEADLINE_MAY_BE and time.time() >= created + DEADLINE_SECONDS


def log(message: str) -> None:
    print(f"[{time.monotonic() - started_at:6.1f}s] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )


class Failures:
    """Every wrong thing seen, reported together at the end."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.lock = threading.Lock()

    def add(self, what: str) -> None:
        with self.lock:
            if len(self.items) < 200:
                self.items.append(what)


class Processes:
    """Children in their own process groups, so a node is killed with its workers."""

    def __init__(self, scratch: Path, env: dict[str, str]) -> None:
        self.scratch, self.env = scratch, env
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        logfile = open(self.scratch / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.running[name] = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def check_alive(self, name: str) -> bool:
        if self.running[name].poll() is not None:
            log_tail = (self.scratch / f"{name}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited:\n{log_tail}")
        return True

    def stop_all(self) -> None:
        for name in list(self.running):
            self.kill(name, signal.SIGTERM)


def manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def django_json(env: dict[str, str], code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if out.returncode != 0:
        raise RuntimeError(f"django script failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", POSTGRES + "/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )


SETUP = """
import datetime as dt, json
from decimal import Decimal
from payments import clock
from payments.models import Payment
from payments.sandbox.models import SandboxTrade
from ticketing.models import Attraction, TicketType, TimeSlot
a = Attraction.objects.create(slug="cluster", name="Cluster", timezone="Asia/Shanghai",
                              currency="CNY")
adult = TicketType.objects.create(attraction=a, code="adult", name="Adult", price=Decimal("80"))
start = (clock.now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
slot = TimeSlot.objects.create(attraction=a, starts_at=start, ends_at=start + dt.timedelta(hours=1),
                               local_date=start.astimezone(a.tz).date(), capacity=PLACES)
# load_demo's reconciled day made payments and trades of its own: only what follows counts.
print(json.dumps({"slug": a.slug, "adult": adult.pk, "slot": slot.pk,
                  "payments_before": Payment.objects.count(),
                  "trades_before": SandboxTrade.objects.count()}))
""".replace("PLACES", str(RACE_PLACES))

RESULTS = """
import json, sys
from django.db.models import Count
from payments.models import Payment, PaymentEvent
from payments.sandbox.models import SandboxTrade
from ticketing.models import Order, TimeSlot
ids = json.loads(sys.argv[1])
slot = TimeSlot.objects.get(pk=int(sys.argv[2]))
payments = {str(p.uuid): p for p in Payment.objects.filter(uuid__in=ids)}
final_at, history = {}, {}
for event in PaymentEvent.objects.filter(payment__uuid__in=ids, refund=None).order_by("at"):
    final_at[event.payment_id] = event.at
    history.setdefault(event.payment_id, []).append(
        f"{event.at:%H:%M:%S} {event.to_state} {event.actor} {event.note}")
trades = {}
for t in SandboxTrade.objects.filter(
        partner_trans_id__in=[p.partner_trans_id for p in payments.values()]):
    trades.setdefault(t.partner_trans_id, []).append(
        {"state": t.state, "paid": t.paid_at is not None, "refunded": str(t.refunded_amount),
         "pay_calls": t.pay_calls, "created": f"{t.created_at:%H:%M:%S}",
         "confirm_at": t.confirm_at.timestamp() if t.confirm_at else None})
taking = Order.objects.filter(slot=slot).exclude(state__in=["cancelled", "expired", "refunded"])
print(json.dumps({
    "payments": {
        key: {"state": p.state, "deadline": p.deadline_at.timestamp(),
              "final": final_at[p.pk].timestamp() if p.pk in final_at else None,
              "trades": trades.get(p.partner_trans_id, []), "history": history.get(p.pk, [])}
        for key, p in payments.items()},
    "payment_count": Payment.objects.count(),
    "trade_count": SandboxTrade.objects.count(),
    "slot": {"capacity": slot.capacity, "held": slot.held, "sold": slot.sold},
    "orders_taking_places": taking.count(),
}))
"""


def request(
    failures: Failures,
    what: str,
    method: str,
    url: str,
    ok: set[int],
    stop_at: float,
    **kwargs,
) -> requests.Response | None:
    """One request with a client's retries; any answer outside `ok` and the retryable is wrong."""
    session = kwargs.pop("session")
    give_up = min(stop_at, time.monotonic() + RETRY_SECONDS)
    for _ in range(RETRIES):
        if time.monotonic() > give_up:
            break
        try:
            response = session.request(method, url, timeout=40, **kwargs)
        except requests.ConnectionError:
            time.sleep(random.uniform(0.2, 1.0))
            continue
        except requests.Timeout:
            failures.add(f"{what}: no answer within 40 s")
            return None
        retry = response.status_code in RETRYABLE_STATUSES or (
            response.status_code == 409 and _code(response) == "idempotency_in_progress"
        )
        if retry:
            time.sleep(random.uniform(0.2, 1.0))
            continue
        if response.status_code not in ok:
            failures.add(f"{what}: {response.status_code} {response.text[:200]}")
            return None
        return response
    failures.add(f"{what}: no answer but retry within {RETRY_SECONDS} s or {RETRIES} tries")
    return None


def _code(response: requests.Response) -> str:
    try:
        return response.json().get("code", "")
    except ValueError:
        return ""


def booking_race(base: str, world: dict, failures: Failures, stop_at: float) -> Counter:
    outcomes: Counter = Counter()
    lock = threading.Lock()

    begin = time.monotonic()

    def attempt(index: int) -> None:
        # Spread over ~15 s so the kills land in the middle of the race.
        time.sleep(max(0.0, begin + index * 0.05 - time.monotonic()))
        body = {
            "attraction": world["slug"],
            "slot": world["slot"],
            "quantities": [{"ticket_type": world["adult"], "quantity": 1}],
            "buyer_name": f"Racer {index}",
            "email": f"racer{index}@example.com",
            "language": "en",
        }
        response = request(
            failures,
            f"order {index}",
            "POST",
            f"{base}/api/v1/orders/",
            {201, 409},
            stop_at,
            session=sessions.get(),
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if response is None:
            outcome = "failed"
        elif response.status_code == 201:
            outcome = "booked"
        elif _code(response) == "sold_out":
            outcome = "sold_out"
        else:
            failures.add(f"order {index}: 409 {response.text[:200]}")
            outcome = "wrong"
        with lock:
            outcomes[outcome] += 1

    sessions = _Sessions()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(attempt, range(RACE_ATTEMPTS)))
    return outcomes


class _Sessions(threading.local):
    def get(self) -> requests.Session:
        if not hasattr(self, "session"):
            self.session = requests.Session()
        return self.session


def take_payments(
    base: str,
    token: str,
    failures: Failures,
    stop_at: float,
    created: dict[str, tuple[str, float]],
) -> None:
    """200 PIN payments, recorded in `created` as {payment id: (buyer kind, when created)}."""
    lock = threading.Lock()
    sessions = _Sessions()

    begin = time.monotonic()

    def one(index: int) -> None:
        time.sleep(max(0.0, begin + index * 0.1 - time.monotonic()))  # 200 over ~20 s
        kind = "confirms" if index % 2 == 0 else "never"
        code = (
            f"2800000000000003{random.randint(5, 40):02d}"
            if kind == "confirms"
            else ("280000000000000004")
        )
        response = request(
            failures,
            f"payment {index}",
            "POST",
            f"{base}/api/v1/payments/",
            {201},
            stop_at,
            session=sessions.get(),
            json={
                "amount": "10.00",
                "currency": "USD",
                "description": "Cluster entry",
                "buyer_code": code,
                "reference": f"CLUSTER-{index}",
            },
            headers={"Authorization": f"Token {token}", "Idempotency-Key": f"cluster-{index}"},
        )
        if response is None:
            return
        body = response.json()
        # A retry that took over the key of a request a killed node dropped answers with the
        # payment as it stands by then: a buyer who confirmed meanwhile has paid.
        if not allowed(kind, body):
            failures.add(f"payment {index} ({kind}) answered {body.get('state')}")
        with lock:
            created[body["id"]] = (kind, time.time())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(PAYMENTS)))


def read_payments(
    base: str,
    token: str,
    created: dict[str, tuple[str, float]],
    failures: Failures,
    until: threading.Event,
    stop_at: float,
) -> int:
    """Look at payments while the rest runs: every answer must be a state the buyer allows."""
    session = requests.Session()
    reads = 0
    while not until.is_set() and time.monotonic() < stop_at and reads < 2000:
        if not created:
            time.sleep(0.2)
            continue
        payment_id, (kind, _) = random.choice(list(created.copy().items()))
        response = request(
            failures,
            f"read {payment_id}",
            "GET",
            f"{base}/api/v1/payments/{payment_id}/",
            {200},
            stop_at,
            session=session,
            headers={"Authorization": f"Token {token}"},
        )
        reads += 1
        if response is not None and not allowed(kind, response.json()):
            failures.add(f"read {payment_id} ({kind}): state {response.json().get('state')}")
        time.sleep(0.05)
    return reads


def nginx_config(scratch: Path, port: int, upstreams: list[int], static_root: Path) -> Path:
    conf_dir = scratch / "nginx"
    for sub in ("logs", "tmp"):
        (conf_dir / sub).mkdir(parents=True, exist_ok=True)
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams
    )
    snippet = ROOT / "deploy" / "nginx" / "entrada-proxy.conf"
    conf = conf_dir / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {conf_dir}/nginx.pid;
error_log {conf_dir}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {conf_dir}/logs/access.log;
    client_body_temp_path {conf_dir}/tmp/body;
    proxy_temp_path {conf_dir}/tmp/proxy;
    fastcgi_temp_path {conf_dir}/tmp/fastcgi;
    uwsgi_temp_path {conf_dir}/tmp/uwsgi;
    scgi_temp_path {conf_dir}/tmp/scgi;
    types {{ text/css css; application/javascript js; image/svg+xml svg; }}
    upstream entrada {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name 127.0.0.1;
        location /static/ {{ alias {static_root}/; expires 1y; }}
        location / {{ include {snippet}; }}
    }}
}}
""")
    return conf


def wait_until(what: str, predicate, timeout: float) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            if predicate():
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"not within {timeout} s: {what}")


def main() -> int:
    nginx = nginx_binary()
    if nginx is None:
        print(
            "cluster test skipped: nginx is not installed (Debian package nginx: make system-deps)"
        )
        return 0
    for tool in ("redis-server", "psql"):
        if shutil.which(tool) is None:
            print(f"cluster test failed: {tool} not found")
            return 1
    scratch = Path(tempfile.mkdtemp(prefix="entrada-cluster-"))
    # nginx's workers run as an unprivileged user when started by root: they must read static.
    scratch.chmod(0o755)
    var_dir = scratch / "var"
    var_dir.mkdir()
    redis_port, nginx_port = free_port(), free_port()
    web_ports = [free_port(), free_port()]
    base = f"http://127.0.0.1:{nginx_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ENTRADA_VAR_DIR": str(var_dir),
        "DEBUG": "0",
        "SECRET_KEY": "cluster-test-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1",
        "ALIPAY_SANDBOX": "1",
        # Plain HTTP on a high port: TLS is nginx's business and not what is tested here.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_COOKIES": "0",
        "TRUSTED_PROXIES": "1",
        "ALIPAY_GATEWAY_URL": f"{base}/sandbox/gateway.do",
        "ENTRADA_PUBLIC_URL": base,
        "PAYMENTS_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
        "PAYMENTS_IDEMPOTENCY_STALE_SECONDS": str(IDEMPOTENCY_STALE_SECONDS),
        # One client address makes all the traffic: per-address limits would refuse it.
        "PARTNER_API_RATE": "100000/min",
        "TICKETING_API_ORDER_RATE": "",
        "TICKETING_API_READ_RATE": "",
        "TICKETING_API_LOOKUP_RATE": "",
        "TICKETING_HOLDS_PER_ADDRESS": "0",
        "Q_WORKERS": "3",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESSLOG": "",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("ADMINS", None)
    processes = Processes(scratch, env)
    redis_command = [
        "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", str(scratch),
    ]  # fmt: skip
    failures = Failures()
    log(f"scratch {scratch}; nginx :{nginx_port}, web :{web_ports}, redis :{redis_port}")
    psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    psql(f"CREATE DATABASE {DATABASE}")
    try:
        processes.start("redis", redis_command)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "load_demo")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        token = manage(env, "create_terminal", "CLUSTER", "POS-1").strip().split()[-1]
        world = django_json(env, SETUP)
        for index, port in enumerate(web_ports, 1):
            processes.start(
                f"web{index}",
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"],
                {"GUNICORN_BIND": f"127.0.0.1:{port}"},
            )
        for index in (1, 2):
            processes.start(f"worker{index}", [sys.executable, "manage.py", "qcluster"])
        conf = nginx_config(scratch, nginx_port, web_ports, var_dir / "staticfiles")
        processes.start("nginx", [nginx, "-p", str(conf.parent), "-c", str(conf), "-g",
                                  "daemon off;"])  # fmt: skip
        for index, port in enumerate(web_ports, 1):
            wait_until(
                f"web node :{port}",
                lambda p=port, i=index: (
                    processes.check_alive(f"web{i}")
                    and requests.get(f"http://127.0.0.1:{p}/sandbox/wallet/", timeout=5).status_code
                    == 200
                ),
                90,
            )
        wait_until("nginx", lambda: requests.get(f"{base}/api/v1/attractions/", timeout=5).ok, 30)
        static = requests.get(f"{base}/api/docs/", timeout=10)
        if static.status_code != 200:
            failures.add(f"API docs through nginx: {static.status_code}")
        log("cluster up: 2 web nodes, 2 task nodes, nginx, redis")

        stop_at = time.monotonic() + WHOLE_RUN_SECONDS - (time.monotonic() - started_at) - 60
        created: dict[str, tuple[str, float]] = {}
        done = threading.Event()
        chaos_log: list[str] = []

        def chaos() -> None:
            time.sleep(5)
            processes.kill("web1")
            chaos_log.append("SIGKILL web1")
            log("SIGKILL web node 1 (gunicorn master and workers)")
            time.sleep(3)
            processes.kill("worker1")
            chaos_log.append("SIGKILL worker1")
            log("SIGKILL task node 1 (qcluster and its workers)")
            time.sleep(4)
            processes.kill("redis", signal.SIGTERM)
            processes.start("redis", redis_command)
            chaos_log.append("redis restarted")
            log("Redis restarted (queue and cache lost)")

        with ThreadPoolExecutor(max_workers=4) as pool:
            chaos_done = pool.submit(chaos)
            race = pool.submit(booking_race, base, world, failures, stop_at)
            paying = pool.submit(take_payments, base, token, failures, stop_at, created)
            reader = pool.submit(read_payments, base, token, created, failures, done, stop_at)
            paying.result()
            race_outcomes = race.result()
            chaos_done.result()
            log(f"race: {dict(race_outcomes)}; payments created: {len(created)}")
            # Every payment's outcome is due by its deadline plus one sweep.
            latest = max((at for _, at in created.values()), default=time.time())
            wait_end = latest + DEADLINE_SECONDS + SWEEP_BOUND_SECONDS
            while time.time() < wait_end and time.monotonic() < stop_at:
                if not pending_left(env, list(created)):
                    break
                time.sleep(3)
            done.set()
            reads = reader.result()
        log(f"reads during the run: {reads}; chaos: {chaos_log}")

        capacity = subprocess.run(
            [sys.executable, "manage.py", "check_capacity"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if capacity.returncode != 0:
            failures.add(f"check_capacity: {capacity.stdout} {capacity.stderr}")
        check_results(env, world, created, race_outcomes, failures)
    finally:
        processes.stop_all()
        try:
            psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        except subprocess.CalledProcessError as exc:
            print(f"could not drop {DATABASE}: {exc.stderr}")
    if failures.items:
        print(f"CLUSTER TEST FAILED ({len(failures.items)}); logs in {scratch}")
        for item in failures.items:
            print("  -", item)
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    log("cluster test passed")
    return 0


PENDING = """
import json, sys
from payments.models import Payment
ids = json.loads(sys.argv[1])
print(json.dumps({"left": Payment.objects.filter(
    uuid__in=ids, state__in=Payment.ACTIVE_STATES).count()}))
"""


def pending_left(env: dict[str, str], ids: list[str]) -> int:
    left = django_json(env, PENDING, json.dumps(ids))["left"]
    log(f"payments not yet final: {left}")
    return left


def check_results(
    env: dict[str, str],
    world: dict,
    created: dict[str, tuple[str, float]],
    race: Counter,
    failures: Failures,
) -> None:
    if len(created) != PAYMENTS:
        failures.add(f"{len(created)} payments created, not {PAYMENTS}")
    if race["booked"] + race["sold_out"] != RACE_ATTEMPTS:
        failures.add(f"race: {dict(race)}")
    result = django_json(env, RESULTS, json.dumps(list(created)), str(world["slot"]))
    slot = result["slot"]
    if slot["held"] + slot["sold"] > slot["capacity"]:
        failures.add(f"oversold: {slot}")
    if result["orders_taking_places"] > slot["capacity"]:
        failures.add(f"{result['orders_taking_places']} orders hold places of {slot['capacity']}")
    if race["booked"] != min(RACE_PLACES, RACE_ATTEMPTS):
        failures.add(f"race booked {race['booked']} of {RACE_PLACES} places")
    # Only these payments were made: one sandbox trade and one Payment per Idempotency-Key.
    made = result["payment_count"] - world["payments_before"]
    traded = result["trade_count"] - world["trades_before"]
    if made != len(created) or traded != len(created):
        failures.add(f"{made} payments and {traded} sandbox trades for {len(created)} sales")
    late = 0
    for payment_id, (kind, _) in created.items():
        row = result["payments"].get(payment_id)
        if row is None:
            failures.add(f"{payment_id}: not in the database")
            continue
        if row["final"] is None or row["final"] > row["deadline"] + SWEEP_BOUND_SECONDS:
            late += 1
        trades = row["trades"]
        if len(trades) != 1:
            failures.add(f"{payment_id}: {len(trades)} sandbox trades")
            continue
        trade = trades[0]
        kept = trade["state"] == "TRADE_SUCCESS" and trade["refunded"] in {"0", "0.00"}
        never_charged = trade["state"] == "TRADE_CLOSED" and not trade["paid"]
        # The buyer confirms SS s after the pay *reached Alipay*: when a node died before sending
        # it, the poller sent it (after CLAIM_SECONDS), and a confirmation falling after the
        # deadline is rightly too late. Before the deadline, it must be paid.
        in_time = trade["confirm_at"] is not None and trade["confirm_at"] <= row["deadline"]
        if kind == "never" or not in_time:
            expected = (
                {"cancelled": never_charged}
                if kind == "never"
                else {"paid": kept, "cancelled": never_charged or trade["refunded"] == "10.00"}
            )
        else:
            expected = {"paid": kept}
        if not expected.get(row["state"], False):
            failures.add(
                f"{payment_id} ({kind}): ended {row['state']}, trade {trade}: {row['history']}"
            )
    if late:
        failures.add(f"{late} payments not final within deadline + {SWEEP_BOUND_SECONDS} s")
    log(
        f"slot {slot}; {len(created)} payments, "
        f"{Counter(r['state'] for r in result['payments'].values())}"
    )


def _interrupted(signum, frame) -> None:
    # `timeout` (make cluster-test) sends SIGTERM: stop the nodes and drop the database first.
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupted)
    sys.exit(main())
