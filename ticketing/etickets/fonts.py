"""Fonts for e-tickets, registered once per process on first use (never at import).

Latin text uses the PDF standard fonts (Helvetica), which every viewer has and need no embedding.
Text a standard font cannot encode (Chinese, and anything else outside Windows-1252) uses
reportlab's built-in CID font STSong-Light: the viewer supplies the glyphs from its own CJK fonts,
so no font file ships with Entrada and the PDF stays small. A mixed string ("2026年12月24日") is
drawn in runs, Latin runs (digits, codes, names) in Helvetica: a viewer's substitute CJK font may
lack Latin glyphs, Helvetica never does. STSong-Light has no bold face; bold CJK text is drawn
filled and stroked instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

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


def runs(text: str, *, bold: bool = False) -> tuple[tuple[str, FontChoice], ...]:
    """`text` split into runs of one font each: Latin-encodable characters, and the rest."""
    if latin_encodable(text):
        return ((text, FontChoice(LATIN_BOLD if bold else LATIN, False)),)
    ensure_registered()
    return _mixed_runs(text, bold)


@lru_cache(maxsize=2048)  # labels and attraction texts repeat on every page
def _mixed_runs(text: str, bold: bool) -> tuple[tuple[str, FontChoice], ...]:
    latin, cjk = FontChoice(LATIN_BOLD if bold else LATIN, False), FontChoice(CJK, bold)
    result: list[tuple[str, FontChoice]] = []
    current, current_font = "", None
    for char in text:
        font = latin if latin_encodable(char) else cjk
        if font is not current_font and current:
            result.append((current, current_font))
            current = ""
        current += char
        current_font = font
    if current:
        result.append((current, current_font))
    return tuple(result)


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """Width of `text` in points as `runs` draws it."""
    return sum(string_width(part, font, size) for part, font in runs(text, bold=bold))
