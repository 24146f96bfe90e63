"""The admin pages of an attraction's things show their times in the attraction's zone.

Every datetime the admin prints goes through DATETIME_FORMAT (ticketing/formats), which names
the zone it is shown in; outside these pages that is the site's TIME_ZONE. An order's or a
slot's page is read against the attraction's clock, as the shop prints it, and a box-office
shift's against the box office's, as its slips do: the page renders in that zone, so every
time on it (inlines included) is the local one and says so ("CST").
"""

from __future__ import annotations

import datetime as dt

from django.contrib.admin.utils import unquote
from django.utils import timezone


class PageTimeZoneMixin:
    """For a ModelAdmin: render the change page in `page_zone(object_id)` (None: the site's)."""

    def page_zone(self, object_id: str) -> dt.tzinfo | None:
        raise NotImplementedError

    def change_view(self, request, object_id, form_url="", extra_context=None):
        zone = self.page_zone(unquote(object_id))
        if zone is None:
            return super().change_view(request, object_id, form_url, extra_context)
        with timezone.override(zone):
            response = super().change_view(request, object_id, form_url, extra_context)
            # A TemplateResponse renders after the view returns: render it inside the zone.
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response
