"""`manage.py alipay_validate` passes Alipay's six barcode cases against the sandbox."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from payments.models import Payment

pytestmark = pytest.mark.django_db(transaction=True)


def test_all_six_cases_pass_against_the_sandbox(sandbox_clock):
    out = io.StringIO()
    call_command("alipay_validate", "--deadline", "12", stdout=out)
    text = out.getvalue()
    for case in ("SPOT-001", "SPOT-002", "SPOT-003", "SPOT-004", "SPOT-005", "SPOT-006"):
        line = next(row for row in text.splitlines() if row.startswith(case))
        assert line.rstrip().endswith("PASS"), line
    assert "6/6 cases passed" in text
    assert Payment.objects.filter(reference__startswith="SPOT-").count() == 6


def test_a_failing_case_exits_with_status_one(sandbox_clock, settings):
    # Alipay refusing our partner id (a wrong configuration) must fail the validation loudly.
    settings.ALIPAY = {**settings.ALIPAY, "PARTNER_ID": "2088999999999999"}
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("alipay_validate", "--case", "SPOT-001", stdout=out)
    assert exited.value.code == 1
    assert "FAIL" in out.getvalue()
