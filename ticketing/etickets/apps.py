from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EticketsConfig(AppConfig):
    """An app of its own so that its translations (locale/) and system check are found."""

    name = "ticketing.etickets"
    label = "etickets"
    verbose_name = _("E-tickets")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the signing key and CJK font checks)
