"""Ticket faces, PDF text and QR decoding shared by the e-ticket tests.

Rendering to an image and decoding the QR use Debian's poppler-utils (pdftoppm) and zbar-tools
(zbarimg); `needs_poppler_and_zbar` skips a test with the reason when they are missing.
"""

import io
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from ticketing.etickets.pdf import TicketFace
from ticketing.etickets.tokens import TicketClaims, issue_token

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
needs_poppler_and_zbar = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("zbarimg")),
    reason="pdftoppm (poppler-utils) and zbarimg (zbar-tools) are needed to decode the QR",
)


def make_token(n: int = 0) -> str:
    claims = TicketClaims(uuid.UUID(int=n + 1), datetime(2026, 12, 24, 2, 0, tzinfo=UTC), 3, 9, 1)
    return issue_token(claims, KEY)


def face(n: int = 0, **changes) -> TicketFace:
    values = dict(
        attraction_name="Forbidden City Palace Museum",
        address="4 Jingshan Front Street, Dongcheng, Beijing",
        date_text="Thursday, Dec. 24, 2026",
        slot_text="10:00–10:30",
        timezone_name="Asia/Shanghai",
        ticket_type_name="Adult",
        price_text="CNY 60.00",
        order_code="K7Q2M9XA",
        buyer_name="Ada Lovelace",
        token=make_token(n),
        language="en",
        number=n + 1,
        count=3,
        reference=f"{n + 1:08X}",
    )
    values.update(changes)
    return TicketFace(**values)


def pdf_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def decode_qr_codes(pdf: bytes, directory: Path, resolution: int = 150) -> list[str]:
    """Render every page to PNG with pdftoppm and decode the QR on each with zbarimg."""
    source = directory / "tickets.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(resolution), "-png", str(source), str(directory / "page")],
        check=True,
        capture_output=True,
    )
    decoded = []
    for image in sorted(directory.glob("page-*.png")):
        result = subprocess.run(
            ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(image)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"no QR code found on {image.name}"
        decoded.append(result.stdout.strip())
    return decoded
