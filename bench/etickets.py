"""E-tickets rendered per second (A6 PDF page with a signed QR), one process, one core.

    .venv/bin/python bench/etickets.py [--seconds 2]

Measures Entrada's renderer (token signing included) for one-ticket orders and five-ticket orders,
in English and Chinese, against baselines drawn in the same run on the same canvas settings:
  - the same texts on an A6 page with no QR (the floor: what reportlab costs without a code);
  - the same texts plus reportlab's own QrCodeWidget drawn with renderPDF (the usual approach);
  - segno choosing the best of 8 masks (its default) against the fixed mask Entrada uses.
The first render of a process registers the CJK font and warms imports; it is timed and reported
separately and excluded from the rates. Times are CPU time of this process (the machine may be
shared; wall time would count other processes' turns), tickets/s = 1000 / ms. Entrada's target is
at most 7 ms a ticket.

    .venv/bin/python bench/etickets.py --peer pretix

also measures pretix 2026.8.0's PDF ticket output in the same run (bench/pretix_peer.py installs
it under var/peers/ on first use): its ticketoutputpdf renderer with the default layout (texts, a
QR code, its A4 background merged in), in a process of the peer's python timed the same way (CPU
time, median of batches, first render excluded), for a 1-ticket order, a 5-ticket order, and a
5-ticket order read from its SQLite database as a download does. pretix's default fonts have no
CJK glyphs, so its rows are English only; the ratio compares like with like: 1-ticket with
1-ticket, 5-ticket with 5-ticket, database with database.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import pretix_peer  # noqa: E402  (bench/, on sys.path as the script's folder)

# A throwaway SQLite database (and var/ dir) for the order_pdf row: never the site's own data.
# Set before Django reads the settings; REDIS_URL cleared so queued work stays in that database.
SCRATCH = tempfile.TemporaryDirectory(prefix="entrada-bench-etickets-")
os.environ.update(
    DJANGO_SETTINGS_MODULE="ticketing.settings",
    ENTRADA_VAR_DIR=SCRATCH.name,
    DATABASE_URL=f"sqlite:///{SCRATCH.name}/bench.sqlite3",
    REDIS_URL="",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

import segno  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from django.core.management import call_command  # noqa: E402
from reportlab.graphics import renderPDF  # noqa: E402
from reportlab.graphics.barcode.qr import QrCodeWidget  # noqa: E402
from reportlab.graphics.shapes import Drawing  # noqa: E402
from reportlab.lib.pagesizes import A6  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402

from payments import clock  # noqa: E402
from ticketing import orders  # noqa: E402
from ticketing.etickets import fonts  # noqa: E402
from ticketing.etickets.faces import order_pdf  # noqa: E402
from ticketing.etickets.pdf import TicketFace, render_tickets_pdf  # noqa: E402
from ticketing.etickets.tokens import TicketClaims, issue_token  # noqa: E402
from ticketing.models import Attraction, TicketType, TimeSlot  # noqa: E402

TARGET_MS = 7.0
KEY = Ed25519PrivateKey.generate()  # a throwaway key: the bench never touches the site's keys
SLOT = datetime(2026, 12, 24, 2, 0, tzinfo=UTC)
TEXTS = {
    "en": dict(
        attraction_name="Forbidden City Palace Museum",
        address="4 Jingshan Front Street, Dongcheng, Beijing",
        date_text="Thursday, Dec. 24, 2026",
        ticket_type_name="Adult",
        buyer_name="Ada Lovelace",
    ),
    "zh-hans": dict(
        attraction_name="故宫博物院",
        address="北京市东城区景山前街4号",
        date_text="2026年12月24日 星期四",
        ticket_type_name="成人票",
        buyer_name="李华",
    ),
}

_serial = 0


def _faces(language: str, count: int) -> list[TicketFace]:
    """`count` faces with freshly signed tokens: signing is part of rendering a ticket."""
    global _serial
    faces = []
    for number in range(1, count + 1):
        _serial += 1
        claims = TicketClaims(uuid.UUID(int=_serial), SLOT, 3, 9, 1)
        faces.append(
            TicketFace(
                **TEXTS[language],
                slot_text="10:00–10:30",
                timezone_name="Asia/Shanghai",
                price_text="CNY 60.00",
                order_code="K7Q2M9XA",
                token=issue_token(claims, KEY),
                language=language,
                number=number,
                count=count,
                reference=f"{_serial:08X}",
            )
        )
    return faces


def _text_page(canvas: Canvas, face: TicketFace) -> None:
    """The ticket's texts on a page, in fonts like Entrada's, without the QR (baselines)."""
    font = fonts.font_for(face.attraction_name, bold=True).name
    canvas.setFont(font, 14)
    canvas.drawString(18, 370, face.attraction_name)
    y = 350
    for text in (
        face.address,
        face.date_text,
        face.slot_text,
        face.timezone_name,
        face.ticket_type_name,
        face.price_text,
        face.order_code,
        face.buyer_name,
        face.reference,
        "DATE",
        "TIME",
        "TICKET TYPE",
        "PRICE",
        "ORDER",
        "NAME",
    ):
        canvas.setFont(fonts.font_for(text).name, 9)
        canvas.drawString(18, y, text)
        y -= 12


def _baseline_pdf(faces: list[TicketFace], with_widget: bool) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A6, pageCompression=1, invariant=1)
    for face in faces:
        _text_page(canvas, face)
        if with_widget:
            widget = QrCodeWidget(face.token, barLevel="M")
            x0, y0, x1, y1 = widget.getBounds()
            side = 131.0
            drawing = Drawing(
                side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0]
            )
            drawing.add(widget)
            renderPDF.draw(drawing, canvas, 83, 52)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def paid_orders(count: int, tickets_each: int) -> list[int]:
    """Orders paid through ticketing.orders in the scratch database (a free pass: no gateway)."""
    call_command("migrate", verbosity=0, interactive=False)
    attraction = Attraction.objects.create(
        slug="bench-garden",
        name="Bench Garden",
        name_zh="基准花园",
        address="1 Bench Road, Beijing",
        timezone="Asia/Shanghai",
        currency="CNY",
    )
    ticket_type = TicketType.objects.create(
        attraction=attraction, code="pass", name="Day pass", name_zh="日票", price=0
    )
    starts = (clock.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    slot = TimeSlot.objects.create(
        attraction=attraction,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        local_date=starts.astimezone(attraction.tz).date(),
        capacity=count * tickets_each,
    )
    ids = []
    for number in range(count):
        order = orders.create_order(
            attraction=attraction,
            slot=slot,
            quantities={ticket_type.id: tickets_each},
            buyer_name="Ada Lovelace",
            email="ada@example.com",
            language="zh-hans" if number % 2 else "en",
        )
        orders.start_payment(order)  # a free order is paid at once and its tickets issued
        ids.append(order.pk)
    return ids


def per_ticket_ms(work: Callable[[], object], tickets: int, seconds: float) -> tuple[float, int]:
    """Median CPU ms per ticket over batches run for about `seconds`; and tickets rendered.

    CPU time of this process, not wall time: on a shared machine wall time also counts other
    processes' turns on the cores. Single-threaded and CPU-bound, the two agree on an idle one.
    """
    samples: list[float] = []
    rendered = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        started = time.process_time()
        work()
        samples.append((time.process_time() - started) * 1000 / tickets)
        rendered += tickets
    return statistics.median(samples), rendered


def pretix_rows(seconds: float) -> tuple[float, list[tuple[str, float, int]]]:
    """pretix's first render and rows, measured by its own python on a fresh copy of its database."""
    installed = pretix_peer.ensure_installed()
    when = "just now" if installed["now"] else f"on {installed['at']}"
    print(f"pretix {installed['version']} peer: installed {when} in {installed['seconds']} s")
    with tempfile.TemporaryDirectory(prefix="entrada-bench-pretix-") as tmp:
        config = pretix_peer.prepare_sqlite(Path(tmp))
        result = pretix_peer.script(config, "render_tickets.py", str(seconds))
    return result["first_ms"], [tuple(row) for row in result["rows"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument(
        "--peer", choices=["pretix"], help="also measure pretix 2026.8.0 (installed on first use)"
    )
    args = parser.parse_args()
    seconds = args.seconds

    started = time.process_time()
    render_tickets_pdf(_faces("en", 1))
    first_en = (time.process_time() - started) * 1000
    started = time.process_time()
    render_tickets_pdf(_faces("zh-hans", 1))
    first_zh = (time.process_time() - started) * 1000
    print("E-ticket rendering, one process (A6 page, Ed25519 token, QR version 6-M)")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (other work on the machine slows all rows)")
    print(f"warm-up, excluded below: first English ticket {first_en:.1f} ms (imports, caches),")
    print(f"first Chinese ticket {first_zh:.1f} ms (loads and registers the CJK font)\n")

    rows: list[tuple[str, float, int]] = []

    def measure(label: str, work: Callable[[], object], tickets: int) -> float:
        ms, rendered = per_ticket_ms(work, tickets, seconds)
        rows.append((label, ms, rendered))
        return ms

    # Faces are built inside the timed work so token signing is counted.
    entrada_1 = measure(
        "Entrada, 1-ticket order, en", lambda: render_tickets_pdf(_faces("en", 1)), 1
    )
    entrada_5 = measure(
        "Entrada, 5-ticket order, en", lambda: render_tickets_pdf(_faces("en", 5)), 5
    )
    measure("Entrada, 1-ticket order, zh-hans", lambda: render_tickets_pdf(_faces("zh-hans", 1)), 1)
    measure("Entrada, 5-ticket order, zh-hans", lambda: render_tickets_pdf(_faces("zh-hans", 5)), 5)
    floor = measure("baseline: same texts, no QR", lambda: _baseline_pdf(_faces("en", 1), False), 1)
    widget = measure(
        "baseline: texts + reportlab QrCodeWidget", lambda: _baseline_pdf(_faces("en", 1), True), 1
    )

    order_ids = paid_orders(40, 5)
    cycle = iter(range(10**9))
    entrada_db = measure(
        "Entrada order_pdf from SQLite, 5 tickets",
        lambda: order_pdf(order_ids[next(cycle) % len(order_ids)]),
        5,
    )

    token = _faces("en", 1)[0].token
    auto_mask, _ = per_ticket_ms(lambda: segno.make_qr(token, error="m"), 1, seconds / 2)
    fixed_mask, _ = per_ticket_ms(
        lambda: segno.make_qr(token, error="m", mask=0, boost_error=False), 1, seconds / 2
    )

    ratios: dict[str, float] = {}
    if args.peer:
        peer_first, peer_rows = pretix_rows(seconds)
        # Each pretix row against the Entrada row doing the same job.
        for (label, ms, rendered), ours in zip(
            peer_rows, (entrada_1, entrada_5, entrada_db), strict=True
        ):
            rows.append((label, ms, rendered))
            ratios[label] = ms / ours
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"pretix's first ticket, excluded below: {peer_first:.1f} ms; load average {load}\n")

    width = max(len(label) for label, _, _ in rows)
    print("CPU time per ticket, median of batches (tickets/s = 1000 / ms):")
    print(f"{'':{width}}  ms/ticket  tickets/s  target 7 ms  (rendered)  pretix / Entrada")
    for label, ms, rendered in rows:
        verdict = "ok" if ms <= TARGET_MS else "over"
        ratio = f"{ratios[label]:15.1f}x" if label in ratios else ""
        print(
            f"{label:{width}}  {ms:9.2f}  {1000 / ms:9.0f}  {verdict:>11}  ({rendered:>8})  {ratio}"
        )
    print(
        f"\nQR encoding alone: segno best-of-8 mask {auto_mask:.2f} ms, fixed mask "
        f"{fixed_mask:.2f} ms (Entrada uses the fixed mask; every mask is a valid QR)."
    )
    print(
        f"Entrada 1-ticket en: {entrada_1:.2f} ms = {entrada_1 - floor:+.2f} ms over the no-QR "
        f"floor; reportlab's QrCodeWidget costs {widget - floor:+.2f} ms over it."
    )
    if ratios:
        print(
            "pretix 2026.8.0 in the same run: "
            + "; ".join(f"{label}: {ratio:.1f}x Entrada's time" for label, ratio in ratios.items())
        )
    else:
        print("No peer measured (--peer pretix measures pretix 2026.8.0 in the same run).")


if __name__ == "__main__":
    main()
