"""`make run`'s demo data holds a reconciled past day, made over real HTTP to the sandbox."""

from __future__ import annotations

from payments.models import Payment
from payments.reconciliation.models import DaySummary, Difference, ReconciliationRun
from ticketing.demo import load_demo_catalogue
from ticketing.demo_reconciliation import load_demo_reconciled_day


def test_the_demo_has_a_reconciled_past_day_with_one_difference_to_act_on(alipay_gateway):
    load_demo_catalogue()
    assert load_demo_reconciled_day()
    summary = DaySummary.objects.get(currency="CNY")
    assert (summary.payments_count, summary.refunds_count) == (3, 1)
    assert summary.payments_gross == 6 * 80 and summary.settled > 0
    [difference] = Difference.objects.filter(is_open=True)
    assert difference.kind == Difference.Kind.MISSING_HERE
    assert Payment.objects.filter(state=Payment.State.PAID).count() == 2
    assert not load_demo_reconciled_day()
    assert ReconciliationRun.objects.filter(trigger="demo").count() == 1
