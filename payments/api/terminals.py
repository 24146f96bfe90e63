"""Registering stores and terminals and issuing their tokens: shared by the admin and the
`create_terminal` command, so both behave the same."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from payments.api.models import Store, Terminal, TerminalToken, id_validator


def validate_id(value: str, what: str) -> str:
    try:
        id_validator(value)
    except ValidationError as exc:
        raise ValidationError(
            _("%(what)s %(value)r: %(problem)s")
            % {"what": what, "value": value, "problem": " ".join(exc.messages)}
        ) from None
    return value


@transaction.atomic
def get_or_create_terminal(
    store_id: str, terminal_id: str, *, store_name: str = "", terminal_name: str = ""
) -> tuple[Terminal, bool]:
    """The terminal (and its store), created when missing; True when the terminal is new."""
    validate_id(store_id, "STORE")
    validate_id(terminal_id, "TERMINAL")
    store, _created = Store.objects.get_or_create(
        store_id=store_id, defaults={"name": store_name or store_id}
    )
    terminal, created = Terminal.objects.get_or_create(
        store=store, terminal_id=terminal_id, defaults={"name": terminal_name}
    )
    return terminal, created


def has_token(terminal: Terminal) -> bool:
    return TerminalToken.objects.filter(terminal=terminal).exists()


def issue_token(terminal: Terminal) -> str:
    """A new token for the terminal (the previous one stops working); the plain token is returned
    once and never stored."""
    return TerminalToken.issue(terminal)
