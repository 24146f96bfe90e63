"""`python manage.py check_capacity`: verify every slot's held/sold counters against its orders.

Exit status 1 when a slot differs (for monitoring); `--repair` rewrites the counters of those
slots from the orders after reporting them. Each mismatch is logged as an ERROR, which the
LOGGING config mails to ADMINS in production, so a scheduled run alerts someone.
"""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand, CommandError

from ticketing.inventory import check_capacity, repair_counters

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Check slot capacity counters against the orders (exit 1 on any mismatch)."

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="rewrite mismatched counters")

    def handle(self, *args, repair: bool, **options):
        problems = check_capacity()
        if not problems:
            self.stdout.write(self.style.SUCCESS("Capacity counters match the orders."))
            return
        for problem in problems:
            logger.error("capacity counters disagree with orders: %s", problem)
            self.stderr.write(str(problem))
        if repair:
            changed = repair_counters([p.slot_id for p in problems])
            self.stdout.write(f"Repaired {changed} slots.")
            if not check_capacity([p.slot_id for p in problems]):
                return
        raise CommandError(f"{len(problems)} slots do not match their orders.")
