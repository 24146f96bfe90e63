"""A reconciliation run: import some files, match the days they touch, tell the admins.

Every way in (the daily task, the command, an upload in the admin) ends here, so they behave
the same. Each file is imported in its own transaction: a refused file is reported with its
reason and the others still count. Days are matched after all files of the run are in, so a
transaction file and its settlement file uploaded together are matched once. Critical and high
differences new in this run are mailed to ADMINS after it; a re-run finds nothing new and
mails nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import BinaryIO

from django.core.mail import mail_admins
from django.db import connection

from payments import clock

from .exceptions import FileRejected
from .importing import Imported, import_file, partner_id
from .matching import DayOutcome, reconcile_day
from .models import Difference, ReconciliationFile, ReconciliationRun

logger = logging.getLogger(__name__)

# SQLite's page cache for a run, in KiB. Its default (2 MB) is far smaller than a day's lines and
# their indexes: importing spills pages mid-transaction and matching's lookups re-read them.
SQLITE_CACHE_KIB = 64 * 1024


@dataclass
class RunReport:
    run: ReconciliationRun
    imported: list[Imported] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    days: list[DayOutcome] = field(default_factory=list)

    @property
    def new_differences(self) -> list[Difference]:
        return [d for day in self.days for d in day.new]


@dataclass(frozen=True)
class Incoming:
    """A file offered to a run: its name and a way to open its bytes (seekable, binary)."""

    name: str
    open: Callable[[], BinaryIO]
    source: str
    day: date | None = None


def run(
    files: Iterable[Incoming],
    *,
    trigger: str,
    actor: str = "system",
    days: Iterable[date] = (),
    progress: Callable[[str], None] | None = None,
    on_lines: Callable[[int], None] | None = None,
    unavailable: Iterable[tuple[str, str]] = (),
) -> RunReport:
    """Import `files`, then reconcile every day they touch (and `days`, and their neighbours
    that have files, whose boundary payments may now be judged)."""
    record = ReconciliationRun.objects.create(trigger=trigger[:32], actor=actor[:150])
    # Sources that could not be read are reported (and mailed) with the refused files.
    report = RunReport(run=record, refused=list(unavailable))
    touched: set[date] = set(days)
    with _tuned_connection():
        for incoming in files:
            if progress:
                progress(incoming.name)
            try:
                with incoming.open() as stream:
                    result = import_file(
                        stream,
                        name=incoming.name,
                        source=incoming.source,
                        actor=actor,
                        day=incoming.day,
                        on_lines=on_lines,
                    )
            except FileRejected as refusal:
                logger.warning("reconciliation file %s refused: %s", incoming.name, refusal.message)
                report.refused.append((incoming.name, str(refusal.message)))
                continue
            report.imported.append(result)
            if result.created:
                touched.add(result.file.day)
        report.days = reconcile_days(touched)
    record.finished_at = clock.now()
    record.days = [d.isoformat() for d in sorted(touched)]
    record.files_imported = sum(1 for i in report.imported if i.created)
    record.lines = sum(d.lines for d in report.days)
    record.new_differences = len(report.new_differences)
    record.errors = "\n".join(f"{name}: {reason}" for name, reason in report.refused)
    record.save()
    alert(report)
    return report


@contextmanager
def _tuned_connection() -> Iterator[None]:
    """The connection (a worker's, kept between tasks) set for a run's length, then set back.

    SQLite gets a large page cache. PostgreSQL gets no JIT: matching is a few queries over a
    day's million lines, and compiling each cost more than it saved (bench/reconcile.py).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('jit')")
            (before,) = cursor.fetchone()
            cursor.execute("SELECT set_config('jit', 'off', false)")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('jit', %s, false)", [before])
        return
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{int(SQLITE_CACHE_KIB)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def reconcile_days(days: Iterable[date]) -> list[DayOutcome]:
    """Match each day, plus imported neighbours so that boundary candidates get judged."""
    partner = partner_id()
    wanted = set(days)
    with_files = set(
        ReconciliationFile.objects.filter(
            kind=ReconciliationFile.Kind.TRANSACTION,
            partner=partner,
            superseded_by__isnull=True,
            day__in={d + timedelta(days=k) for d in wanted for k in (-1, 0, 1)},
        ).values_list("day", flat=True)
    )
    outcomes = []
    for day in sorted(d for d in with_files if any(abs((d - w).days) <= 1 for w in wanted)):
        outcome = reconcile_day(day, partner=partner)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def alert(report: RunReport) -> None:
    """Mail ADMINS the critical and high differences this run found first."""
    serious = [d for d in report.new_differences if d.severity in Difference.ALERT_SEVERITIES]
    if not serious and not report.refused:
        return
    lines = [
        f"{d.get_severity_display()}: {d.day} {d.get_kind_display()} {d.partner_transaction_id}"
        f" - {d.detail}"
        for d in serious
    ]
    lines += [f"Refused file {name}: {reason}" for name, reason in report.refused]
    open_critical = Difference.objects.filter(
        is_open=True, severity=Difference.Severity.CRITICAL
    ).count()
    subject = f"Reconciliation: {len(serious)} new critical or high differences"
    if not serious:
        subject = f"Reconciliation: {len(report.refused)} files refused"
    body = (
        "\n".join(lines)
        + f"\n\nOpen critical differences in total: {open_critical}."
        + "\nOpen the admin, Reconciliation, Differences, to act on them."
    )
    try:
        mail_admins(subject, body, fail_silently=False)
    except Exception:
        logger.exception("could not mail the admins about reconciliation run %s", report.run.pk)
