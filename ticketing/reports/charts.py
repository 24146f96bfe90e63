"""Charts drawn on the server as SVG: no script, no library, works offline.

Each chart is an <svg role="img"> with a <title> and a <desc> that screen readers announce, axis
labels in text, and a <title> on every bar or cell so a pointer shows its exact figure. One chart
per currency: amounts in different currencies are never drawn on the same axis.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .queries import DayUtilisation, Figures, quantize

WIDTH = 720
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 70, 12, 16, 40


def _nice_max(value: Decimal) -> Decimal:
    """The axis top: 1, 2 or 5 times a power of ten, at or above the largest value."""
    if value <= 0:
        return Decimal(1)
    exponent = len(str(int(value))) - 1
    for step in (1, 2, 5, 10):
        top = Decimal(step) * Decimal(10) ** exponent
        if top >= value:
            return top
    return Decimal(10) ** (exponent + 1)


def trend_chart(chart_id: str, currency: str, days: list[tuple[dt.date, Figures]]) -> SafeString:
    """Net per day as bars (refunds can make a day negative), with the gross as a line."""
    nets = [figures.net for _day, figures in days]
    grosses = [figures.gross for _day, figures in days]
    top = _nice_max(max([*nets, *grosses, Decimal(0)]))
    bottom = -_nice_max(-min(nets)) if min(nets, default=0) < 0 else Decimal(0)
    span = top - bottom
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days), 1)

    def y(value: Decimal) -> float:
        return TOP + float((top - value) / span) * plot_h

    title = _("Net sales per day in %(currency)s, last %(days)s days") % {
        "currency": currency,
        "days": len(days),
    }
    total_net = sum(nets, Decimal(0))
    desc = _(
        "Bars: net sales (gross minus refunds) per day from %(start)s to %(end)s; line: gross. "
        "Total net %(net)s %(currency)s."
    ) % {
        "start": days[0][0].isoformat() if days else "",
        "end": days[-1][0].isoformat() if days else "",
        "net": quantize(total_net, currency),
        "currency": currency,
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="report-chart" id="{escape(chart_id)}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]
    # Horizontal grid with amounts on the left axis.
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        value = bottom + span * Decimal(str(fraction))
        gy = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#333">{escape(quantize(value, currency))}</text>'
        )
    zero_y = y(Decimal(0))
    for index, (day, figures) in enumerate(days):
        x = LEFT + index * step
        net = figures.net
        bar_top, bar_bottom = (y(net), zero_y) if net >= 0 else (zero_y, y(net))
        label = _("%(day)s: net %(net)s, gross %(gross)s, refunds %(refunds)s %(currency)s") % {
            "day": day.isoformat(),
            "net": quantize(net, currency),
            "gross": quantize(figures.gross, currency),
            "refunds": quantize(figures.refunds, currency),
            "currency": currency,
        }
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{bar_top:.1f}" width="{step * 0.7:.1f}" '
            f'height="{max(bar_bottom - bar_top, 0):.1f}" '
            f'fill="{"#2e7d32" if net >= 0 else "#c62828"}"><title>{escape(label)}</title></rect>'
        )
        if index % 5 == 0 or index == len(days) - 1:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11" fill="#333">{escape(day.strftime("%m-%d"))}</text>'
            )
    points = " ".join(
        f"{LEFT + index * step + step / 2:.1f},{y(gross):.1f}"
        for index, gross in enumerate(grosses)
    )
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero_y:.1f}" y2="{zero_y:.1f}" '
        f'stroke="#555" stroke-width="1"/>'
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="11" fill="#333">'
        f"{escape(_('Date'))}</text>"
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" font-size="11" text-anchor="end" '
        f'fill="#333">{escape(_("bars: net · line: gross"))}</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


# From pale to dark: a colour-blind-safe sequential scale; the figure is also in each cell's title.
SCALE = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]
CELL = 16
GAP = 3


def _shade(ratio: float | None) -> str:
    if ratio is None:
        return "#eeeeee"
    return SCALE[min(int(ratio * len(SCALE)), len(SCALE) - 1)]


def utilisation_heatmap(
    chart_id: str, start: dt.date, end: dt.date, days: list[DayUtilisation]
) -> SafeString:
    """A calendar: one column per week (Monday on top), one cell per day, darker when fuller."""
    by_day = {day.day: day for day in days}
    first = start - dt.timedelta(days=start.weekday())
    weeks = (end - first).days // 7 + 1
    left, top = 40, 28
    # Wide enough for the legend even when the range is a week or two.
    width = max(left + weeks * (CELL + GAP) + 10, left + 40 + (len(SCALE) + 2) * (CELL + 2) + 30)
    height = top + 7 * (CELL + GAP) + 36
    title = _("Slot utilisation per day, %(start)s to %(end)s") % {
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    offered = sum(day.capacity for day in days)
    sold = sum(day.sold for day in days)
    desc = _(
        "Calendar heat map: each square is a day, darker when a larger share of its places "
        "was sold. Overall %(sold)s of %(offered)s places sold."
    ) % {"sold": sold, "offered": offered}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="report-heatmap" id="{escape(chart_id)}" width="{width}" height="{height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]
    weekday_names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    for row, name in enumerate(weekday_names):
        if row % 2 == 0:
            parts.append(
                f'<text x="{left - 4}" y="{top + row * (CELL + GAP) + CELL - 4}" '
                f'text-anchor="end" font-size="10" fill="#333">{escape(name)}</text>'
            )
    day = start
    while day <= end:
        column = (day - first).days // 7
        row = day.weekday()
        x = left + column * (CELL + GAP)
        ycell = top + row * (CELL + GAP)
        if day.day == 1 or day == start:
            parts.append(
                f'<text x="{x}" y="{top - 8}" font-size="10" fill="#333">'
                f"{escape(day.strftime('%Y-%m'))}</text>"
            )
        figures = by_day.get(day)
        ratio = figures.ratio if figures else None
        if figures is None or ratio is None:
            label = _("%(day)s: no open slots") % {"day": day.isoformat()}
        else:
            label = _("%(day)s: %(percent)s%% (%(sold)s of %(offered)s places)") % {
                "day": day.isoformat(),
                "percent": round(ratio * 100),
                "sold": figures.sold,
                "offered": figures.capacity,
            }
        parts.append(
            f'<rect x="{x}" y="{ycell}" width="{CELL}" height="{CELL}" rx="2" '
            f'fill="{_shade(ratio)}" stroke="#999" stroke-width="0.5" '
            f'data-day="{day.isoformat()}"><title>{escape(label)}</title></rect>'
        )
        day += dt.timedelta(days=1)
    legend_y = top + 7 * (CELL + GAP) + 8
    parts.append(f'<text x="{left}" y="{legend_y + 11}" font-size="10" fill="#333">0%</text>')
    for index, colour in enumerate(SCALE):
        parts.append(
            f'<rect x="{left + 24 + index * (CELL + 2)}" y="{legend_y}" width="{CELL}" '
            f'height="{CELL - 4}" fill="{colour}" stroke="#999" stroke-width="0.5"/>'
        )
    parts.append(
        f'<text x="{left + 28 + len(SCALE) * (CELL + 2)}" y="{legend_y + 11}" font-size="10" '
        f'fill="#333">100%</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
