"""Fonts for e-tickets, chosen and registered once per process on first use (never at import).

Latin text uses the PDF standard fonts (Helvetica), which every viewer has and need no embedding.
Text a standard font cannot encode (Chinese, and anything else outside Windows-1252) uses a CJK
TrueType font embedded in the PDF, subset to the characters the document uses (reportlab's TTFont,
a few kilobytes per document): settings.TICKET_CJK_FONT, or when that is empty the first usable
file of settings.TICKET_CJK_FONT_CANDIDATES (Debian's fonts-droid-fallback, fonts-wqy-microhei).

Without such a font, and for characters the embedded font has no glyph for (Droid Sans Fallback
has no Cyrillic or Hangul), the text uses reportlab's built-in CID font STSong-Light: nothing is
embedded and the viewer supplies the glyphs from its own CJK fonts, which viewers without one
(poppler, many phone viewers) draw as boxes. `manage.py check` warns when that is all there is
(etickets.W001) and refuses a TICKET_CJK_FONT it cannot use (etickets.E003); a font that fails at
render time is logged and the CID font used, so tickets are still issued.

A mixed string ("2026年12月24日") is drawn in runs, Latin runs (digits, codes, names) in Helvetica:
the CJK fonts may lack Latin glyphs (Droid Sans Fallback has none), Helvetica never does. Neither
CJK font has a bold face; bold CJK text is drawn filled and stroked instead.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

logger = logging.getLogger(__name__)

LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
CID_FALLBACK = "STSong-Light"
# Characters of the tickets' own Chinese labels: a font without them is no CJK font.
CJK_SAMPLE = "电子门票日期时间票种价格订单姓名"

_lock = threading.Lock()
_resolved = False  # the embedded font has been looked for (and registered when found)
_embedded: str | None = None  # its registered name; None: the CID font is all there is
_cid_registered = False


class FontUnusable(ValueError):
    """A font file reportlab cannot embed, or one without Chinese glyphs."""


@dataclass(frozen=True)
class FontChoice:
    name: str
    fake_bold: bool  # draw filled and stroked: the font has no bold face


@lru_cache(maxsize=8)  # a parsed face is ~18 MB and 60 ms: once per file, shared by the check
def load_ttf(path: str) -> TTFont:
    """The TrueType font at `path` (the first face of a .ttc), or FontUnusable saying why."""
    if not Path(path).is_file():
        raise FontUnusable(f"{path} does not exist or is not a file")
    try:
        font = TTFont(f"EntradaCJK-{Path(path).stem}", path, subfontIndex=0)
    except Exception as exc:  # a damaged file can fail anywhere in reportlab's parser
        # CFF-outline fonts (NotoSansCJK .otf/.ttc) end here: "postscript outlines are not
        # supported"; so do fonts whose licence forbids embedding.
        raise FontUnusable(f"{path} is not a TrueType font reportlab can embed: {exc}") from exc
    missing = "".join(char for char in CJK_SAMPLE if ord(char) not in font.face.charToGlyph)
    if missing:
        raise FontUnusable(f"{path} has no glyphs for Chinese text (none for {missing!r})")
    return font


def find_ttf() -> tuple[TTFont | None, list[str]]:
    """The CJK TrueType font the settings choose, or None; and the problems met on the way.

    A configured TICKET_CJK_FONT is the only choice (no silent substitute for a typo); when it is
    empty, the first usable existing file of TICKET_CJK_FONT_CANDIDATES.
    """
    configured = settings.TICKET_CJK_FONT
    paths = [configured] if configured else settings.TICKET_CJK_FONT_CANDIDATES
    problems = []
    for path in paths:
        if not configured and not Path(path).exists():
            continue  # not installed: not a problem
        try:
            return load_ttf(str(path)), problems
        except FontUnusable as exc:
            problems.append(str(exc))
    return None, problems


def ensure_registered() -> None:
    """Choose and register the embedded CJK font once per process; cheap after the first call."""
    global _resolved, _embedded
    if _resolved:
        return
    with _lock:
        if _resolved:
            return
        font, problems = find_ttf()
        for problem in problems:
            logger.error("e-ticket CJK font unusable: %s", problem)
        if font is None:
            logger.warning(
                "no embeddable CJK font (TICKET_CJK_FONT); Chinese text on e-tickets uses the "
                "non-embedded %s, which some viewers draw as boxes",
                CID_FALLBACK,
            )
            _register_cid()
        else:
            pdfmetrics.registerFont(font)
            _embedded = font.fontName
        _resolved = True


def _register_cid() -> None:
    global _cid_registered
    if not _cid_registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
        _cid_registered = True


def _cid_font() -> str:
    if not _cid_registered:
        with _lock:
            _register_cid()
    return CID_FALLBACK


def _reset(*, setting: str, **kwargs) -> None:
    """Choose again after a test changes the font settings (override_settings)."""
    global _resolved, _embedded
    if setting in ("TICKET_CJK_FONT", "TICKET_CJK_FONT_CANDIDATES"):
        with _lock:
            _resolved, _embedded = False, None


setting_changed.connect(_reset)


def is_registered() -> bool:
    return _resolved


def embedded_font() -> str | None:
    """The registered name of the embedded CJK font; None when tickets use the CID font."""
    ensure_registered()
    return _embedded


def latin_encodable(text: str) -> bool:
    """Whether a standard PDF font can show `text` (reportlab encodes them as WinAnsi)."""
    if text.isascii():
        return True
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _has_glyphs(font_name: str, text: str) -> bool:
    glyphs = pdfmetrics.getFont(font_name).face.charToGlyph
    return all(ord(char) in glyphs for char in text if not latin_encodable(char))


def font_for(text: str, *, bold: bool = False) -> FontChoice:
    """One font for the whole of `text`: Helvetica when it can, else a CJK font.

    Rendering draws `runs` instead; this is for callers that want a single font (benchmarks).
    """
    if latin_encodable(text):
        return FontChoice(LATIN_BOLD if bold else LATIN, False)
    embedded = embedded_font()
    if embedded and _has_glyphs(embedded, text):
        return FontChoice(embedded, bold)
    return FontChoice(_cid_font(), bold)


def string_width(text: str, font: FontChoice, size: float) -> float:
    return pdfmetrics.stringWidth(text, font.name, size)


def runs(text: str, *, bold: bool = False) -> tuple[tuple[str, FontChoice], ...]:
    """`text` split into runs of one font each: Latin-encodable characters, and the rest."""
    if latin_encodable(text):
        return ((text, FontChoice(LATIN_BOLD if bold else LATIN, False)),)
    return _mixed_runs(text, bold, embedded_font())


@lru_cache(maxsize=2048)  # labels and attraction texts repeat on every page
def _mixed_runs(text: str, bold: bool, embedded: str | None) -> tuple[tuple[str, FontChoice], ...]:
    latin = FontChoice(LATIN_BOLD if bold else LATIN, False)
    glyphs = pdfmetrics.getFont(embedded).face.charToGlyph if embedded else {}
    cjk = FontChoice(embedded, bold) if embedded else None
    cid = None  # registered only when a character needs it
    result: list[tuple[str, FontChoice]] = []
    current, current_font = "", None
    for char in text:
        if latin_encodable(char):
            font = latin
        elif cjk is not None and ord(char) in glyphs:
            font = cjk
        else:
            font = cid = cid or FontChoice(_cid_font(), bold)
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
