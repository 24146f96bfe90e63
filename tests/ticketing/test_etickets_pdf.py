"""The e-ticket PDF read back: its text, its language, and QR codes that decode to valid tokens.

These tests need no database: the renderer takes plain TicketFace values. Rendering to an image
and decoding the QR use Debian's poppler-utils (pdftoppm) and zbar-tools (zbarimg); the tests that
need them skip with the reason when they are missing (`make test` installs them).
"""

import io
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pypdf import PdfReader

from ticketing.etickets.pdf import render_tickets_pdf
from ticketing.etickets.tokens import verify_token

from .pdf_helpers import KEY, decode_qr_codes, face, needs_poppler_and_zbar, pdf_text


def test_one_page_per_admission_with_the_order_code_slot_and_details():
    pdf = render_tickets_pdf([face(0), face(1), face(2)])
    pages = pdf_text(pdf)
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        for expected in (
            "K7Q2M9XA",
            "10:00–10:30",
            "Thursday, Dec. 24, 2026",
            "Asia/Shanghai",
            "Forbidden City Palace Museum",
            "Adult",
            "CNY 60.00",
            "Ada Lovelace",
            f"Ticket {number} of 3",
            "E-ticket",
        ):
            assert expected in text, (expected, text)


def test_the_same_faces_give_the_same_bytes():
    assert render_tickets_pdf([face(0), face(1)]) == render_tickets_pdf([face(0), face(1)])
    assert render_tickets_pdf([face(0)]) != render_tickets_pdf([face(1)])


def test_a_family_tickets_admissions_say_which_part_they_are():
    pdf = render_tickets_pdf([face(0, ticket_type_name="Family", part=2, parts=4)])
    assert "Admission 2 of 4" in pdf_text(pdf)[0]


def test_chinese_tickets_have_chinese_labels_and_text(tmp_path):
    # Which font draws it (embedded TrueType or the CID fallback): test_etickets_fonts.py.
    chinese = face(
        0,
        attraction_name="故宫博物院",
        address="北京市东城区景山前街4号",
        date_text="2026年12月24日 星期四",
        ticket_type_name="成人票",
        buyer_name="李华",
        language="zh-hans",
    )
    pdf = render_tickets_pdf([chinese])
    text = pdf_text(pdf)[0]
    labels = ("日期", "票种", "电子门票", "第 1 张，共 3 张")
    for expected in ("故宫博物院", "成人票", "李华", *labels):
        assert expected in text, (expected, text)
    if shutil.which("pdftotext"):
        (tmp_path / "zh.pdf").write_bytes(pdf)
        out = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(tmp_path / "zh.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "故宫博物院" in out and "K7Q2M9XA" in out and "10:00–10:30" in out


def test_an_english_ticket_with_a_chinese_name_still_shows_it():
    pdf = render_tickets_pdf([face(0, buyer_name="王小明", attraction_name="颐和园 Summer Palace")])
    text = pdf_text(pdf)[0]
    assert "王小明" in text and "颐和园 Summer Palace" in text and "Date".upper() in text


def test_overlong_texts_are_shortened_to_fit_not_spilled():
    long_name = "The Extraordinarily Long Official Name of a Municipal Museum of " * 4
    pdf = render_tickets_pdf([face(0, attraction_name=long_name, buyer_name="B" * 200)])
    text = pdf_text(pdf)[0]
    assert "…" in text
    assert "B" * 200 not in text
    assert "K7Q2M9XA" in text


def test_an_empty_order_is_refused():
    with pytest.raises(ValueError):
        render_tickets_pdf([])


@needs_poppler_and_zbar
def test_every_pages_qr_decodes_to_its_token_which_verifies(tmp_path):
    faces = [face(n, count=12) for n in range(12)]
    decoded = decode_qr_codes(render_tickets_pdf(faces), tmp_path)
    assert decoded == [f.token for f in faces]
    for n, token in enumerate(decoded):
        assert verify_token(token, KEY.public_key()).ticket_uuid == uuid.UUID(int=n + 1)


@needs_poppler_and_zbar
def test_the_qr_of_a_chinese_ticket_decodes_at_phone_screen_resolution(tmp_path):
    chinese = replace(face(5), language="zh-hans", attraction_name="故宫博物院")
    assert decode_qr_codes(render_tickets_pdf([chinese]), tmp_path, resolution=72) == [
        chinese.token
    ]


def test_fonts_are_registered_on_first_chinese_text_not_at_import():
    code = (
        "import django; django.setup()\n"
        "from ticketing.etickets import fonts, pdf\n"
        "from tests.ticketing.pdf_helpers import face\n"
        "print(fonts.is_registered())\n"
        "pdf.render_tickets_pdf([face(0)])\n"
        "print(fonts.is_registered())\n"
        "pdf.render_tickets_pdf([face(0, attraction_name='故宫')])\n"
        "print(fonts.is_registered())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "ticketing.settings_test", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "True"]


@hypothesis_settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=120), language=st.sampled_from(["en", "zh-hans"]))
def test_any_buyer_or_attraction_text_renders_a_one_page_ticket(text, language):
    # Emoji, control characters, right-to-left marks, scripts neither font has: never an error.
    pdf = render_tickets_pdf(
        [face(0, buyer_name=text, attraction_name=text or "x", language=language)]
    )
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
