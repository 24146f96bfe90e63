"""Importing one file: all of it in one transaction, or nothing.

Every source (upload, watched folder, SFTP, sandbox, command line) hands a binary stream here.
The bytes are hashed first: a file already imported changes nothing. Rows are inserted in
batches with executemany while they are read, so a file of a million lines never sits in memory
whole; a bad row anywhere raises FileRejected and the transaction takes back the rows before it.
A new file for a day and kind that already has one supersedes it (the old rows stay, for the
record; matching reads only current files).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from payments import clock

from .exceptions import FileRejected
from .models import FileLine, ReconciliationFile
from .reading import RECORD_FIELDS, FileReader, sniff

logger = logging.getLogger(__name__)

BATCH = 5000
_COLUMNS = ["file_id", *RECORD_FIELDS]


@dataclass(frozen=True)
class Imported:
    file: ReconciliationFile
    created: bool  # False: the same bytes were imported before, nothing changed
    superseded: ReconciliationFile | None = None


def partner_id() -> str:
    return settings.ALIPAY["PARTNER_ID"]


def _insert_sql() -> str:
    quote = connection.ops.quote_name
    fields = {f.attname: f.column for f in FileLine._meta.concrete_fields}
    columns = ", ".join(quote(fields[name]) for name in _COLUMNS)
    marks = ", ".join(["%s"] * len(_COLUMNS))
    return f"INSERT INTO {quote(FileLine._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608


def import_file(
    stream: BinaryIO,
    *,
    name: str,
    source: str,
    actor: str = "system",
    day: date | None = None,
    on_lines: Callable[[int], None] | None = None,
) -> Imported:
    """Import a transaction or settlement file (kind told by its header). Raises FileRejected."""
    sniffed = sniff(stream)
    existing = ReconciliationFile.objects.filter(content_hash=sniffed.content_hash).first()
    if existing is not None:
        logger.info("reconciliation file %s already imported as %s", name, existing.pk)
        return Imported(file=existing, created=False)
    if sniffed.size == 0:
        raise FileRejected(_("The file is empty."))
    # SQLite stores these decimals as REAL whatever is sent; a float binds natively where a
    # Decimal goes through a Python adapter per value (the same double either way). The reader
    # converts each distinct amount and time once, not once per line.
    reader = FileReader(
        stream,
        name=name,
        encoding=sniffed.encoding,
        money=float if connection.vendor == "sqlite" else None,
        time=connection.ops.adapt_datetimefield_value,
    )
    try:
        with transaction.atomic():
            header = reader.open(partner=partner_id(), day=day)
            record = ReconciliationFile.objects.create(
                kind=header.kind,
                day=header.day,
                partner=header.partner,
                name=name[:255],
                source=source,
                content_hash=sniffed.content_hash,
                encoding=sniffed.encoding,
                imported_at=clock.now(),
                imported_by=actor[:150],
            )
            _store_rows(record, reader, on_lines)
            reader.finish()
            previous = list(
                ReconciliationFile.objects.filter(
                    kind=header.kind,
                    day=header.day,
                    partner=header.partner,
                    superseded_by__isnull=True,
                ).exclude(pk=record.pk)
            )
            ReconciliationFile.objects.filter(pk__in=[p.pk for p in previous]).update(
                superseded_by=record
            )
            ReconciliationFile.objects.filter(pk=record.pk).update(line_count=reader.count)
            record.line_count = reader.count
    finally:
        reader.text.detach()  # the caller owns the stream; the wrapper must not close it
    if connection.vendor == "postgresql":
        # A day's file can double the table: without fresh statistics the planner keeps the
        # plans it chose for a small table for matching's joins until autovacuum comes round.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(FileLine._meta.db_table)}")
    logger.info(
        "imported %s file %s for %s: %d lines (%s)",
        header.kind,
        name,
        header.day,
        record.line_count,
        source,
    )
    return Imported(file=record, created=True, superseded=previous[0] if previous else None)


def _store_rows(record: ReconciliationFile, reader: FileReader, on_lines=None) -> None:
    """Rows go in as plain tuples, BATCH per executemany: no model instances, and amounts and
    times already in the driver's form (the reader converted them)."""
    file_id = record.pk
    if connection.vendor == "postgresql":
        _copy_rows(file_id, reader, on_lines)
        return
    sql = _insert_sql()
    batch: list[tuple] = []
    append = batch.append
    with connection.cursor() as cursor:
        for parsed in reader.records():
            append((file_id, *parsed))
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                if on_lines:
                    on_lines(len(batch))
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            if on_lines:
                on_lines(len(batch))


def _copy_rows(file_id: int, reader: FileReader, on_lines=None) -> None:
    """PostgreSQL: one COPY per file, many times faster than row inserts. A bad row raises
    inside the copy, which aborts it, and the file's transaction takes everything back."""
    quote = connection.ops.quote_name
    fields = {f.attname: f.column for f in FileLine._meta.concrete_fields}
    columns = ", ".join(quote(fields[name]) for name in _COLUMNS)
    sql = f"COPY {quote(FileLine._meta.db_table)} ({columns}) FROM STDIN"
    done = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        write = copy.write_row
        for parsed in reader.records():
            write((file_id, *parsed))
            done += 1
            if on_lines and done == BATCH:
                on_lines(done)
                done = 0
    if on_lines and done:
        on_lines(done)
