"""The e-ticket PDF: one A6 page per admission, drawn straight onto a reportlab canvas.

The renderer takes plain `TicketFace` values, not models, so it is benchmarked and tested without a
database; `faces.py` builds faces from an order. Speed matters (issue 4: pretix takes ~72 ms a
ticket, the target is 7 ms), hence:

- the QR is a segno matrix drawn as filled rectangles, one per horizontal run of dark modules,
  written as integer PDF operators under one scaling transform (docs/stack.md: rectangles take 6 ms
  a ticket, against 30-35 ms with reportlab's QrCodeWidget; integer operators halve that again);
- segno is given a fixed mask: choosing the "best" of the 8 masks costs ~6.5 ms per code and buys
  nothing for a token of random-looking signature bytes (every mask is a valid QR; the tests
  decode rendered tickets with zbarimg to prove it);
- fonts are registered once per process (fonts.py), labels translated once per document
  (context "eticket", so the shop's catalogue may translate "Date" or "Order" differently).

`Canvas(..., invariant=1)` makes the bytes depend on the faces only (no timestamp, fixed document
id), so the same order always yields the same PDF.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import segno
from django.utils import translation
from django.utils.translation import npgettext, pgettext
from reportlab import rl_config
from reportlab.lib.pagesizes import A6
from reportlab.pdfgen.canvas import Canvas

from . import fonts

_SAVE_LOCK = threading.Lock()

PAGE_WIDTH, PAGE_HEIGHT = A6
MARGIN = 18.0
QR_MASK = 0  # any fixed mask is valid; see the module docstring
QR_ERROR = "m"  # 15% of the code may be damaged or dirty and it still scans
QR_MODULE = 3.6  # points per module: a version-6 code (41 modules) is 148 pt, 52 mm
QR_QUIET_MODULES = 4  # the white border the QR standard requires around the code
QR_VERSION6_MODULES = 41  # our 154-character tokens always make a version-6 code
INK = (0.1, 0.1, 0.12)
MUTED = (0.38, 0.38, 0.42)
BAND = (0.12, 0.2, 0.36)


@dataclass(frozen=True)
class TicketFace:
    """Everything printed on one ticket page, already formatted for the buyer's language.

    Dates and times are in the attraction's time zone; `price_text` is formatted in the order's
    currency (no decimals for JPY). `token` is the signed QR content (tokens.py).
    """

    attraction_name: str
    address: str
    date_text: str
    slot_text: str
    timezone_name: str
    ticket_type_name: str
    price_text: str
    order_code: str
    buyer_name: str
    token: str
    language: str
    number: int = 1  # "ticket 3 of 7" within the order
    count: int = 1
    part: int = 1  # a family ticket's admissions: part 2 of 4
    parts: int = 1
    reference: str = ""  # short ticket reference staff can read out (from the uuid)


@dataclass(frozen=True)
class _Labels:
    """The page's fixed texts in one language, looked up once per document."""

    heading: str
    date: str
    time: str
    ticket: str
    price: str
    order: str
    name: str
    instructions: str
    reference: str


def _labels(language: str) -> _Labels:
    with translation.override(language):
        return _Labels(
            heading=pgettext("eticket", "E-ticket"),
            date=pgettext("eticket", "Date"),
            time=pgettext("eticket", "Time"),
            ticket=pgettext("eticket", "Ticket type"),
            price=pgettext("eticket", "Price"),
            order=pgettext("eticket", "Order"),
            name=pgettext("eticket", "Name"),
            instructions=pgettext(
                "eticket", "Show this code at the entrance. Each code admits once."
            ),
            reference=pgettext("eticket", "Ref."),
        )


def _counter(language: str, number: int, count: int) -> str:
    with translation.override(language):
        return pgettext("eticket", "Ticket %(number)d of %(count)d") % {
            "number": number,
            "count": count,
        }


def _part_text(language: str, part: int, parts: int) -> str:
    with translation.override(language):
        return npgettext(
            "eticket", "Admission %(part)d of %(parts)d", "Admission %(part)d of %(parts)d", parts
        ) % {"part": part, "parts": parts}


def _draw_text(
    canvas: Canvas,
    x: float,
    y: float,
    text: str,
    size: float,
    *,
    bold: bool = False,
    color: tuple[float, float, float] = INK,
    anchor: str = "left",
) -> None:
    parts = fonts.runs(text, bold=bold)
    if anchor != "left":
        width = sum(fonts.string_width(part, font, size) for part, font in parts)
        x -= width if anchor == "right" else width / 2
    canvas.setFillColorRGB(*color)
    if len(parts) == 1 and not parts[0][1].fake_bold:
        canvas.setFont(parts[0][1].name, size)
        canvas.drawString(x, y, text)
        return
    # Several fonts on one line, or fake bold: one text object, switching font per run.
    # No bold CJK face: its runs are filled and stroked (text render mode 2) to thicken them.
    # saveState/restoreState keep the render mode and stroke from leaking to later text.
    canvas.saveState()
    canvas.setStrokeColorRGB(*color)
    canvas.setLineWidth(size * 0.035)
    text_object = canvas.beginText(x, y)
    for part, font in parts:
        text_object.setFont(font.name, size)
        text_object.setTextRenderMode(2 if font.fake_bold else 0)
        text_object.textOut(part)
    canvas.drawText(text_object)
    canvas.restoreState()


def _fit(text: str, size: float, width: float, *, bold: bool = False) -> str:
    """`text` cut with an ellipsis so that it fits in `width` points on one line."""
    if fonts.text_width(text, size, bold=bold) <= width:
        return text
    ellipsis = "…"  # in Windows-1252, so Helvetica draws it whatever the script
    while text and fonts.text_width(text + ellipsis, size, bold=bold) > width:
        text = text[:-1]
    return text.rstrip() + ellipsis


def _wrap(text: str, size: float, width: float, max_lines: int, *, bold: bool = False) -> list:
    """Lines of `text` that fit `width`: by words, or by characters for scripts without spaces."""
    if fonts.text_width(text, size, bold=bold) <= width:
        return [text]
    words = text.split(" ") if " " in text else list(text)
    joiner = " " if " " in text else ""
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current}{joiner}{word}" if current else word
        if fonts.text_width(candidate, size, bold=bold) <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
    lines.append(current)
    if len(lines) > max_lines:
        rest = joiner.join(lines[max_lines - 1 :])
        lines = [*lines[: max_lines - 1], _fit(rest + " …", size, width, bold=bold)]
    return [_fit(line, size, width, bold=bold) for line in lines]


def qr_operators(token: str, x: float, y: float, module: float) -> tuple[str, int]:
    """PDF operators drawing the QR of `token` with its lower-left corner at (x, y).

    One rectangle per horizontal run of dark modules (about a third of one-per-module), all
    filled at once. A `cm` transform scales the grid to `module` points, so every rectangle has
    small integer coordinates: formatting them is a plain `str()` of ints, where reportlab's own
    path API would format ~1800 floats per code with its (slow, pure Python) number formatter.
    """
    matrix = segno.make_qr(token, error=QR_ERROR, mask=QR_MASK, boost_error=False).matrix
    size = len(matrix)
    ops = ["q", "0 g", f"{module:.4f} 0 0 {module:.4f} {x:.3f} {y:.3f} cm"]
    append = ops.append
    for row_index, row in enumerate(matrix):
        row_y = size - 1 - row_index
        start = -1
        for column, dark in enumerate(row):
            if dark:
                if start < 0:
                    start = column
            elif start >= 0:
                append(f"{start} {row_y} {column - start} 1 re")
                start = -1
        if start >= 0:
            append(f"{start} {row_y} {size - start} 1 re")
    ops += ["f", "Q"]
    return "\n".join(ops), size


def draw_qr(canvas: Canvas, token: str, center_x: float, y: float, module: float) -> float:
    """Draw the QR of `token` centred on `center_x`, bottom edge at `y`; returns its side.

    The operators go in with `addLiteral` inside their own q/Q pair, so the canvas's graphics
    state (colours, fonts) is exactly as before afterwards.
    """
    side = QR_VERSION6_MODULES * module
    operators, size = qr_operators(token, center_x - side / 2, y, module)
    if size != QR_VERSION6_MODULES:  # a longer token than ours: centre on its real size
        side = size * module
        operators, size = qr_operators(token, center_x - side / 2, y, module)
    canvas.addLiteral(operators)
    return side


def _draw_field(
    canvas: Canvas, x: float, y: float, width: float, label: str, value: str, size: float = 11
) -> None:
    _draw_text(canvas, x, y, _fit(label.upper(), 6.5, width), 6.5, color=MUTED)
    _draw_text(canvas, x, y - size - 2, _fit(value, size, width, bold=True), size, bold=True)


def _draw_page(canvas: Canvas, face: TicketFace, labels: _Labels) -> None:
    content_width = PAGE_WIDTH - 2 * MARGIN
    column_width = content_width / 2 - 6
    right_column = MARGIN + content_width / 2 + 6

    # Header band: what this is, and which ticket of the order.
    band_height = 24.0
    canvas.setFillColorRGB(*BAND)
    canvas.rect(0, PAGE_HEIGHT - band_height, PAGE_WIDTH, band_height, stroke=0, fill=1)
    band_y = PAGE_HEIGHT - band_height + 8.5
    _draw_text(canvas, MARGIN, band_y, labels.heading, 9, bold=True, color=(1, 1, 1))
    counter = _counter(face.language, face.number, face.count)
    _draw_text(canvas, PAGE_WIDTH - MARGIN, band_y, counter, 8.5, color=(1, 1, 1), anchor="right")

    y = PAGE_HEIGHT - band_height - 22
    for line in _wrap(face.attraction_name, 14, content_width, 2, bold=True):
        _draw_text(canvas, MARGIN, y, line, 14, bold=True)
        y -= 17
    for line in _wrap(face.address, 8, content_width, 2) if face.address else ():
        _draw_text(canvas, MARGIN, y, line, 8, color=MUTED)
        y -= 10
    y -= 2
    canvas.setStrokeColorRGB(0.82, 0.82, 0.85)
    canvas.setLineWidth(0.6)
    canvas.line(MARGIN, y, PAGE_WIDTH - MARGIN, y)

    y -= 14
    _draw_field(canvas, MARGIN, y, column_width, labels.date, face.date_text)
    _draw_field(canvas, right_column, y, column_width, labels.time, face.slot_text)
    if face.timezone_name:
        _draw_text(canvas, right_column, y - 24, face.timezone_name, 6.5, color=MUTED)
    y -= 36
    ticket_type = face.ticket_type_name
    _draw_field(canvas, MARGIN, y, column_width, labels.ticket, ticket_type)
    _draw_field(canvas, right_column, y, column_width, labels.price, face.price_text)
    if face.parts > 1:
        part = _part_text(face.language, face.part, face.parts)
        _draw_text(canvas, MARGIN, y - 24, _fit(part, 6.5, column_width), 6.5, color=MUTED)
    y -= 36
    _draw_field(canvas, MARGIN, y, column_width, labels.order, face.order_code)
    _draw_field(canvas, right_column, y, column_width, labels.name, face.buyer_name)

    # The QR, centred in the space left, with its quiet zone kept clear of any drawing.
    qr_bottom = 56.0
    draw_qr(canvas, face.token, PAGE_WIDTH / 2, qr_bottom, QR_MODULE)
    footer_y = qr_bottom - QR_QUIET_MODULES * QR_MODULE - 6
    if face.reference:
        reference = f"{labels.reference} {face.reference}"
        _draw_text(canvas, PAGE_WIDTH / 2, footer_y, reference, 7, color=MUTED, anchor="center")
    instructions = _fit(labels.instructions, 7, content_width)
    _draw_text(canvas, PAGE_WIDTH / 2, footer_y - 10, instructions, 7, color=MUTED, anchor="center")


def render_tickets_pdf(faces: Sequence[TicketFace], *, title: str = "") -> bytes:
    """The PDF of `faces`, one page each, as bytes (deterministic for the same faces)."""
    if not faces:
        raise ValueError("an e-ticket PDF needs at least one ticket")
    # Compressed streams stay binary: reportlab's default ASCII85 wrapping (for 7-bit channels
    # nobody uses for PDFs any more) costs a quarter of the render time and 25% more bytes.
    rl_config.useA85 = 0
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A6, pageCompression=1, invariant=1)
    canvas.setTitle(title or faces[0].order_code)
    canvas.setAuthor("Entrada")
    canvas.setCreator("Entrada")
    labels: dict[str, _Labels] = {}
    for face in faces:
        page_labels = labels.get(face.language)
        if page_labels is None:
            page_labels = labels[face.language] = _labels(face.language)
        _draw_page(canvas, face, page_labels)
        canvas.showPage()
    # Saving subsets the embedded TrueType font, and reportlab's subsetter reads the one shared,
    # parsed font through a cursor of its own: two threads at once corrupt each other's subset.
    with _SAVE_LOCK:
        canvas.save()
    return buffer.getvalue()
