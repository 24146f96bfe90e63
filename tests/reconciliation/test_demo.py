"""`make run`'s demo data holds a reconciled past day, made over real HTTP to the sandbox."""

from __future__ import annotations

from decimal import Decimal

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
    stranger = DaySummary.objects.get(currency="HKD")
    assert stranger.settled == stranger.net == 88 - Decimal("1.58")
    [difference] = Difference.objects.filter(is_open=True)
    assert difference.kind == Difference.Kind.MISSING_HERE
    assert Payment.objects.filter(state=Payment.State.PAID).count() == 2
    assert not load_demo_reconciled_day()
    assert ReconciliationRun.objects.filter(trigger="demo").count() == 1


def test_the_strangers_trade_is_listed_once_in_each_file(alipay_gateway, clock):
    from datetime import date

    from payments.sandbox.files import FileKnobs, settlement_file, transaction_file
    from payments.sandbox.models import SandboxMerchant

    merchant = SandboxMerchant.objects.get()
    knobs = FileKnobs(stranger=True)
    day = date(2026, 11, 27)
    for make in (transaction_file, settlement_file, transaction_file):
        assert make(merchant, day, knobs).count("STRANGER-20261127") == 1
