"""Write the sandbox's transaction and settlement files for one Beijing day to a folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from payments.sandbox.files import FILES, FileKnobs, file_name
from payments.sandbox.models import SandboxMerchant


class Command(BaseCommand):
    help = "Write the sandbox's reconciliation files (transactions, settlement) for a day."

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="Beijing day, yyyyMMdd")
        parser.add_argument("--partner", default=settings.ALIPAY_DEMO_PARTNER_ID)
        parser.add_argument("--out", default=str(settings.VAR_DIR / "sandbox-files"))
        parser.add_argument(
            "--knobs",
            default=None,
            help="deliberate differences, e.g. drop=0,stranger=1 (default SANDBOX_FILE_KNOBS)",
        )

    def handle(self, *args, date: str, partner: str, out: str, knobs: str | None, **options):
        try:
            chosen = FileKnobs.parse(knobs) if knobs is not None else FileKnobs.from_settings()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            day = datetime.strptime(date, "%Y%m%d").date()
        except ValueError as exc:
            raise CommandError("--date must be yyyyMMdd") from exc
        merchant = SandboxMerchant.objects.filter(partner_id=partner).first()
        if merchant is None:
            raise CommandError(f"No sandbox merchant {partner}")
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for kind, make in FILES.items():
            path = folder / file_name(kind, partner, day)
            path.write_text(make(merchant, day, chosen), encoding="utf-8")
            self.stdout.write(str(path))
