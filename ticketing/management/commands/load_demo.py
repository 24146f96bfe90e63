"""Load the demo data `make run` starts with; safe to run any number of times.

Everything it creates is plainly demo: the admin login, the sandbox's demo merchant and keys.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from payments.demo_keys import ensure_demo_keys

DEMO_ADMIN = ("admin", "entrada-demo")


class Command(BaseCommand):
    help = "Create the demo keys, demo admin, sandbox merchant and demo catalogue (idempotent)."

    def handle(self, *args, **options):
        if not settings.DEBUG and not settings.SANDBOX_ENABLED:
            raise CommandError("Demo data is for development and demo sites (DEBUG or ALIPAY_SANDBOX).")
        written = ensure_demo_keys(settings.ALIPAY_KEY_DIR)
        if written:
            self.stdout.write(f"Generated demo RSA keys in {settings.ALIPAY_KEY_DIR}")
        user_model = get_user_model()
        username, password = DEMO_ADMIN
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.create_superuser(username, "admin@entrada.example", password)
            self.stdout.write(f"Created demo superuser {username} / {password}")
        from ticketing.demo import load_demo_catalogue
        from ticketing.tasks import ensure_schedules as ensure_ticketing_schedules

        slots = load_demo_catalogue()
        ensure_ticketing_schedules()
        self.stdout.write(f"Demo catalogue: {slots.created} new time slots.")
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
