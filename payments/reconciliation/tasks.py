"""The daily reconciliation, scheduled by migration (0002_daily_schedule) after Alipay's drop.

It imports yesterday's files (Beijing) from every configured source and reconciles what they
touch. Re-running it is harmless: files already imported are recognised by their hash, and a
day matched again updates the same differences.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.conf import settings

from payments import clock
from payments.alipay.beijing import beijing

from .exceptions import SourceUnavailable
from .runs import RunReport, run
from .sources import collect

logger = logging.getLogger(__name__)


def yesterday() -> date:
    return beijing(clock.now()).date() - timedelta(days=1)


def daily(day: str | None = None) -> int:
    """Task entry point; returns how many files were newly imported."""
    report = reconcile_sources(
        date.fromisoformat(day) if day else yesterday(), settings.RECONCILIATION_SOURCES
    )
    return report.run.files_imported


def reconcile_sources(
    day: date, sources, *, trigger: str = "daily", progress=None, on_lines=None
) -> RunReport:
    incoming, problems = [], []
    for source in sources:
        try:
            incoming += collect(source, day)
        except SourceUnavailable as exc:
            logger.error("reconciliation source %s: %s", source, exc.message)
            problems.append((source, str(exc.message)))
    return run(
        incoming,
        trigger=trigger,
        days=[day],
        progress=progress,
        on_lines=on_lines,
        unavailable=problems,
    )
