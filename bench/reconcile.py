"""Reconciliation of one Beijing day of N lines (default 1,000,000) with matching records.

    .venv/bin/python bench/reconcile.py [--lines 1000000] [--database-url postgres://...]

Generates, outside the measurement: N paid payments in Entrada's tables (written in batches with
executemany, no ORM objects), and that day's transaction file (N PAYMENT lines) and settlement
file (N P lines) as the sandbox writes them, on disk. Then, in a fresh child process so that its
peak memory is the run's own, it measures:
  - baseline: reading and parsing the transaction file alone (FileReader, no database): what
    any importer must pay before it stores or matches a line;
  - the run: importing both files (2N lines stored) and matching the day both ways (every line
    looked up, every payment of the day looked for in the files), as the daily task does.
It prints lines/s, wall time, the child's peak RSS, and the CPU seconds of the child and (on a
PostgreSQL server on this machine) of its backend, with the load average: on a shared machine the
wall time moves with other people's work, the CPU seconds much less. Target on a 2-core machine:
under 30 s and 300 MB for 1M lines; floor 60 s. SQLite in a scratch folder by default;
--database-url (or DATABASE_URL) runs it on PostgreSQL instead (use an empty database of its own:
it is migrated and filled).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DAY = date(2026, 11, 27)
PARTNER = "2088000000000001"
TARGET_S, FLOOR_S, TARGET_MB = 30.0, 60.0, 300.0


def setup_django(scratch: str, database_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="ticketing.settings",
        ENTRADA_VAR_DIR=scratch,
        DATABASE_URL=database_url or f"sqlite:///{scratch}/bench.sqlite3",
        REDIS_URL="",
        LOG_LEVEL="WARNING",
        ALIPAY_PARTNER_ID=PARTNER,
        RECONCILIATION_SOURCES="",
    )
    import django

    django.setup()


def amount_of(i: int) -> Decimal:
    return Decimal(10 + i % 990) + Decimal(i % 100) / 100


def paid_at_of(i: int, n: int) -> datetime:
    # 00:30 to 23:30 Beijing, clear of the midnight margins (those wait for the neighbours).
    start = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)
    return start + timedelta(seconds=(i * 82800) // n)


def generate(n: int, folder: Path) -> tuple[Path, Path]:
    from django.db import connection, transaction

    from payments.models import Payment
    from payments.reconciliation.matching import expected_fee

    columns = [
        "uuid", "reference", "amount", "currency", "description", "channel", "buyer_code_masked",
        "buyer_code_sealed", "store_id", "terminal_id", "partner_trans_id", "trans_create_time",
        "alipay_trans_id", "buyer_login_masked", "exchange_rate", "amount_cny", "qr_code",
        "state", "failure_code", "failure_message", "attention_reason", "created_at",
        "updated_at", "paid_at", "chain_generation", "pay_attempts", "query_count",
        "cancel_attempts", "cancel_action",
    ]  # fmt: skip
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(Payment._meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    copy_sql = f"COPY {quote(Payment._meta.db_table)} ({', '.join(map(quote, columns))}) FROM STDIN"

    def store(cursor, batch):
        # PostgreSQL takes a million payments by COPY in seconds, by executemany in minutes.
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(copy_sql) as copy:
                for row in batch:
                    copy.write_row(row)
        else:
            cursor.executemany(sql, batch)

    adapt = connection.ops.adapt_datetimefield_value
    rate = Decimal("7.20")
    tx_path = folder / f"{PARTNER}_transactions_{DAY:%Y%m%d}.csv"
    st_path = folder / f"{PARTNER}_settlement_{DAY:%Y%m%d}.csv"
    settled_at = "2026-11-28 00:00:00"
    with (
        tx_path.open("w", encoding="utf-8") as tx,
        st_path.open("w", encoding="utf-8") as st,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx.write(f"Partner,Payment_time,Total_count\n{PARTNER},{DAY:%Y%m%d},{n}\n")
        tx.write(
            "Partner_transaction_id,Transaction_id,Transaction_amount,Charge_amount,Currency,"
            "Payment_time,Transaction_type,Remark,Secondary_merchant_industry\n"
        )
        st.write(
            "Partner_transaction_id,Transaction_id,Amount,Rmb_amount,Fee,Settlement,"
            "Rmb_settlement,Currency,Rate,Payment_time,Settlement_time,Type,Status,Remarks\n"
        )
        batch = []
        for i in range(n):
            ptid = f"B{i:012d}"
            alipay = f"2026112711{i:018d}"
            amount = amount_of(i)
            at = paid_at_of(i, n)
            stamp = (at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
            fee = expected_fee(amount, "USD", Decimal("0.018"))
            cny = (amount * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            net = amount - fee
            tx.write(f"{ptid},{alipay},{amount},{fee},USD,{stamp},PAYMENT,Entry,7991\n")
            net_cny = (net * rate).quantize(Decimal("0.01"))
            st.write(
                f"{ptid},{alipay},{amount},{cny},{fee},{net},{net_cny}"
                f",USD,7.2,{stamp},{settled_at},P,L,Entry\n"
            )
            batch.append(
                (
                    uuid.UUID(int=i + 1).hex, "", amount, "USD", "Entry", "barcode", "", "", "S1",
                    "T1", ptid, "", alipay, "", rate, cny, "", "paid", "", "", "", adapt(at),
                    adapt(at), adapt(at), 1, 1, 0, 0, "",
                )
            )  # fmt: skip
            if len(batch) == 10000:
                store(cursor, batch)
                batch.clear()
        if batch:
            store(cursor, batch)
    return tx_path, st_path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_pid() -> int | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backend_cpu_seconds(pid: int | None) -> float | None:
    """CPU used so far by the PostgreSQL backend `pid`, read from /proc when the server runs
    on this machine (None on SQLite, whose work is the bench's own CPU, or elsewhere)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(tx_path: Path, st_path: Path) -> dict:
    """In the child: the baseline parse, then the run; returns the figures. CPU seconds are
    reported beside wall time: on a shared machine they move far less with other people's
    load than the wall clock does."""
    from payments import clock
    from payments.reconciliation import runs
    from payments.reconciliation.models import Difference
    from payments.reconciliation.reading import FileReader, sniff
    from payments.reconciliation.sources import local_files

    clock.freeze(datetime(2026, 11, 28, 3, 0, tzinfo=UTC))
    started, cpu_before = time.perf_counter(), cpu_seconds()
    with tx_path.open("rb") as stream:
        sniffed = sniff(stream)
        reader = FileReader(stream, name=tx_path.name, encoding=sniffed.encoding)
        reader.open(partner=PARTNER)
        parsed = sum(1 for _ in reader.records())
        reader.text.detach()
    baseline = time.perf_counter() - started
    baseline_cpu = cpu_seconds() - cpu_before
    pid = backend_pid()
    backend_before = backend_cpu_seconds(pid)
    load_before = os.getloadavg()[0]
    started, cpu_before = time.perf_counter(), cpu_seconds()
    phases = {}
    match = runs.reconcile_days

    def timed_match(days):
        """The run's matching, after every file is in: the end of the import phase."""
        phases["import_s"] = time.perf_counter() - started
        phases["import_cpu"] = cpu_seconds() - cpu_before
        phases["import_backend"] = backend_cpu_seconds(pid)
        return match(days)

    runs.reconcile_days = timed_match
    report = runs.run(local_files([tx_path, st_path]), trigger="bench")
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    backend_after = backend_cpu_seconds(pid)
    [day] = report.days
    return {
        "import_s": phases.get("import_s", 0.0),
        "import_cpu": phases.get("import_cpu", 0.0),
        "cpu_s": cpu,
        "baseline_cpu": baseline_cpu,
        "backend_cpu": None if backend_after is None else backend_after - backend_before,
        "import_backend_cpu": None
        if backend_after is None
        else phases.get("import_backend", backend_before) - backend_before,
        "load": (load_before, os.getloadavg()[0]),
        "parsed": parsed,
        "baseline_s": baseline,
        "wall_s": wall,
        "lines": day.lines,
        "matched": day.matched,
        "differences": Difference.objects.count(),
        "refused": report.refused,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--child", nargs=3, metavar=("SCRATCH", "TX", "ST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        setup_django(args.child[0], args.database_url)
        print(json.dumps(measure(Path(args.child[1]), Path(args.child[2]))))
        return
    with tempfile.TemporaryDirectory(prefix="entrada-bench-reconcile-") as scratch:
        setup_django(scratch, args.database_url)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        vendor = connection.vendor
        started = time.perf_counter()
        tx_path, st_path = generate(args.lines, Path(scratch))
        print(
            f"generated {args.lines:,} payments and both files in "
            f"{time.perf_counter() - started:.1f} s ({vendor})"
        )
        connection.close()
        child = subprocess.run(
            [sys.executable, __file__, "--child", scratch, str(tx_path), str(st_path),
             "--database-url", args.database_url],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            sys.exit(child.stderr[-3000:])
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    n, wall, base = args.lines, figures["wall_s"], figures["baseline_s"]
    print(f"database: {vendor}")
    print(
        f"baseline, parse the transaction file only: {base:6.1f} s  "
        f"{figures['parsed'] / base:>10,.0f} lines/s"
    )
    print(
        f"import both files ({2 * n:,} lines) and match: {wall:6.1f} s  "
        f"{2 * n / wall:>10,.0f} lines/s  ({n / wall:,.0f} day lines/s)"
    )
    print(
        f"  of which importing (reading, checking, storing, committing): "
        f"{figures['import_s']:6.1f} s, "
        f"matching and recording: {wall - figures['import_s']:6.1f} s"
    )
    backend = figures["backend_cpu"]
    print(
        f"  CPU of the run: {figures['cpu_s']:.1f} s in its process (importing "
        f"{figures['import_cpu']:.1f} s)"
        + (
            f", {backend:.1f} s in the PostgreSQL backend (importing "
            f"{figures['import_backend_cpu']:.1f} s)"
            if backend is not None
            else ""
        )
        + f"; baseline {figures['baseline_cpu']:.1f} s"
    )
    print(
        f"load average (1 min) at start and end of the run: {figures['load'][0]:.1f}, "
        f"{figures['load'][1]:.1f} on {os.cpu_count()} cores"
    )
    print(f"peak memory of the run (RSS): {figures['peak_mb']:.0f} MB")
    print(
        f"matched {figures['matched']:,} of {figures['lines']:,} lines, "
        f"{figures['differences']} differences, refused: {figures['refused'] or 'none'}"
    )
    projected = wall * 1_000_000 / n
    if n != 1_000_000:
        print(f"projected to 1,000,000 lines (linear): {projected:.0f} s")
    verdict = (
        "meets the target"
        if projected < TARGET_S and figures["peak_mb"] < TARGET_MB
        else ("within the floor" if projected < FLOOR_S else "SLOWER THAN THE FLOOR")
    )
    print(f"target < {TARGET_S:.0f} s and < {TARGET_MB:.0f} MB, floor < {FLOOR_S:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
