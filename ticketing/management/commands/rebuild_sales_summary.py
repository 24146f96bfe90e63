"""`python manage.py rebuild_sales_summary [--from DATE --until DATE]`: recompute the sales
report's daily rows from the orders, refunds, gate scans and partner-API payments.

The rows are kept in step as sales happen (ticketing.reports.ledger); rebuild after changing an
attraction's time zone or the site's TIME_ZONE (days are local dates), or after writing sales
outside the services. Without dates every day is rebuilt; with both, only those local days.
Writers wait while it runs (one transaction); the report keeps answering.
"""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from ticketing.reports import ledger


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {text}") from exc


class Command(BaseCommand):
    help = "Recompute the sales report's daily rows from the raw sales."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=_date, help="first local day (YYYY-MM-DD)")
        parser.add_argument("--until", dest="end", type=_date, help="last local day (YYYY-MM-DD)")

    def handle(self, *args, start, end, **options):
        if (start is None) != (end is None):
            raise CommandError("give both --from and --until, or neither")
        if start is not None and start > end:
            raise CommandError("--from must not be after --until")
        began = time.perf_counter()
        rows = ledger.rebuild(start, end)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {rows} daily rows in {time.perf_counter() - began:.1f} s"
                + (f" ({start} to {end})." if start else " (every day).")
            )
        )
