"""The wallet's payment code: a normal test buyer's digits and their Code128 barcode as SVG."""

from __future__ import annotations

import base64
import secrets

from reportlab.graphics import renderSVG
from reportlab.graphics.barcode import createBarcodeDrawing


def new_buyer_code() -> str:
    """18 digits starting 28, never in the 28000000000000... test-code range: a normal buyer."""
    return f"28{secrets.randbelow(9) + 1}{secrets.randbelow(10**15):015d}"


def barcode_svg_data_uri(code: str) -> str:
    drawing = createBarcodeDrawing(
        "Code128", value=code, barHeight=70, barWidth=1.5, humanReadable=False, quiet=True
    )
    svg = renderSVG.drawToString(drawing)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
