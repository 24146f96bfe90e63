"""80 mm receipts as PDF: one layout for every slip Entrada prints, and a payment's own receipt.

Counter printers take 80 mm paper (72 mm printable); a receipt is one page as long as its rows.
The layout knows rows only (a left text with an optional right-aligned amount, a centred line, a
rule), so the payment receipt here (for the partner API: a terminal without its own printer
logic prints it), the box office's sale, refund and cancel receipts and its Z reports (ticketing,
which builds its own rows and passes its own fonts) all come out the same way.

Payments never imports ticketing: the default fonts are reportlab's Helvetica for text Windows-1252
can encode and its built-in CID font STSong-Light for the rest (Chinese), which embeds nothing.
A caller with better fonts passes `runs`.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from payments.alipay import money
from payments.models import Refund

PAPER_WIDTH = 80 * mm
MARGIN = 4 * mm
LINE_GAP = 1.35  # line height as a multiple of the font size
INK = (0, 0, 0)

# (text, font name, fake bold): a run of one font. A font without a bold face is filled and
# stroked instead (fake bold).
Run = tuple[str, str, bool]
Runs = Callable[[str, bool], Sequence[Run]]

_cid_lock = threading.Lock()
_cid_ready = False
_save_lock = threading.Lock()


@dataclass(frozen=True)
class Row:
    """One printed line: `left` (wrapped when long) and, right-aligned, `right`."""

    left: str = ""
    right: str = ""
    bold: bool = False
    size: float = 8.5
    center: bool = False
    rule: bool = False  # a dashed line across the paper; texts ignored


@dataclass(frozen=True)
class Receipt:
    title: str  # the PDF's title, and the first line, large and centred
    rows: Sequence[Row] = field(default_factory=tuple)


def rule() -> Row:
    return Row(rule=True)


def _latin(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _cid_font() -> str:
    global _cid_ready
    with _cid_lock:
        if not _cid_ready:
            pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
            _cid_ready = True
    return "STSong-Light"


def standard_runs(text: str, bold: bool) -> Sequence[Run]:
    """Helvetica where Windows-1252 can encode the text, STSong-Light for the rest."""
    latin = "Helvetica-Bold" if bold else "Helvetica"
    if _latin(text):
        return ((text, latin, False),)
    result: list[Run] = []
    for char in text:
        font, fake = (latin, False) if _latin(char) else (_cid_font(), bold)
        if result and result[-1][1] == font:
            result[-1] = (result[-1][0] + char, font, fake)
        else:
            result.append((char, font, fake))
    return tuple(result)


class _Writer:
    def __init__(self, runs: Runs):
        self.runs = runs

    def width(self, text: str, size: float, bold: bool) -> float:
        return sum(pdfmetrics.stringWidth(t, f, size) for t, f, _fake in self.runs(text, bold))

    def fit(self, text: str, size: float, bold: bool, width: float) -> str:
        if self.width(text, size, bold) <= width:
            return text
        while text and self.width(text + "…", size, bold) > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def wrap(self, text: str, size: float, bold: bool, width: float) -> list[str]:
        if not text or self.width(text, size, bold) <= width:
            return [text]
        words = text.split(" ") if " " in text else list(text)
        joiner = " " if " " in text else ""
        lines, current = [], ""
        for word in words:
            candidate = f"{current}{joiner}{word}" if current else word
            if self.width(candidate, size, bold) <= width or not current:
                current = candidate
                continue
            lines.append(current)
            current = word
        lines.append(current)
        return [self.fit(line, size, bold, width) for line in lines]

    def draw(self, canvas: Canvas, x: float, y: float, text: str, size: float, bold: bool):
        parts = self.runs(text, bold)
        canvas.saveState()
        canvas.setFillColorRGB(*INK)
        canvas.setStrokeColorRGB(*INK)
        canvas.setLineWidth(size * 0.035)
        text_object = canvas.beginText(x, y)
        for part, font, fake_bold in parts:
            text_object.setFont(font, size)
            text_object.setTextRenderMode(2 if fake_bold else 0)
            text_object.textOut(part)
        canvas.drawText(text_object)
        canvas.restoreState()


def _layout(receipt: Receipt, writer: _Writer) -> list[tuple[str, float, tuple]]:
    """[(kind, height, args)]: every printed line with its height, before drawing."""
    inner = PAPER_WIDTH - 2 * MARGIN
    out: list[tuple[str, float, tuple]] = []
    for line in writer.wrap(receipt.title, 12, True, inner):
        out.append(("center", 12 * LINE_GAP, (line, 12.0, True)))
    for row in receipt.rows:
        if row.rule:
            out.append(("rule", 8.0, ()))
            continue
        height = row.size * LINE_GAP
        if row.center:
            for line in writer.wrap(row.left, row.size, row.bold, inner):
                out.append(("center", height, (line, row.size, row.bold)))
            continue
        right_width = writer.width(row.right, row.size, row.bold) if row.right else 0.0
        room = inner - right_width - (6 if row.right else 0)
        lines = writer.wrap(row.left, row.size, row.bold, max(room, inner / 3))
        if row.right and len(lines) > 1 and room < inner / 3:
            lines = writer.wrap(row.left, row.size, row.bold, inner)
        for index, line in enumerate(lines):
            right = row.right if index == len(lines) - 1 else ""
            out.append(("pair", height, (line, right, row.size, row.bold)))
    return out


def render_receipt_pdf(
    receipt: Receipt, *, runs: Runs | None = None, save_lock: threading.Lock | None = None
) -> bytes:
    """The receipt as a one-page PDF 80 mm wide and as long as its rows.

    `save_lock`: a caller embedding a TrueType font shared with other renderers passes the lock
    they save under (reportlab's subsetter reads the shared parsed font through one cursor).
    """
    writer = _Writer(runs or standard_runs)
    lines = _layout(receipt, writer)
    height = sum(h for _kind, h, _args in lines) + 2 * MARGIN + 6
    rl_config.useA85 = 0
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(PAPER_WIDTH, height), pageCompression=1, invariant=1)
    canvas.setTitle(receipt.title)
    canvas.setAuthor("Entrada")
    canvas.setCreator("Entrada")
    y = height - MARGIN
    for kind, line_height, args in lines:
        y -= line_height
        if kind == "rule":
            canvas.saveState()
            canvas.setDash(2, 2)
            canvas.setLineWidth(0.6)
            canvas.line(MARGIN, y + line_height / 2, PAPER_WIDTH - MARGIN, y + line_height / 2)
            canvas.restoreState()
        elif kind == "center":
            text, size, bold = args
            x = (PAPER_WIDTH - writer.width(text, size, bold)) / 2
            writer.draw(canvas, x, y + size * 0.3, text, size, bold)
        else:
            left, right, size, bold = args
            writer.draw(canvas, MARGIN, y + size * 0.3, left, size, bold)
            if right:
                x = PAPER_WIDTH - MARGIN - writer.width(right, size, bold)
                writer.draw(canvas, x, y + size * 0.3, right, size, bold)
    canvas.showPage()
    with save_lock or _save_lock:
        canvas.save()
    return buffer.getvalue()


# --- Texts shared by the receipts ----------------------------------------------------------------


def format_money(amount: Decimal | None, currency: str) -> str:
    """`CNY 120.00`, `JPY 3,000`: the currency's own minor units, the ISO code as symbol."""
    if amount is None:
        return ""
    places = money.exponent(currency)
    value = Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{currency} {value:,.{places}f}"


def receipt_time_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(getattr(settings, "RECEIPT_TIME_ZONE", "Asia/Shanghai"))


def format_time(moment: dt.datetime | None, tz: zoneinfo.ZoneInfo | None = None) -> str:
    """`2026-12-02 14:03 (Asia/Shanghai)`: a time on paper says which zone it is in."""
    if moment is None:
        return ""
    zone = tz or receipt_time_zone()
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


def alipay_rows(payment) -> list[Row]:
    """What Alipay said about a payment: its transaction id, the amount, the CNY it charged."""
    rows = [Row(_("Paid with Alipay"), format_money(payment.amount, payment.currency), bold=True)]
    if payment.currency != "CNY" and payment.amount_cny is not None:
        rows.append(Row(_("Charged in CNY"), format_money(payment.amount_cny, "CNY")))
        if payment.exchange_rate is not None:
            rows.append(Row(_("Exchange rate"), f"{payment.exchange_rate.normalize():f}"))
    if payment.alipay_trans_id:
        rows.append(Row(_("Alipay transaction")))
        rows.append(Row(payment.alipay_trans_id, size=8))
    if payment.buyer_login_masked:
        rows.append(Row(_("Alipay account"), payment.buyer_login_masked))
    return rows


def payment_receipt(payment, language: str = "en") -> Receipt:
    """A payment's receipt: what it paid, Alipay's ids, and the refunds that succeeded."""
    with translation.override(language):
        rows = [
            Row(payment.description, center=True),
            rule(),
            Row(_("Payment"), str(payment.uuid)[:18]),
            Row(_("State"), str(payment.get_state_display())),
            Row(_("Date"), format_time(payment.paid_at or payment.created_at)),
        ]
        if payment.store_id:
            rows.append(Row(_("Store"), payment.store_id))
        if payment.terminal_id:
            rows.append(Row(_("Terminal"), payment.terminal_id))
        rows.append(rule())
        rows.extend(alipay_rows(payment))
        refunds = [
            refund
            for refund in payment.refunds.all().order_by("created_at", "id")
            if refund.state == Refund.State.SUCCEEDED
        ]
        if refunds:
            rows.append(rule())
            for refund in refunds:
                rows.append(
                    Row(
                        _("Refunded %(date)s") % {"date": format_time(refund.succeeded_at)},
                        "-" + format_money(refund.amount, payment.currency),
                    )
                )
        rows.append(rule())
        rows.append(Row(_("Thank you."), center=True))
        return Receipt(title=_("Receipt"), rows=tuple(rows))


def payment_receipt_pdf(payment, language: str = "en") -> bytes:
    return render_receipt_pdf(payment_receipt(payment, language))
