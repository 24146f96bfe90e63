"""Sales report benchmark: 1,000,000 orders, the report page rendered over them, on SQLite and
(optionally) PostgreSQL.

    .venv/bin/python bench/reports.py                         # SQLite, a fresh file in a temp dir
    .venv/bin/python bench/reports.py --postgres postgres://postgres@127.0.0.1/reports_bench
    .venv/bin/python bench/reports.py --orders 100000          # a smaller run

Each database run happens in a child process whose DATABASE_URL names the benchmark's own
database (a temporary SQLite file, or the PostgreSQL database given: create it first with
`createdb -h 127.0.0.1 -U postgres reports_bench`; its public schema is dropped and rebuilt).

Data, spread over the 365 days before now in the order they were paid (as a live site writes
them, so ids and paid_at rise together): three attractions (two in Asia/Shanghai in CNY, one
in Asia/Tokyo in JPY), one slot per attraction and day; orders 80% online, 20% box office; 95%
paid, 3% refunded in full, 2% partially refunded (a refund a day later), plus 2% never paid; one
order line each, one payment each, one scanned ticket for every fifth order; and 2% extra
partner-API payments with no order. The database generates the rows itself (INSERT ... SELECT
over a sequence of numbers), which loads a million orders in seconds rather than minutes.

Rows written by SQL bypass the services that keep the report's daily rows, so the run then
rebuilds them (`ledger.rebuild`, as `manage.py rebuild_sales_summary` does) and times it.

Measured (median of 3 after one warm-up, through the admin view with Django's test client, which
reads the daily rows): the default page (last 30 days), the whole year by month, and the CSV of
the year by day. The baseline, measured in the same run on the same rows: the same three reports
aggregated from the raw rows (one run each, `Source.RAW`, checked equal to the summary's), and a
plain COUNT(*) and SUM(total) over all orders. Also: what the ledger adds to paying one order (its
read and two upserts, each order in a transaction of its own, BEGIN and ROLLBACK included).
Target: under 2 s for a report over 1,000,000 orders.

Measured on 2 Dec 2026 on this shared 2-core machine (load average 9 to 13 from other work),
1,000,000 orders, `.venv/bin/python bench/reports.py --postgres
postgres://postgres@127.0.0.1:5432/adminface_reports_bench`:

    seconds                     SQLite    PostgreSQL
    last 30 days, page          0.109     0.152    (raw rows: 3.16 / 3.56)
    year by month, page         0.258     0.174    (raw rows: 19.45 / 12.58)
    year by day, CSV            0.383     0.161    (raw rows: 17.00 / 13.45)
    COUNT(*), SUM(total)        0.317     0.219
    rebuild of the daily rows   23.6      10.0     (2,200 rows)
    ledger per paid order       0.010     0.012

Before the daily rows (the same machine, load average 5 to 10) the pages read the raw rows: the
year by month took 9.4 s (SQLite) and 11.1 s (PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(ORDERS: int) -> None:
    import datetime as dt

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from payments import clock
    from ticketing.models import Attraction, DailySales, Order, TicketType, TimeSlot
    from ticketing.reports import ledger
    from ticketing.reports.filters import Period, ReportQuery
    from ticketing.reports.queries import Source, sales_report

    started = time.perf_counter()
    if connection.vendor == "postgresql":
        # The benchmark's own database, rebuilt from zero on every run.
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0)
    now = clock.now().replace(microsecond=0)
    first = now - dt.timedelta(days=365)
    specs = [
        ("bench-a", "Bench A", "Asia/Shanghai", "CNY", "80.00", "40.00", 0.5),
        ("bench-b", "Bench B", "Asia/Shanghai", "CNY", "120.00", "60.00", 0.3),
        ("bench-c", "Bench C", "Asia/Tokyo", "JPY", "1500", "800", 0.2),
    ]
    shops = []
    for slug, name, zone, currency, adult, child_price, share in specs:
        a = Attraction.objects.create(slug=slug, name=name, timezone=zone, currency=currency)
        types = [
            TicketType.objects.create(attraction=a, code=c, name=c.title(), price=Decimal(p))
            for c, p in (("adult", adult), ("child", child_price))
        ]
        slots = TimeSlot.objects.bulk_create(
            [
                TimeSlot(
                    attraction=a,
                    starts_at=s,
                    ends_at=s + dt.timedelta(hours=8),
                    local_date=s.astimezone(a.tz).date(),
                    capacity=5000,
                    sold=0,
                )
                for s in (
                    first.astimezone(a.tz).replace(hour=9, minute=0, second=0)
                    + dt.timedelta(days=d)
                    for d in range(367)
                )
            ]
        )
        shops.append((a, types, slots, share))
    # Rows are generated by the database itself (INSERT ... SELECT over a sequence of numbers):
    # pseudo-random but reproducible figures derived from each order's number i.
    vendor = connection.vendor
    if vendor == "postgresql":
        seq = f"SELECT generate_series(1::bigint, {ORDERS}) AS i"

        def ts(seconds):
            return f"(TIMESTAMPTZ '{first:%Y-%m-%d %H:%M:%S}+00:00' + ({seconds}) * INTERVAL '1 second')"

        def pad(expr, width):
            return f"lpad(({expr})::text, {width}, '0')"

        def uid(expr):
            return f"lpad(to_hex({expr}), 32, '0')::uuid"

        def later(expr, seconds):
            return f"({expr} + INTERVAL '{seconds} seconds')"
    else:
        seq = (
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ORDERS}) "
            "SELECT i FROM n"
        )

        def ts(seconds):
            return f"datetime('{first:%Y-%m-%d %H:%M:%S}', '+' || ({seconds}) || ' seconds')"

        def pad(expr, width):
            return f"printf('%0{width}d', {expr})"

        def uid(expr):
            return f"printf('%032x', {expr})"

        def later(expr, seconds):
            return f"datetime({expr}, '+{seconds} seconds')"

    for _a, _types, slots, _share in shops:
        assert [s.pk for s in slots] == list(range(slots[0].pk, slots[0].pk + len(slots)))

    def by_shop(pick):
        return (
            "CASE att "
            + " ".join(f"WHEN {n} THEN {pick(shop)}" for n, shop in enumerate(shops))
            + " END"
        )

    att = "CASE WHEN i % 10 < 5 THEN 0 WHEN i % 10 < 8 THEN 1 ELSE 2 END"
    statements = [
        "DROP TABLE IF EXISTS bench_seq",
        f"""CREATE TABLE bench_seq AS SELECT i, off, att, typ, r, q, paid_at,
            {by_shop(lambda s: s[0].pk)} AS attraction_id,
            {by_shop(lambda s: "'" + s[0].currency + "'")} AS currency,
            CASE typ WHEN 0 THEN {by_shop(lambda s: s[1][0].price)} ELSE {by_shop(lambda s: s[1][1].price)} END AS price,
            CASE typ WHEN 0 THEN {by_shop(lambda s: s[1][0].pk)} ELSE {by_shop(lambda s: s[1][1].pk)} END AS type_id,
            {by_shop(lambda s: s[2][0].pk)} + off / 86400 AS slot_id
          FROM (SELECT i, off, {att} AS att, (i / 10) % 2 AS typ, (i * 7919) % 100 AS r,
                       1 + i % 3 AS q, {ts("off")} AS paid_at
                FROM (SELECT i, (i - 1) * CAST(31535000 AS BIGINT) / {ORDERS} + (i * 7919) % 997 AS off FROM ({seq}) AS numbers) AS a) AS b""",
        f"""INSERT INTO payments_payment (id, uuid, reference, amount, currency, description, channel,
            buyer_code_masked, buyer_code_sealed, store_id, terminal_id, partner_trans_id,
            trans_create_time, alipay_trans_id, buyer_login_masked, qr_code, state, failure_code,
            failure_message, attention_reason, created_at, updated_at, paid_at, chain_generation,
            pay_attempts, query_count, cancel_attempts, cancel_action)
          SELECT i, {uid("i")}, 'order:B' || {pad("i", 9)}, price * q, currency, 'bench', 'qr', '', '',
            'box', '', '2B' || {pad("i", 12)}, '', '', '', '',
            CASE WHEN r < 3 THEN 'refunded' WHEN r < 5 THEN 'partially_refunded' ELSE 'paid' END,
            '', '', '', paid_at, paid_at, paid_at, 0, 1, 0, 0, ''
          FROM bench_seq WHERE r < 98""",
        f"""INSERT INTO ticketing_order (id, code, token, attraction_id, slot_id, buyer_name, email,
            language, state, channel, client_key, total, currency, admissions, hold_expires_at,
            payment_id, paid_at, outcome_reason, created_at, updated_at)
          SELECT i, 'B' || {pad("i", 9)}, 't' || {pad("i", 9)}, attraction_id, slot_id, 'Bench',
            'bench@example.com', 'en',
            CASE WHEN r >= 98 THEN 'cancelled' WHEN r < 3 THEN 'refunded' ELSE 'paid' END,
            CASE WHEN i % 5 = 0 THEN 'box_office' ELSE 'online' END, '', price * q, currency, q,
            paid_at, CASE WHEN r < 98 THEN i END, CASE WHEN r < 98 THEN paid_at END, '', paid_at,
            paid_at
          FROM bench_seq""",
        f"""INSERT INTO payments_refund (id, uuid, payment_id, partner_refund_id, amount, reason, actor,
            state, failure_code, failure_message, attempts, created_at, updated_at, succeeded_at)
          SELECT i, {uid("i")}, i, 'BR' || {pad("i", 9)},
            CASE WHEN r < 3 THEN price * q ELSE price END, '', '', 'succeeded', '', '', 1,
            {later("paid_at", 86400)}, {later("paid_at", 86400)}, {later("paid_at", 86400)}
          FROM bench_seq WHERE r < 5""",
        """INSERT INTO ticketing_orderline (id, order_id, ticket_type_id, quantity, unit_price,
            admissions_each)
          SELECT i, i, type_id, q, price, 1 FROM bench_seq""",
        f"""INSERT INTO ticketing_ticket (id, uuid, order_id, line_id, ticket_type_id, slot_id, number,
            part, parts, price, state, issued_at, used_at)
          SELECT i, {uid("i")}, i, i, type_id, slot_id, 1, 1, 1, price, 'used', paid_at,
            {later("paid_at", 86400)}
          FROM bench_seq WHERE r >= 5 AND r < 98 AND i % 5 = 1""",
        f"""INSERT INTO payments_payment (id, uuid, reference, amount, currency, description, channel,
            buyer_code_masked, buyer_code_sealed, store_id, terminal_id, partner_trans_id,
            trans_create_time, alipay_trans_id, buyer_login_masked, qr_code, state, failure_code,
            failure_message, attention_reason, created_at, updated_at, paid_at, chain_generation,
            pay_attempts, query_count, cancel_attempts, cancel_action)
          SELECT {ORDERS} + i, {uid(f"{ORDERS} + i")}, 'pos-' || {pad("i", 9)}, 35.00, 'CNY',
            'partner', 'barcode', '', '', 'bench', '', 'EK' || {pad("i", 12)}, '', '', '', '',
            'paid', '', '', '', paid_at, paid_at, paid_at, 0, 1, 0, 0, ''
          FROM bench_seq WHERE i % 50 = 0""",
        "DROP TABLE bench_seq",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    loaded = time.perf_counter() - started

    # The rows were written by SQL, not by the services: derive the daily rows as
    # `manage.py rebuild_sales_summary` (and the migration adding them) does.
    t0 = time.perf_counter()
    ledger.rebuild()
    rebuilt = time.perf_counter() - t0

    def timed(fn, runs=3, warm=True):
        if warm:
            fn()
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        return round(statistics.median(samples), 3)

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*), SUM(total) FROM {Order._meta.db_table}")
            cursor.fetchall()

    user = User.objects.create_superuser("bench-admin", "bench@example.com", "bench-pw-12345")
    client = Client()
    client.force_login(user)
    URL = "/admin/ticketing/salesreport/"
    today = now.date()
    year_start = today - dt.timedelta(days=366)
    year = {"start": year_start.isoformat(), "end": today.isoformat()}

    def get(params):
        def run():
            response = client.get(URL, params)
            assert response.status_code == 200, response.status_code

        return run

    def raw(start, period):
        def run():
            sales_report(ReportQuery(start, today, period), source=Source.RAW)

        return run

    def same_figures(start, period):
        query = ReportQuery(start, today, period)
        summary = sales_report(query).tables
        direct = sales_report(query, source=Source.RAW).tables
        return all(summary[name].rows == direct[name].rows for name in summary)

    def ledger_per_order_ms(count=300):
        """What the write path pays: the daily rows of a paid order, recorded the way move_order
        records a payment, each in a transaction of its own (then rolled back), as a live site
        writes them. The mean over `count` orders of one day."""
        ids = list(
            Order.objects.filter(paid_at__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)[:count]
        )
        t0 = time.perf_counter()
        for order_id in ids:
            with transaction.atomic():
                ledger.order_paid(order_id)
                transaction.set_rollback(True)
        return round((time.perf_counter() - t0) / len(ids) * 1000, 3)

    month_ago = today - dt.timedelta(days=29)
    print(
        json.dumps(
            {
                "database": connection.vendor,
                "orders": Order.objects.count(),
                "load_s": round(loaded, 1),
                "summary_rebuild_s": round(rebuilt, 1),
                "daily_rows": DailySales.objects.count(),
                "baseline_count_sum_s": timed(baseline),
                "raw_last_30_days_s": timed(raw(month_ago, Period.DAY), runs=1, warm=False),
                "raw_year_by_month_s": timed(raw(year_start, Period.MONTH), runs=1, warm=False),
                "raw_year_by_day_s": timed(raw(year_start, Period.DAY), runs=1, warm=False),
                "page_last_30_days_s": timed(get({})),
                "page_year_by_month_s": timed(get({**year, "period": "month"})),
                "csv_year_by_day_s": timed(get({**year, "format": "csv", "table": "period"})),
                "summary_equals_raw_year_by_day": same_figures(year_start, Period.DAY),
                "ledger_per_paid_order_ms": ledger_per_order_ms(),
            }
        )
    )


def run(database_url: str, orders: int) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        # DEBUG on only spares the benchmark a production configuration (keys, collected static
        # files); the report runs a fixed handful of queries, so the query log costs nothing.
        "DEBUG": "1",
    }
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(orders)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"benchmark on {database_url} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="URL of the benchmark's own PostgreSQL database")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    started = time.perf_counter()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            result = run(f"sqlite:///{folder}/reports.sqlite3", args.orders)
            print(json.dumps(result), flush=True)
    if args.postgres:
        print(json.dumps(run(args.postgres, args.orders)), flush=True)
    print(
        f"total {time.perf_counter() - started:.0f} s; target: a report over 1,000,000 orders < 2 s"
    )


if __name__ == "__main__":
    main()
