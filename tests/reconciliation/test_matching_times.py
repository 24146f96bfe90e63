"""Times that matching reads only when they matter: a payment outside the day and its
neighbours, and the time named in a missing line's message."""

from __future__ import annotations

from datetime import timedelta

from payments.alipay.beijing import beijing
from payments.models import Payment
from payments.reconciliation import tasks
from payments.reconciliation.models import Difference

from .helpers import DAY, NEXT_MORNING, open_differences, simple_day

Kind = Difference.Kind


def test_a_missing_line_names_the_beijing_time_entrada_was_paid(recon, settings):
    day = simple_day(recon)
    recon.freeze(NEXT_MORNING)
    settings.SANDBOX_FILE_KNOBS = "drop=0"
    tasks.daily()
    [diff] = open_differences()
    paid_at = Payment.objects.get(pk=day["first"].pk).paid_at
    assert diff.kind == Kind.MISSING_AT_ALIPAY
    assert f"at {beijing(paid_at):%Y-%m-%d %H:%M:%S} Beijing" in diff.detail


def test_a_payment_entrada_recorded_paid_days_before_alipays_line_is_a_state_mismatch(
    recon, settings
):
    day = simple_day(recon)
    second = day["second"]
    # Entrada's record of when it was paid, days away from the file that carries it.
    Payment.objects.filter(pk=second.pk).update(paid_at=second.paid_at - timedelta(days=3))
    recon.freeze(NEXT_MORNING)
    tasks.daily()
    [diff] = open_differences()
    assert (diff.kind, diff.payment_id) == (Kind.STATE_MISMATCH, second.pk)
    assert diff.detail == f"Entrada recorded it paid on {DAY - timedelta(days=3)}, Alipay on {DAY}"
