"""The 30-day chart of daily net and fees, drawn on the server as SVG.

An SVG in the page needs no script and no library from a CDN, reads the same in every browser,
and carries its own accessible name and description (title/desc) for screen readers.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 40
NET_COLOUR, FEES_COLOUR = "#1f6feb", "#d1242f"


def _ticks(low: Decimal, high: Decimal) -> list[Decimal]:
    step = (high - low) / 4 or Decimal(1)
    return [low + step * n for n in range(5)]


def svg(currency: str, series: list[tuple[date, object, object]], *, ident: str) -> SafeString:
    """One currency's days as two lines (net, fees) over a zero line, with labelled axes."""
    nets = [Decimal(net) for _day, net, _fees in series]
    fees = [Decimal(fee) for _day, _net, fee in series]
    low = min([Decimal(0), *nets, *fees])
    high = max([Decimal(1), *nets, *fees])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(series) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(value: Decimal) -> float:
        return TOP + plot_h - float((value - low) / (high - low)) * plot_h

    def points(values: list[Decimal]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))

    first, last = series[0][0], series[-1][0]
    title = _("Daily net and fees in %(currency)s, %(first)s to %(last)s") % {
        "currency": currency,
        "first": first.isoformat(),
        "last": last.isoformat(),
    }
    desc = _("Net over %(days)d days: total %(net)s, highest %(top)s. Fees: total %(fees)s.") % {
        "days": len(series),
        "net": sum(nets, Decimal(0)),
        "top": max(nets),
        "fees": sum(fees, Decimal(0)),
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="recon-chart" role="img" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]
    for tick in _ticks(low, high):
        ty = y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">'
            f"{tick.quantize(Decimal('1'))}</text>"
        )
    zero = y(Decimal(0))
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}" '
        f'stroke="#555" stroke-width="1"/>'
    )
    for i, (day, _net, _fee) in enumerate(series):
        # Every seventh day and the last, without the two nearest the end overlapping.
        if (i % 7 == 0 and len(series) - 1 - i >= 4) or i == len(series) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11">{day:%m-%d}</text>'
            )
    parts.append(
        f'<polyline class="net" fill="none" stroke="{NET_COLOUR}" stroke-width="2" '
        f'points="{points(nets)}"/>'
    )
    parts.append(
        f'<polyline class="fees" fill="none" stroke="{FEES_COLOUR}" stroke-width="2" '
        f'stroke-dasharray="5 3" points="{points(fees)}"/>'
    )
    legend_y = HEIGHT - 8
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT + 24}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
        f'stroke="{NET_COLOUR}" stroke-width="2"/>'
        f'<text x="{LEFT + 30}" y="{legend_y}" font-size="12">{escape(_("Net"))}</text>'
        f'<line x1="{LEFT + 90}" x2="{LEFT + 114}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
        f'stroke="{FEES_COLOUR}" stroke-width="2" stroke-dasharray="5 3"/>'
        f'<text x="{LEFT + 120}" y="{legend_y}" font-size="12">{escape(_("Fees"))}</text>'
    )
    parts.append("</svg>")
    # Every value interpolated above is a number, a date or escaped text.
    return mark_safe("".join(parts))  # noqa: S308
