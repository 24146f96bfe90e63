"""The daily schedule made by migration, and manage.py reconcile."""

from __future__ import annotations

import io
from datetime import UTC

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from payments.reconciliation.models import Difference, ReconciliationFile
from payments.sandbox.files import FILES, FileKnobs, file_name
from payments.sandbox.models import SandboxMerchant

from .helpers import DAY, NEXT_MORNING, simple_day


@pytest.mark.django_db
def test_the_daily_schedule_exists_and_runs_after_the_drop_time():
    schedule = Schedule.objects.get(name="reconciliation-daily")
    assert schedule.func == "payments.reconciliation.tasks.daily"
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1
    # 10:30 Beijing is 02:30 UTC.
    assert schedule.next_run.astimezone(UTC).time().isoformat() == "02:30:00"


def test_the_command_reconciles_a_day_from_the_sandbox_and_prints_the_report(recon):
    simple_day(recon)
    recon.freeze(NEXT_MORNING)
    out = io.StringIO()
    call_command("reconcile", "--date", "2026-11-27", "--source", "sandbox", stdout=out)
    text = out.getvalue()
    assert "Reconciliation 2026-11-27 (Beijing)" in text
    assert "USD" in text and "matched: 100.00%" in text
    assert "\r" not in text  # no progress bar when not on a terminal
    call_command("reconcile", "--date", "20261127", "--fail-on", "critical", stdout=io.StringIO())


def test_fail_on_critical_exits_non_zero_while_a_critical_difference_is_open(
    recon, settings, tmp_path
):
    simple_day(recon)
    merchant = SandboxMerchant.objects.get()
    paths = []
    for kind, make in FILES.items():
        path = tmp_path / file_name(kind, merchant.partner_id, DAY)
        path.write_text(make(merchant, DAY, FileKnobs(stranger=True)), encoding="utf-8")
        paths.append(str(path))
    recon.freeze(NEXT_MORNING)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 open critical") as failed:
        call_command("reconcile", "--file", *paths, "--fail-on", "critical", stdout=out)
    assert failed.value.returncode == 3
    assert "missing_here 1" in out.getvalue()
    assert {f.source for f in ReconciliationFile.objects.all()} == {"command"}
    assert Difference.objects.get().kind == Difference.Kind.MISSING_HERE


@pytest.mark.django_db
def test_the_command_refuses_bad_arguments():
    with pytest.raises(CommandError, match="not a day"):
        call_command("reconcile", "--date", "27/11/2026")
    with pytest.raises(CommandError, match="go together"):
        call_command("reconcile", "--from", "2026-11-27")
    with pytest.raises(CommandError, match="No such file"):
        call_command("reconcile", "--file", "/nonexistent/file.csv")
