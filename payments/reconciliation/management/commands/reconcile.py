"""manage.py reconcile: import and match Alipay's files for days or given files, print the report.

A progress bar (tqdm) shows on a terminal only, so cron mails stay clean; `--fail-on critical`
(or high) exits with status 3 while such differences are open for the days reported, for cron
and monitoring.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from payments.reconciliation.exceptions import SourceUnavailable
from payments.reconciliation.models import Difference
from payments.reconciliation.report import day_report, render_text
from payments.reconciliation.runs import run
from payments.reconciliation.sources import SOURCES, local_files
from payments.reconciliation.tasks import reconcile_sources, yesterday

FAILS = {
    "critical": [Difference.Severity.CRITICAL],
    "high": [Difference.Severity.CRITICAL, Difference.Severity.HIGH],
}


def _day(text: str) -> date:
    for shape in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, shape).date()
        except ValueError:
            continue
    raise CommandError(f"{text!r} is not a day: use yyyy-mm-dd or yyyymmdd.")


class Command(BaseCommand):
    help = (
        "Import Alipay's daily files (from a source or given files), match them, print the report."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--date", help="one Beijing day (default: yesterday)")
        which.add_argument("--from", dest="start", help="first day of a range (with --to)")
        which.add_argument("--file", nargs="+", dest="files", help="files to import")
        parser.add_argument("--to", dest="end", help="last day of a range")
        parser.add_argument("--source", choices=SOURCES, help="default: RECONCILIATION_SOURCES")
        parser.add_argument("--fail-on", choices=sorted(FAILS), help="exit 3 if any is open")

    def handle(self, *args, date=None, start=None, end=None, files=None, source=None, **options):
        if bool(start) != bool(end):
            raise CommandError("--from and --to go together.")
        interactive = sys.stdout.isatty() and options.get("verbosity", 1) > 0
        bar = tqdm(unit=" lines", disable=not interactive, dynamic_ncols=True)
        try:
            if files:
                try:
                    incoming = local_files(files)
                except SourceUnavailable as exc:
                    raise CommandError(str(exc.message)) from exc
                reports = [
                    run(
                        incoming,
                        trigger="command",
                        progress=bar.set_description,
                        on_lines=bar.update,
                    )
                ]
            else:
                if start:
                    first, last = _day(start), _day(end)
                    if last < first:
                        raise CommandError("--to is before --from.")
                    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
                else:
                    days = [_day(date) if date else yesterday()]
                sources = [source] if source else settings.RECONCILIATION_SOURCES
                reports = [
                    reconcile_sources(
                        d,
                        sources,
                        trigger="command",
                        progress=bar.set_description,
                        on_lines=bar.update,
                    )
                    for d in days
                ]
        finally:
            bar.close()
        days_done = sorted({o.day for r in reports for o in r.days} | set(self._asked(reports)))
        for report in reports:
            for name, reason in report.refused:
                self.stderr.write(f"refused {name}: {reason}")
        for day in days_done:
            self.stdout.write(render_text(day_report(day)))
            self.stdout.write("")
        fail_on = options.get("fail_on")
        if fail_on:
            open_bad = Difference.objects.filter(
                day__in=days_done, is_open=True, severity__in=FAILS[fail_on]
            ).count()
            if open_bad:
                raise CommandError(f"{open_bad} open {fail_on} differences or worse.", returncode=3)

    @staticmethod
    def _asked(reports):
        for report in reports:
            for day in report.run.days:
                yield date_from_iso(day)


def date_from_iso(text: str) -> date:
    return date.fromisoformat(text)
