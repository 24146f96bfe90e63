"""Sales report benchmark: 1,000,000 orders, the report page rendered over them, on SQLite and
(optionally) PostgreSQL.

    .venv/bin/python bench/reports.py                         # SQLite, a fresh file in a temp dir
    .venv/bin/python bench/reports.py --postgres postgres://postgres@127.0.0.1/reports_bench
    .venv/bin/python bench/reports.py --orders 100000          # a smaller run

Each database run happens in a child process whose DATABASE_URL names the benchmark's own
database (a temporary SQLite file, or the PostgreSQL database given: create it first with
`createdb -h 127.0.0.1 -U postgres reports_bench`; its public schema is dropped and rebuilt).

Data, spread over the 365 days before now: three attractions (two in Asia/Shanghai in CNY, one
in Asia/Tokyo in JPY), one slot per attraction and day; orders 80% online, 20% box office; 95%
paid, 3% refunded in full, 2% partially refunded (a refund a day later), plus 2% never paid; one
order line each, one payment each, one scanned ticket for every fifth order; and 2% extra
partner-API payments with no order. Rows go in by bulk insert in batches.

Measured (median of 3 after one warm-up, through the admin view with Django's test client): the default page (last 30 days), the whole year by month (every order), and the CSV
of the year by day. The baseline, measured in the same run on the same rows: a plain COUNT(*) and
SUM(total) over all orders. Target: under 2 s for a report over 1,000,000 orders.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 20_000

CHILD = r"""
import datetime as dt, json, random, statistics, sys, time
from decimal import Decimal
import django
django.setup()
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.contrib.auth.models import User
from payments import clock
from payments.models import Payment, Refund
from ticketing.models import Attraction, Order, OrderLine, Ticket, TicketType, TimeSlot

ORDERS, BATCH = int(sys.argv[1]), int(sys.argv[2])
started = time.perf_counter()
if connection.vendor == "postgresql":
    # The benchmark's own database, rebuilt from zero on every run.
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
call_command("migrate", verbosity=0)
rng = random.Random(9)
now = clock.now().replace(microsecond=0)
first = now - dt.timedelta(days=365)
specs = [("bench-a", "Bench A", "Asia/Shanghai", "CNY", "80.00", "40.00", 0.5),
         ("bench-b", "Bench B", "Asia/Shanghai", "CNY", "120.00", "60.00", 0.3),
         ("bench-c", "Bench C", "Asia/Tokyo", "JPY", "1500", "800", 0.2)]
shops = []
for slug, name, zone, currency, adult, child, share in specs:
    a = Attraction.objects.create(slug=slug, name=name, timezone=zone, currency=currency)
    types = [TicketType.objects.create(attraction=a, code=c, name=c.title(), price=Decimal(p))
             for c, p in (("adult", adult), ("child", child))]
    slots = TimeSlot.objects.bulk_create([
        TimeSlot(attraction=a, starts_at=s, ends_at=s + dt.timedelta(hours=8),
                 local_date=s.astimezone(a.tz).date(), capacity=5000, sold=0)
        for s in (first.astimezone(a.tz).replace(hour=9, minute=0, second=0) + dt.timedelta(days=d)
                  for d in range(367))])
    shops.append((a, types, slots, share))
weights = [s[3] for s in shops]
number = 0
while number < ORDERS:
    size = min(BATCH, ORDERS - number)
    picks = []
    for _ in range(size):
        number += 1
        a, types, slots, _share = rng.choices(shops, weights)[0]
        offset = rng.random() * 365 * 86400
        paid_at = first + dt.timedelta(seconds=int(offset))
        ticket_type = rng.choice(types)
        quantity = rng.randint(1, 3)
        roll = rng.random()
        picks.append((number, a, slots[min(int(offset // 86400), 366)], paid_at, ticket_type,
                      quantity, roll))
    with transaction.atomic():
        payments = Payment.objects.bulk_create([
            Payment(reference=f"order:B{n:09d}", amount=t.price * q, currency=a.currency,
                    description="bench", channel="qr", partner_trans_id=f"2B{n:012d}",
                    state="refunded" if r < 0.03 else "partially_refunded" if r < 0.05 else "paid",
                    paid_at=p, created_at=p - dt.timedelta(minutes=2), updated_at=p)
            for n, a, s, p, t, q, r in picks if r < 0.98], batch_size=BATCH)
        by_number = iter(payments)
        orders = []
        for n, a, s, p, t, q, r in picks:
            pay = next(by_number) if r < 0.98 else None
            orders.append(Order(
                code=f"B{n:09d}", token=f"t{n}", attraction=a, slot=s, buyer_name="Bench",
                email="bench@example.com", language="en",
                state=("refunded" if r < 0.03 else "paid") if pay else "cancelled",
                channel="box_office" if n % 5 == 0 else "online", total=t.price * q,
                currency=a.currency, admissions=q, hold_expires_at=p, payment=pay,
                paid_at=p if pay else None, created_at=p - dt.timedelta(minutes=3), updated_at=p))
        Order.objects.bulk_create(orders, batch_size=BATCH)
        refunds = [Refund(payment=o.payment, partner_refund_id=f"BR{o.code}",
                          amount=o.total if pick[6] < 0.03 else (o.total / 2).quantize(Decimal("1")),
                          state="succeeded", succeeded_at=o.paid_at + dt.timedelta(days=1))
                   for o, pick in zip(orders, picks) if pick[6] < 0.05]
        Refund.objects.bulk_create(refunds, batch_size=BATCH)
        lines = OrderLine.objects.bulk_create([
            OrderLine(order=o, ticket_type=pick[4], quantity=pick[5], unit_price=pick[4].price,
                      admissions_each=1) for o, pick in zip(orders, picks)], batch_size=BATCH)
        Ticket.objects.bulk_create([
            Ticket(order=o, line=l, ticket_type=pick[4], slot=pick[2], number=1,
                   price=pick[4].price, state="used", issued_at=o.paid_at,
                   used_at=pick[2].starts_at + dt.timedelta(minutes=30))
            for o, l, pick in zip(orders, lines, picks)
            if o.paid_at and o.state == "paid" and pick[0] % 5 == 1], batch_size=BATCH)
        Payment.objects.bulk_create([
            Payment(reference=f"pos-{n}", amount=Decimal("35.00"), currency="CNY",
                    description="partner", channel="barcode", partner_trans_id=f"EK{n:012d}",
                    store_id="bench", state="paid", paid_at=p, created_at=p, updated_at=p)
            for n, a, s, p, t, q, r in picks if n % 50 == 0], batch_size=BATCH)
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
loaded = time.perf_counter() - started

def timed(fn, runs=3):
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
year = {"start": (today - dt.timedelta(days=366)).isoformat(), "end": today.isoformat()}

def get(params):
    def run():
        response = client.get(URL, params)
        assert response.status_code == 200, response.status_code
    return run

print(json.dumps({
    "database": connection.vendor,
    "orders": Order.objects.count(),
    "load_s": round(loaded, 1),
    "baseline_count_sum_s": timed(baseline),
    "page_last_30_days_s": timed(get({})),
    "page_year_by_month_s": timed(get({**year, "period": "month"})),
    "csv_year_by_day_s": timed(get({**year, "format": "csv", "table": "period"})),
}))
"""


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
        [sys.executable, "-c", CHILD, str(orders), str(BATCH)],
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
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results = [run(f"sqlite:///{folder}/reports.sqlite3", args.orders)]
    if args.postgres:
        results.append(run(args.postgres, args.orders))
    for result in results:
        print(json.dumps(result))
    print(f"total {time.perf_counter() - started:.0f} s; target: a report over 1,000,000 orders < 2 s")


if __name__ == "__main__":
    main()
