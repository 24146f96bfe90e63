"""Load the demo data `make run` starts with; safe to run any number of times.

Everything it creates is plainly demo: the admin, gate and box office logins, the sandbox's demo
merchant and keys.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from payments.api.tasks import ensure_schedules as ensure_partner_api_schedules
from payments.demo_keys import demo_key_paths, ensure_demo_keys
from ticketing.demo import load_demo_catalogue
from ticketing.demo_reconciliation import load_demo_reconciled_day
from ticketing.models import Till
from ticketing.tasks import ensure_schedules as ensure_ticketing_schedules
from ticketing.views.box_office import BOX_OFFICE_GROUP, SUPERVISORS_GROUP
from ticketing.views.gate import GATE_STAFF_GROUP

DEMO_ADMIN = ("admin", "entrada-demo")
# A member of "Gate staff" only: the check-in page at /gate/, nothing in the admin.
DEMO_GATE = ("gate", "entrada-demo")
# The box office (/box-office/): a cashier, and a supervisor who also approves refunds.
DEMO_CASHIER = ("cashier", "entrada-demo")
DEMO_SUPERVISOR = ("supervisor", "entrada-demo")
DEMO_TILLS = ("Counter 1", "Counter 2", "Phone 1")


class Command(BaseCommand):
    help = "Create the demo keys, demo admin, sandbox merchant and demo catalogue (idempotent)."

    def handle(self, *args, **options):
        if not settings.DEBUG and not settings.SANDBOX_ENABLED:
            raise CommandError(
                "Demo data is for development and demo sites (DEBUG or ALIPAY_SANDBOX)."
            )
        written = ensure_demo_keys(settings.ALIPAY_KEY_DIR)
        if written:
            self.stdout.write(f"Generated demo RSA keys in {settings.ALIPAY_KEY_DIR}")
        user_model = get_user_model()
        username, password = DEMO_ADMIN
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.create_superuser(username, "admin@entrada.example", password)
            self.stdout.write(f"Created demo superuser {username} / {password}")
        self._gate_user()
        self._box_office_users()
        self._sandbox_merchant()

        slots = load_demo_catalogue()
        ensure_ticketing_schedules()
        ensure_partner_api_schedules()
        self.stdout.write(f"Demo catalogue: {slots.created} new time slots.")
        if load_demo_reconciled_day():
            self.stdout.write("Demo reconciliation: a past day paid, refunded and reconciled.")
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))

    def _gate_user(self) -> None:
        username, password = DEMO_GATE
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_user(username, "gate@entrada.example", password)
            self.stdout.write(f"Created demo gate user {username} / {password}")
        group, _created = Group.objects.get_or_create(name=GATE_STAFF_GROUP)
        user.groups.add(group)

    def _box_office_users(self) -> None:
        user_model = get_user_model()
        for (username, password), groups in (
            (DEMO_CASHIER, (BOX_OFFICE_GROUP,)),
            (DEMO_SUPERVISOR, (BOX_OFFICE_GROUP, SUPERVISORS_GROUP)),
        ):
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model.objects.create_user(
                    username, f"{username}@entrada.example", password
                )
                self.stdout.write(f"Created demo box office user {username} / {password}")
            for name in groups:
                user.groups.add(Group.objects.get_or_create(name=name)[0])
        # Two counters and a phone for the queue (mPOS): a shift opens on one of them.
        for name in DEMO_TILLS:
            Till.objects.get_or_create(name=name)

    def _sandbox_merchant(self) -> None:
        """The sandbox's demo merchant with the demo keys, and its notification Schedule."""
        # The sandbox app may be left out of a production site: import it only when asked for.
        from payments.sandbox.demo import ensure_demo_merchant
        from payments.sandbox.notify import ensure_schedule

        key_dir = settings.ALIPAY_KEY_DIR
        _merchant_private, merchant_public = demo_key_paths(key_dir, "demo-merchant")
        alipay_private, _alipay_public = demo_key_paths(key_dir, "demo-alipay")
        ensure_demo_merchant(
            partner_id=settings.ALIPAY_DEMO_PARTNER_ID,
            md5_key=settings.ALIPAY_DEMO_MD5_KEY,
            merchant_public_key_pem=merchant_public.read_text(encoding="ascii"),
            sandbox_private_key_pem=alipay_private.read_text(encoding="ascii"),
            sign_type=settings.ALIPAY["SIGN_TYPE"],
        )
        ensure_schedule()
        self.stdout.write(f"Sandbox demo merchant {settings.ALIPAY_DEMO_PARTNER_ID} is in place.")
