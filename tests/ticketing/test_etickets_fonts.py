"""The CJK font of e-tickets: an embedded TrueType subset when one is installed, else STSong-Light.

The embedded-font tests use Debian's fonts-droid-fallback (`make system-deps` installs it) and skip
with the reason without it. Settings changes (the `settings` fixture) make fonts.py choose again.
"""

import io
import threading
from pathlib import Path

import pytest
from django.core import checks
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from ticketing.etickets import fonts
from ticketing.etickets.pdf import render_tickets_pdf

from .pdf_helpers import face, pdf_text

DROID = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # TrueType, but no Chinese glyphs
CHINESE = dict(
    attraction_name="故宫博物院",
    address="北京市东城区景山前街4号",
    date_text="2026年12月24日 星期四",
    ticket_type_name="成人票",
    buyer_name="李华",
    language="zh-hans",
)
CHINESE_TEXTS = ("故宫博物院", "北京市东城区景山前街4号", "成人票", "李华", "日期", "电子门票")


@pytest.fixture
def droid(settings):
    """TICKET_CJK_FONT set to Droid Sans Fallback."""
    if not Path(DROID).is_file():
        pytest.skip("fonts-droid-fallback is not installed (make system-deps)")
    settings.TICKET_CJK_FONT = DROID
    return DROID


@pytest.fixture
def no_cjk_font(settings):
    """Auto-detection with nothing to find."""
    settings.TICKET_CJK_FONT = ""
    settings.TICKET_CJK_FONT_CANDIDATES = []


def page_fonts(pdf: bytes) -> dict[str, DictionaryObject]:
    """The first page's fonts by BaseFont name."""
    resources = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    return {
        str(font["/BaseFont"]): font for font in (ref.get_object() for ref in resources.values())
    }


def font_messages() -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks() if m.id in ("etickets.E003", "etickets.W001")]


def test_a_chinese_ticket_embeds_a_subset_of_the_ttf_and_its_text_reads_back(droid):
    pdf = render_tickets_pdf([face(0, **CHINESE)])
    used = page_fonts(pdf)
    embedded = {name: f for name, f in used.items() if "/FontDescriptor" in f}
    assert list(embedded) == ["/AAAAAA+DroidSansFallback"]
    descriptor = embedded["/AAAAAA+DroidSansFallback"]["/FontDescriptor"]
    font_file = descriptor["/FontFile2"].get_object()
    # A subset of the characters used: kilobytes, where the whole font is 4 MB.
    assert 1_000 < font_file["/Length1"] < 100_000
    assert "/STSong-Light" not in used  # the TTF has every character of the page
    text = pdf_text(pdf)[0]
    for expected in (*CHINESE_TEXTS, "K7Q2M9XA", "10:00–10:30"):
        assert expected in text, (expected, text)
    assert render_tickets_pdf([face(0, **CHINESE)]) == pdf  # still byte-stable


def test_the_default_settings_find_the_installed_font(settings):
    if not Path(DROID).is_file():
        pytest.skip("fonts-droid-fallback is not installed (make system-deps)")
    settings.TICKET_CJK_FONT = ""
    assert fonts.embedded_font() == "EntradaCJK-DroidSansFallbackFull"
    assert font_messages() == []


@pytest.mark.parametrize(
    ("configuration", "cjk"),
    [("droid", "EntradaCJK-DroidSansFallbackFull"), ("no_cjk_font", "STSong-Light")],
)
def test_mixed_text_draws_latin_runs_in_helvetica_and_chinese_in_the_cjk_font(
    request, configuration, cjk
):
    request.getfixturevalue(configuration)
    assert [(part, font.name) for part, font in fonts.runs("2026年12月 K7Q2")] == [
        ("2026", "Helvetica"),
        ("年", cjk),
        ("12", "Helvetica"),
        ("月", cjk),
        (" K7Q2", "Helvetica"),
    ]
    # Neither CJK font has a bold face: bold CJK runs are drawn filled and stroked.
    bold = fonts.runs("成人 Adult", bold=True)
    assert [(font.name, font.fake_bold) for _, font in bold] == [
        (cjk, True),
        ("Helvetica-Bold", False),
    ]
    assert fonts.text_width("2026年", 10) == pytest.approx(
        fonts.text_width("2026", 10) + fonts.text_width("年", 10)
    )
    assert fonts.text_width("年", 10) > 0


def test_bold_chinese_in_the_embedded_font_is_filled_and_stroked(droid):
    pdf = render_tickets_pdf([face(0, **CHINESE)])
    content = PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data()
    assert b"2 Tr" in content  # text render mode 2: fill, then stroke


def test_characters_the_embedded_font_lacks_are_drawn_in_the_cid_font(droid):
    # Droid Sans Fallback has no Cyrillic; STSong-Light's viewers may (as before this font).
    assert [(part, font.name) for part, font in fonts.runs("李 Жанна")] == [
        ("李", "EntradaCJK-DroidSansFallbackFull"),
        (" ", "Helvetica"),
        ("Жанна", "STSong-Light"),
    ]
    pdf = render_tickets_pdf([face(0, **{**CHINESE, "buyer_name": "李 Жанна"})])
    assert {"/AAAAAA+DroidSansFallback", "/STSong-Light"} <= set(page_fonts(pdf))
    assert "李 Жанна" in pdf_text(pdf)[0]


def test_without_a_cjk_font_tickets_use_the_non_embedded_cid_font(no_cjk_font):
    pdf = render_tickets_pdf([face(0, **CHINESE)])
    assert fonts.embedded_font() is None
    assert b"/FontFile2" not in pdf and b"/STSong-Light" in pdf and b"UniGB-UCS2-H" in pdf
    text = pdf_text(pdf)[0]
    for expected in CHINESE_TEXTS:
        assert expected in text, (expected, text)
    [warning] = font_messages()
    assert warning.id == "etickets.W001" and warning.level == checks.WARNING
    assert "STSong-Light" in warning.msg and "fonts-droid-fallback" in warning.hint


def test_auto_detection_skips_missing_and_broken_candidates(droid, settings, tmp_path):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font at all")
    settings.TICKET_CJK_FONT = ""
    settings.TICKET_CJK_FONT_CANDIDATES = [str(tmp_path / "absent.ttf"), str(broken), DROID]
    assert fonts.embedded_font() == "EntradaCJK-DroidSansFallbackFull"
    assert font_messages() == []


def _not_a_font(tmp_path: Path) -> str:
    path = tmp_path / "notes.ttf"
    path.write_text("hello")
    return str(path)


def _postscript_outlines(tmp_path: Path) -> str:
    # The header of an OpenType font with CFF outlines (like NotoSansCJK's .otf).
    path = tmp_path / "cff.otf"
    path.write_bytes(b"OTTO" + bytes(8))
    return str(path)


@pytest.mark.parametrize(
    ("make_path", "reason"),
    [
        (lambda tmp_path: str(tmp_path / "missing.ttf"), "does not exist"),
        (_not_a_font, "is not a TrueType font"),
        (_postscript_outlines, "postscript outlines are not supported"),
        (lambda tmp_path: DEJAVU, "has no glyphs for Chinese text"),
    ],
    ids=["missing", "not-a-font", "cff-outlines", "no-chinese"],
)
def test_a_configured_font_that_cannot_be_used_fails_the_check(
    settings, tmp_path, make_path, reason
):
    path = make_path(tmp_path)
    if path == DEJAVU and not Path(DEJAVU).is_file():
        pytest.skip("fonts-dejavu-core is not installed")
    settings.TICKET_CJK_FONT = path
    [error] = font_messages()
    assert error.id == "etickets.E003" and error.level == checks.ERROR
    assert "TICKET_CJK_FONT" in error.msg and path in error.msg and reason in error.msg


def test_a_configured_font_that_fails_at_render_time_is_logged_and_tickets_still_issued(
    settings, tmp_path, caplog
):
    # The check refuses it at deploy; if the file goes later, tickets fall back, not fail.
    settings.TICKET_CJK_FONT = str(tmp_path / "removed.ttf")
    pdf = render_tickets_pdf([face(0, **CHINESE)])
    assert b"/STSong-Light" in pdf and b"/FontFile2" not in pdf
    assert "李华" in pdf_text(pdf)[0]
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("removed.ttf" in r.getMessage() for r in errors)


def test_threads_rendering_the_first_chinese_tickets_at_once_agree(droid):
    faces = [face(n, **CHINESE) for n in range(2)]
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    results: list[bytes] = []
    failures: list[BaseException] = []

    def render():
        barrier.wait()
        try:
            results.append(render_tickets_pdf(faces))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    assert not fonts.is_registered()  # the droid fixture made fonts.py choose again
    threads = [threading.Thread(target=render) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(results) == threads_count
    assert set(results) == {render_tickets_pdf(faces)}
    assert "/AAAAAA+DroidSansFallback" in page_fonts(results[0])
