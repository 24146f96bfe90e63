"""What the shop caches: its home page's attraction cards, per language.

The home page is what every buyer loads first, and what a busy morning loads most. Its cards (each
attraction on sale with its cheapest ticket) change only when staff edit the catalogue, so they
are rendered once per language and kept in the default cache: a warm home page reads no database
at all. Any save or delete of an attraction or a ticket type forgets them, at once and again when
its transaction commits, so the next page shows the change. TIMEOUT bounds the one case that can
outlive that: a page that read the catalogue just before the commit and stores its cards just
after the second forgetting.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Min, Q
from django.db.models.signals import post_delete, post_save
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from ticketing.models import Attraction, TicketType

TIMEOUT = 300  # seconds
KEY = "shop:home-cards:{language}"


def home_cards(language: str) -> SafeString:
    """The home page's cards in `language` (the active one), as HTML."""
    key = KEY.format(language=language)
    html = cache.get(key)
    if html is None:
        html = render_to_string("shop/_home_cards.html", {"cards": _cards(language)})
        cache.set(key, str(html), TIMEOUT)
    # Our own template's output, escaped as it was rendered.
    return mark_safe(html)  # noqa: S308


def _cards(language: str) -> list[dict]:
    on_sale = Q(ticket_types__active=True)
    # "From" is the cheapest ticket that costs something: a free infant ticket is no offer.
    attractions = Attraction.objects.filter(active=True).annotate(
        paid_from=Min("ticket_types__price", filter=on_sale & Q(ticket_types__price__gt=0)),
        any_from=Min("ticket_types__price", filter=on_sale),
    )
    return [
        {
            "attraction": attraction,
            "name": attraction.display_name(language),
            "description": attraction.display_description(language),
            "address": attraction.display_address(language),
            "from_price": attraction.any_from
            if attraction.paid_from is None
            else attraction.paid_from,
        }
        for attraction in attractions
    ]


def forget_home_cards(**kwargs) -> None:
    """Drop the cached cards now, and again once the change commits: a page that read the
    catalogue before the commit may have stored the old cards in between."""
    keys = [KEY.format(language=code) for code, _name in settings.LANGUAGES]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def connect() -> None:
    for model in (Attraction, TicketType):
        post_save.connect(forget_home_cards, sender=model, dispatch_uid=f"shop-cache-{model}")
        post_delete.connect(forget_home_cards, sender=model, dispatch_uid=f"shop-cache-del-{model}")
