"""Protocol throughput, with the bare primitive measured in the same run as the baseline.

    .venv/bin/python bench/protocol.py

For MD5 and RSA2: requests built, validated and signed per second and replies parsed and verified
per second, against hashlib / `cryptography` doing only the hash or signature on the same string.
Then round trips per second to the sandbox gateway, started here in a subprocess (gunicorn, or
runserver when gunicorn is missing) on a temporary SQLite database. Every loop is bounded by time
and by count: the whole run takes well under a minute.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from payments.alipay import services  # noqa: E402
from payments.alipay.client import AlipayClient  # noqa: E402
from payments.alipay.config import ClientConfig  # noqa: E402
from payments.alipay.replies import read_reply  # noqa: E402
from payments.alipay.results import Outcome  # noqa: E402
from payments.alipay.signing import Signer, presign_string  # noqa: E402

SECONDS = 1.0  # per measurement
MAX_RUNS = 200_000
PARTNERS = {"RSA2": "2088000000000001", "MD5": "2088000000000002"}
MD5_KEY = "entrada-demo-md5-key-not-for-production"
INSTANT_BUYER = "280000000000000001"  # sandbox test code: instant success
STORE = {"secondary_merchant_id": "ENTRADA-BENCH", "store_id": "BENCH-1"}


def rate(work: Callable[[], object], seconds: float = SECONDS, limit: int = MAX_RUNS) -> float:
    """Calls per second of `work`, run for about `seconds` (never more than `limit` calls)."""
    work()  # warm caches (key loading) outside the measurement
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while count < limit:
        work()
        count += 1
        if count % 16 == 0 and time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - started)


def compare(ours: Callable[[], object], bare: Callable[[], object], rounds: int = 3):
    """Best rate of each over interleaved rounds: load from other processes hits both alike."""
    best_ours = best_bare = 0.0
    for _ in range(rounds):
        best_ours = max(best_ours, rate(ours, SECONDS / rounds))
        best_bare = max(best_bare, rate(bare, SECONDS / rounds))
    return best_ours, best_bare


def row(sign_type: str, operation: str, ours: float, bare: float) -> None:
    """Rates, then our extra time per operation over the bare primitive in µs and in percent."""
    extra_us = (1 / ours - 1 / bare) * 1e6
    print(
        f"{sign_type:6}{operation:34}{ours:10.0f}{bare:10.0f}{extra_us:10.1f}"
        f"{(bare / ours - 1) * 100:>+10.0f}%"
    )


def pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def configs(url: str, keys: dict) -> dict[str, ClientConfig]:
    return {
        "MD5": ClientConfig(url, PARTNERS["MD5"], "MD5", md5_key=MD5_KEY),
        "RSA2": ClientConfig(
            url,
            PARTNERS["RSA2"],
            "RSA2",
            private_key_pem=keys["merchant_private"],
            alipay_public_key_pem=keys["alipay_public"],
        ),
    }


def pay_request(config: ClientConfig, n: int = 1) -> services.SignedRequest:
    return services.build_pay(
        config,
        partner_trans_id=f"BENCH-{n}",
        amount=Decimal("120.00"),
        currency="HKD",
        buyer_identity_code=INSTANT_BUYER,
        trans_name="Museum entry, 2 adults",
        trans_create_time=datetime(2026, 11, 28, tzinfo=UTC),
        extend_info=STORE,
    )


def reply_body(sign_type: str, keys: dict) -> tuple[bytes, dict[str, str], str]:
    """A query reply as the gateway sends it (GBK prolog), signed by "Alipay"."""
    fields = {
        "result_code": "SUCCESS",
        "alipay_trans_status": "TRADE_SUCCESS",
        "partner_trans_id": "BENCH-1",
        "alipay_trans_id": "2026112822001004330000121536",
        "currency": "HKD",
        "trans_amount": "120.00",
        "alipay_buyer_login_id": "bu***@example.com",
        "alipay_pay_time": "20261128080000",
        "payment_inst": "ALIPAYHK",
    }
    signer = (
        Signer("MD5", md5_key=MD5_KEY)
        if sign_type == "MD5"
        else Signer("RSA2", private_key_pem=keys["alipay_private"])
    )
    sign = signer.sign(fields)
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in sorted(fields.items()))
    body = (
        '<?xml version="1.0" encoding="GBK"?><alipay><is_success>T</is_success>'
        '<request><param name="service">alipay.acquire.overseas.query</param></request>'
        f"<response><alipay>{inner}</alipay></response>"
        f"<sign>{sign}</sign><sign_type>{sign_type}</sign_type></alipay>"
    ).encode("gbk")
    return body, fields, sign


def bench_protocol(keys: dict) -> None:
    header = f"{'':6}{'operation':34}{'ours/s':>10}{'bare/s':>10}{'extra µs':>10}{'overhead':>11}"
    print(header)
    for sign_type, config in configs("http://127.0.0.1:9/gateway.do", keys).items():
        request = pay_request(config)
        text = presign_string(request.params).encode()
        body, fields, sign = reply_body(sign_type, keys)
        signed_text = presign_string(fields).encode()
        if sign_type == "MD5":
            key = MD5_KEY.encode()

            def bare_sign(text=text, key=key):
                return hashlib.md5(text + key).hexdigest()

            def bare_verify(signed_text=signed_text, key=key, sign=sign):
                return hashlib.md5(signed_text + key).hexdigest() == sign
        else:
            # Keys loaded from PEM once, as any application does (a freshly generated key
            # object signs at a different speed than the same key loaded back).
            private = serialization.load_pem_private_key(keys["merchant_private"].encode(), None)
            public = serialization.load_pem_public_key(keys["alipay_public"].encode())
            raw_sign = base64.b64decode(sign)

            def bare_sign(text=text, private=private):
                return private.sign(text, padding.PKCS1v15(), hashes.SHA256())

            def bare_verify(signed_text=signed_text, public=public, raw_sign=raw_sign):
                return public.verify(raw_sign, signed_text, padding.PKCS1v15(), hashes.SHA256())

        verifier = config.verifier()
        assert read_reply(services.QUERY, body, verifier).outcome is Outcome.SUCCESS
        ours_sign, raw_sign_rate = compare(lambda config=config: pay_request(config), bare_sign)
        ours_read, raw_verify_rate = compare(
            lambda body=body, v=verifier: read_reply(services.QUERY, body, v), bare_verify
        )
        row(sign_type, "pay request built+signed", ours_sign, raw_sign_rate)
        row(sign_type, "reply parsed+verified", ours_read, raw_verify_rate)


# --- round trips to the sandbox -----------------------------------------------------------------
SETUP_MERCHANTS = """
from pathlib import Path
from payments.sandbox.demo import ensure_demo_merchant
keys = Path({key_dir!r})
for partner, sign_type in {partners!r}:
    ensure_demo_merchant(
        partner_id=partner,
        md5_key={md5_key!r},
        merchant_public_key_pem=(keys / "merchant-public.pem").read_text(),
        sandbox_private_key_pem=(keys / "alipay-private.pem").read_text(),
        sign_type=sign_type,
    )
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def start_sandbox(tmp: Path, keys: dict) -> tuple[subprocess.Popen, str] | None:
    """Migrate a temporary SQLite database, create the two merchants and serve the sandbox."""
    if not (ROOT / "payments" / "sandbox" / "gateway.py").exists():
        print("sandbox: payments/sandbox/gateway.py is not there yet; round trips skipped")
        return None
    key_dir = tmp / "keys"
    key_dir.mkdir()
    (key_dir / "merchant-public.pem").write_text(keys["merchant_public"])
    (key_dir / "alipay-private.pem").write_text(keys["alipay_private"])
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="ticketing.settings",
        ENTRADA_VAR_DIR=str(tmp),
        ALIPAY_KEY_DIR=str(key_dir),
        ALIPAY_SANDBOX="1",
        ENTRADA_ROOT_URLCONF="payments.sandbox.site_urls",
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    setup = SETUP_MERCHANTS.format(
        key_dir=str(key_dir), partners=[(p, t) for t, p in PARTNERS.items()], md5_key=MD5_KEY
    )
    for step in (["migrate", "--noinput", "-v", "0"], ["shell", "-c", setup]):
        try:
            done = subprocess.run(
                manage + step, env=env, cwd=ROOT, capture_output=True, text=True, timeout=40
            )
        except subprocess.TimeoutExpired:
            print(f"sandbox: `manage.py {step[0]}` took over 40 s; round trips skipped")
            return None
        if done.returncode != 0:
            print(f"sandbox: `manage.py {step[0]}` failed; round trips skipped")
            print(done.stderr[-1500:])
            return None
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if gunicorn.exists():
        command = [str(gunicorn), "ticketing.wsgi:application", "-b", f"127.0.0.1:{port}"]
        command += ["--workers", "2", "--log-level", "warning"]
    else:
        command = [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if not wait_for_port(port, process):
        process.terminate()
        print("sandbox: the server did not start; round trips skipped")
        print((process.communicate(timeout=10)[1] or "")[-1500:])
        return None
    return process, f"http://127.0.0.1:{port}/sandbox/gateway.do"


def bench_round_trips(url: str, keys: dict, seconds: float = 4.0, limit: int = 400) -> None:
    for sign_type, config in configs(url, keys).items():
        client = AlipayClient(config)
        trade = f"BENCH-{sign_type}-{int(time.time())}"
        paid = client.pay(**{**pay_args(trade)})
        if not paid.ok:
            print(f"{sign_type:6}sandbox pay did not succeed: {paid.code} ({paid.transport})")
            continue
        outcomes: set[str] = set()

        def query(client=client, trade=trade, outcomes=outcomes):
            outcomes.add(client.query(partner_trans_id=trade).trade_status)

        per_second = rate(query, seconds=seconds, limit=limit)
        ok = outcomes == {"TRADE_SUCCESS"}
        note = "" if ok else f"  UNEXPECTED {outcomes}"
        print(f"{sign_type:6}{'query round trips (HTTP, sandbox)':34}{per_second:10.0f}{note}")


def pay_args(trade: str) -> dict:
    return {
        "partner_trans_id": trade,
        "amount": Decimal("120.00"),
        "currency": "HKD",
        "buyer_identity_code": INSTANT_BUYER,
        "trans_name": "Museum entry, 2 adults",
        "trans_create_time": datetime.now(UTC),
        "extend_info": STORE,
    }


def main() -> None:
    merchant_private, merchant_public = pem_pair()
    alipay_private, alipay_public = pem_pair()
    keys = {
        "merchant_private": merchant_private,
        "merchant_public": merchant_public,
        "alipay_private": alipay_private,
        "alipay_public": alipay_public,
    }
    print(f"Python {sys.version.split()[0]}, RSA-2048 keys, best of 3 interleaved rounds")
    bench_protocol(keys)
    with tempfile.TemporaryDirectory(prefix="entrada-bench-") as tmp:
        started = start_sandbox(Path(tmp), keys)
        if started is None:
            return
        process, url = started
        try:
            bench_round_trips(url, keys)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
