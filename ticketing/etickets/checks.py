"""`manage.py check` (run by migrate and runserver) refuses a production site without a ticket key,
and a configured e-ticket CJK font it cannot embed.

The settings module cannot refuse at import without breaking sites that only run tasks or tests;
a system check fails deployment early instead of at the first paid order.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def check_ticket_signing_key(app_configs, **kwargs) -> list[checks.CheckMessage]:
    configured = settings.TICKET_SIGNING_KEY or settings.TICKET_SIGNING_KEY_FILE
    if not configured and not (settings.DEBUG or settings.SANDBOX_ENABLED):
        return [
            checks.Error(
                "No ticket signing key is configured.",
                hint="Set TICKET_SIGNING_KEY_FILE (an Ed25519 PEM) or TICKET_SIGNING_KEY.",
                id="etickets.E001",
            )
        ]
    if configured:
        # Checks are registered at import; the key ring (and cryptography) load only when run.
        from .keys import key_ring

        try:
            key_ring()
        except ImproperlyConfigured as exc:
            return [checks.Error(str(exc), id="etickets.E002")]
    return []


@checks.register()
def check_ticket_cjk_font(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """An unusable TICKET_CJK_FONT is an error; no CJK font at all is a warning (fonts.py)."""
    # reportlab's font machinery loads only when the check runs, not at every import.
    from . import fonts

    font, problems = fonts.find_ttf()
    if settings.TICKET_CJK_FONT and font is None:
        return [
            checks.Error(
                f"TICKET_CJK_FONT cannot be used: {problems[0]}",
                hint="Point it at a TrueType CJK font (.ttf, or .ttc with TrueType outlines; "
                "NotoSansCJK's CFF outlines do not work), e.g. "
                "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf from Debian's "
                "fonts-droid-fallback, or leave it empty to look for one.",
                id="etickets.E003",
            )
        ]
    if font is None:
        found = f" ({'; '.join(problems)})" if problems else ""
        return [
            checks.Warning(
                f"No CJK TrueType font found{found}: Chinese text on e-tickets uses the "
                f"non-embedded {fonts.CID_FALLBACK}, which viewers without it draw as boxes.",
                hint="Install Debian's fonts-droid-fallback (make system-deps) or set "
                "TICKET_CJK_FONT to a TrueType CJK font.",
                id="etickets.W001",
            )
        ]
    return []
