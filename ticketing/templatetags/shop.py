"""Template helpers for the shop: money in the attraction's currency, QR codes as inline SVG."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import segno
from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from ticketing.models.catalogue import currency_exponent

register = template.Library()


@register.simple_tag
def money(amount: Decimal | int | str | None, currency: str) -> str:
    """`JPY 3,000` / `CNY 120.00`: the currency's own minor units (none for JPY and KRW).

    The ISO code rather than a symbol, because ¥ means both yen and yuan to this shop's buyers.
    """
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return ""
    places = currency_exponent(currency)
    value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return (
        f"{currency} {number_format(value, decimal_pos=places, use_l10n=True, force_grouping=True)}"
    )


@register.simple_tag
def qr_svg(content: str, title: str = "") -> SafeString:
    """The QR of `content` as inline SVG: sharp at any size, no image request, no outside call."""
    if not content:
        return mark_safe("")
    qr = segno.make(content, error="m")
    # segno escapes the title and writes only numbers and path data: the markup is safe to inline.
    svg = qr.svg_inline(scale=4, border=2, title=title or None, svgclass="qr-svg", omitsize=True)
    return format_html('<span role="img" aria-label="{}">{}</span>', title, mark_safe(svg))  # noqa: S308


@register.filter
def minutes_seconds(seconds) -> str:
    """`899` -> `14:59`, as shop.js counts the hold down (never raw seconds)."""
    try:
        total = max(int(seconds), 0)
    except (TypeError, ValueError):
        return ""
    return f"{total // 60}:{total % 60:02d}"
