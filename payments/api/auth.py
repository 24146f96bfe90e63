"""Terminal token authentication: `Authorization: Token <key>` identifies one active terminal.

DRF's authtoken ties tokens to users; a cash register is not a person, so terminals carry their
own token (stored hashed, see models.TerminalToken). request.user is the Terminal, request.auth its
TerminalToken. Every failure is the same 401 `not_authenticated`, whatever the reason, so the
answer tells an attacker nothing about which tokens or terminals exist.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from payments import clock
from payments.api.models import Terminal, TerminalToken, hash_token

logger = logging.getLogger(__name__)

KEYWORD = "Token"
# last_used_at is for staff ("is this register still in use?"), not for auditing each request:
# writing it at most once a minute keeps a busy terminal's reads from turning into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TerminalTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request) -> tuple[Terminal, TerminalToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid Authorization header: expected 'Token <key>'.")
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = (
            TerminalToken.objects.select_related("terminal__store")
            .filter(key_hash=hash_token(key))
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.terminal.active:
            logger.info("refused token of inactive terminal %s", token.terminal)
            raise exceptions.AuthenticationFailed(_("This terminal is disabled."))
        now = clock.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            TerminalToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.terminal, token

    def authenticate_header(self, request) -> str:
        # Present, so DRF answers 401 (not 403) with WWW-Authenticate when no token is sent.
        return KEYWORD


class IsTerminal(permissions.BasePermission):
    """Only an authenticated terminal may call the partner API."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Terminal)


class TerminalTokenScheme(OpenApiAuthenticationExtension):
    """Documents the scheme in the OpenAPI schema (loaded by drf-spectacular via this import)."""

    target_class = "payments.api.auth.TerminalTokenAuthentication"
    name = "TerminalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": str(
                _(
                    "A terminal's token, sent as 'Token <key>'. Created in the admin or with "
                    "'manage.py create_terminal STORE TERMINAL'."
                )
            ),
        }
