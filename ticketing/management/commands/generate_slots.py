"""`python manage.py generate_slots --days 90`: create the missing time slots from opening rules."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ticketing.models import Attraction
from ticketing.slot_generation import generate_slots


class Command(BaseCommand):
    help = "Create missing time slots for the next N days from opening rules (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--attraction", help="slug of one attraction (default: all on sale)")

    def handle(self, *args, days: int, attraction: str | None, **options):
        if not 1 <= days <= 730:
            raise CommandError("--days must be between 1 and 730.")
        attractions = None
        if attraction:
            attractions = list(Attraction.objects.filter(slug=attraction))
            if not attractions:
                raise CommandError(f"No attraction with slug {attraction!r}.")
        result = generate_slots(days, attractions=attractions)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.created} slots created, {result.closed} closed, "
                f"{result.reopened} reopened."
            )
        )
