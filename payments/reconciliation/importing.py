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
from datetime import date, datetime
from typing import BinaryIO

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from payments import clock

from .exceptions import FileRejected
from .models import FileLine, ReconciliationFile
from .reading import FileReader, sniff

logger = logging.getLogger(__name__)

BATCH = 5000


@dataclass(frozen=True)
class Imported:
    file: ReconciliationFile
    created: bool  # False: the same bytes were imported before, nothing changed
    superseded: ReconciliationFile | None = None


def partner_id() -> str:
    return settings.ALIPAY["PARTNER_ID"]


def _columns(reader: FileReader) -> str:
    """The columns a row of this kind of file fills, file_id first; the rest stay NULL."""
    quote = connection.ops.quote_name
    fields = {f.attname: f.column for f in FileLine._meta.concrete_fields}
    return ", ".join(quote(fields[name]) for name in ("file_id", *reader.fields))


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
    if sniffed.nul_line is not None:
        raise FileRejected(
            _("Line %(line)d holds a NUL byte: the file is not text.") % {"line": sniffed.nul_line},
            line=sniffed.nul_line,
        )
    # The reader converts each distinct amount and time once, not once per line, into what the
    # database takes fastest: on SQLite (which stores these decimals as REAL whatever is sent)
    # a float, bound natively where a Decimal goes through a Python adapter per value; on
    # PostgreSQL the text of COPY.
    if connection.vendor == "postgresql":
        reader = FileReader(
            stream, name=name, encoding=sniffed.encoding, money=str, time=_copy_time, null="\\N"
        )
    else:
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
    times already in the driver's form (the reader converted them). Only the columns this kind
    of file fills are named, and the file's id is written into the statement: fewer values to
    bind per row (about a third less time per row on SQLite)."""
    if connection.vendor == "postgresql":
        _copy_rows(record.pk, reader, on_lines)
        return
    quote = connection.ops.quote_name
    marks = ", ".join([str(int(record.pk))] + ["%s"] * len(reader.fields))
    sql = f"INSERT INTO {quote(FileLine._meta.db_table)} ({_columns(reader)}) VALUES ({marks})"  # noqa: S608
    batch: list[tuple] = []
    append = batch.append
    with connection.cursor() as cursor:
        for parsed in reader.records():
            append(parsed)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                if on_lines:
                    on_lines(len(batch))
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            if on_lines:
                on_lines(len(batch))


def _copy_time(value: datetime) -> str:
    return value.isoformat(sep=" ")


# What COPY's text format reads as a tab, a newline, a carriage return or a backslash itself.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# The free-text fields of both kinds of row (ids, status, remark); the reader checked the rest.
_FREE_TEXT = (1, 2, -2, -1)


def _copy_line(row: tuple) -> tuple:
    """The row with its free-text fields escaped for COPY; the rare row that needs it."""
    out = list(row)
    for index in _FREE_TEXT:
        out[index] = out[index].translate(_COPY_ESCAPES)
    return tuple(out)


def _copy_rows(file_id: int, reader: FileReader, on_lines=None) -> None:
    """PostgreSQL: one COPY per file, many times faster than row inserts. Each row is written
    as COPY's text, formatted by one string operation (psycopg's write_row adapts every value
    on its own, at about four times the cost). A bad row raises inside the copy, which aborts
    it, and the file's transaction takes everything back."""
    quote = connection.ops.quote_name
    sql = f"COPY {quote(FileLine._meta.db_table)} ({_columns(reader)}) FROM STDIN"
    template = "\t".join([str(int(file_id)), "%d", *["%s"] * (len(reader.fields) - 1)]) + "\n"
    chunk: list[str] = []
    append = chunk.append
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in reader.records():
            # One check of the four free-text fields together; printable text holds no tab,
            # newline or carriage return, so only a backslash is left to look for.
            text = row[1] + row[2] + row[-2] + row[-1]
            if "\\" in text or not text.isprintable():
                row = _copy_line(row)
            append(template % row)
            if len(chunk) == BATCH:
                copy.write("".join(chunk))
                chunk.clear()
                if on_lines:
                    on_lines(BATCH)
        if chunk:
            copy.write("".join(chunk))
            if on_lines:
                on_lines(len(chunk))
