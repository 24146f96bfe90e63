from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketingConfig(AppConfig):
    name = "ticketing"
    verbose_name = _("Ticketing")

    def ready(self) -> None:
        # Orders learn of their payments' outcomes through payments' signals (docs/architecture.md).
        from . import receivers, shop_cache

        receivers.connect()
        # The shop's cached home page forgets its cards when the catalogue changes.
        shop_cache.connect()
