"""Report tables as files: CSV always, XLSX through XlsxWriter.

Amounts are written as plain decimals with the currency's minor units, never formatted with a
locale's separators, so a spreadsheet reads them as numbers.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import xlsxwriter

from .queries import Table


def _cell(value) -> str | int | float:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([str(column) for column in table.columns])
    for row in table.rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def to_xlsx(table: Table) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(table.name[:31])
    bold = book.add_format({"bold": True})
    for column, header in enumerate(table.columns):
        sheet.write_string(0, column, str(header), bold)
        sheet.set_column(column, column, max(12, len(str(header)) + 2))
    for row_number, row in enumerate(table.rows, start=1):
        for column, value in enumerate(row):
            if isinstance(value, Decimal):
                # Numbers, so sums work; the text of the exact value is the CSV's job.
                sheet.write_number(row_number, column, float(value))
            elif isinstance(value, int | float):
                sheet.write_number(row_number, column, value)
            else:
                sheet.write_string(row_number, column, str(value))
    book.close()
    return out.getvalue()
