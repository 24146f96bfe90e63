"""`manage.py create_terminal STORE TERMINAL`: register a POS terminal and print its API token.

Tokens are stored hashed, so an existing token can never be shown again: asking again for a
terminal that has one is refused unless --rotate says to replace it (the old token then stops
working), which keeps a repeated command from silently logging out a register in use.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from payments.api.terminals import get_or_create_terminal, has_token, issue_token


class Command(BaseCommand):
    help = (
        "Create (or find) a store and terminal for the partner API and print the terminal's token."
    )

    def add_arguments(self, parser):
        parser.add_argument("store_id", metavar="STORE")
        parser.add_argument("terminal_id", metavar="TERMINAL")
        parser.add_argument(
            "--store-name", default="", help="Name of the store when it is created."
        )
        parser.add_argument(
            "--terminal-name", default="", help="Name of the terminal when created."
        )
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="Replace the terminal's existing token (the old one stops working).",
        )

    def handle(self, *args, store_id, terminal_id, store_name, terminal_name, rotate, **options):
        try:
            terminal, created = get_or_create_terminal(
                store_id, terminal_id, store_name=store_name, terminal_name=terminal_name
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if not created and has_token(terminal) and not rotate:
            raise CommandError(
                f"Terminal {terminal} already has a token, which cannot be shown again. "
                "Run with --rotate to issue a new one (the old token stops working)."
            )
        token = issue_token(terminal)
        verb = (
            "Created" if created else ("Rotated the token of" if rotate else "Issued a token for")
        )
        self.stdout.write(f"{verb} terminal {terminal}.")
        self.stdout.write("Token (shown only now; store it in the terminal):")
        self.stdout.write(token)
        self.stdout.write(f"Send it as the header: Authorization: Token {token}")
