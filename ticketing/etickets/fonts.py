"""Fonts for e-tickets, registered once per process on first use (never at import).

Latin text uses the PDF standard fonts (Helvetica), which every viewer has and need no embedding.
Text a standard font cannot encode (Chinese, and anything else outside Windows-1252) uses
reportlab's built-in CID font STSong-Light: the viewer supplies the glyphs from its own CJK fonts,
so no font file ships with Entrada and the PDF stays small. STSong-Light has no bold face; bold
CJK text is drawn filled and stroked instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
CJK = "STSong-Light"

_lock = threading.Lock()
_registered = False


@dataclass(frozen=True)
class FontChoice:
    name: str
    fake_bold: bool  # draw filled and stroked: the font has no bold face


def ensure_registered() -> None:
    """Register the CID font with reportlab once per process; cheap after the first call."""
    global _registered
    if _registered:
        return
    with _lock:
        if not _registered:
            pdfmetrics.registerFont(UnicodeCIDFont(CJK))
            _registered = True


def is_registered() -> bool:
    return _registered


def latin_encodable(text: str) -> bool:
    """Whether a standard PDF font can show `text` (reportlab encodes them as WinAnsi)."""
    if text.isascii():
        return True
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def font_for(text: str, *, bold: bool = False) -> FontChoice:
    """The font to draw `text` with: Helvetica when it can, else the CJK font."""
    if latin_encodable(text):
        return FontChoice(LATIN_BOLD if bold else LATIN, False)
    ensure_registered()
    return FontChoice(CJK, bold)


def string_width(text: str, font: FontChoice, size: float) -> float:
    return pdfmetrics.stringWidth(text, font.name, size)
