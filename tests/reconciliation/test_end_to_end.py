"""A real day through the sandbox: pay, refund in part, reverse, cancel; files fetched over HTTP
by the daily task; everything matches. Then each sandbox knob makes exactly its one difference,
and the action meant for it resolves it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments import lifecycle
from payments.models import GatewayExchange, Payment, Refund
from payments.reconciliation import actions, tasks
from payments.reconciliation.models import (
    DaySummary,
    Difference,
    DifferenceEvent,
    ReconciliationFile,
    ReconciliationRun,
)
from payments.reconciliation.report import day_report, render_text
from tests.payments.helpers import INSUFFICIENT, PIN_NEVER, SUCCESS, pay

from .helpers import DAY, NEXT_MORNING, open_differences, simple_day

Kind = Difference.Kind


def test_a_day_of_payments_refunds_reversals_and_cancels_reconciles_with_no_difference(
    recon, mailoutbox
):
    clock = recon
    kept = pay(SUCCESS, "100.00")
    clock.advance(60)
    lifecycle.request_refund(kept, amount=Decimal("40.00"), reason="one ticket", actor="test")
    clock.advance(60)
    reversed_ = pay(SUCCESS, "20.00")
    clock.advance(60)
    assert lifecycle.request_cancel(reversed_, actor="test").state == Payment.State.CANCELLED
    clock.advance(60)
    never = pay(PIN_NEVER, "15.00")  # the poller cancels it at its deadline: no money moved
    assert Payment.objects.get(pk=never.pk).state == Payment.State.CANCELLED
    clock.advance(60)
    assert pay(INSUFFICIENT, "5.00").state == Payment.State.FAILED
    clock.advance(60)
    jpy = pay(SUCCESS, "1200", currency="JPY")
    assert jpy.state == Payment.State.PAID

    clock.freeze(NEXT_MORNING)
    assert tasks.daily() == 2
    assert open_differences() == []
    files = ReconciliationFile.objects.order_by("kind")
    assert [(f.kind, f.day, f.line_count, f.source) for f in files] == [
        ("settlement", DAY, 5, "sandbox"),
        ("transaction", DAY, 5, "sandbox"),
    ]
    usd = DaySummary.objects.get(day=DAY, currency="USD")
    assert (usd.payments_count, usd.payments_gross) == (2, Decimal("120.00"))
    assert (usd.refunds_count, usd.refunds_gross) == (1, Decimal("40.00"))
    assert (usd.reversals_count, usd.reversals_gross) == (1, Decimal("20.00"))
    # 1.8% of each movement, a refund's and a reversal's share given back.
    assert usd.fees == Decimal("1.80") + Decimal("0.36") - Decimal("0.72") - Decimal("0.36")
    assert usd.net == Decimal("60.00") - usd.fees
    assert usd.settled == usd.net
    assert usd.settled_cny == (usd.settled * Decimal("7.20")).quantize(Decimal("0.01"))
    assert (usd.lines, usd.matched_lines) == (4, 4)
    jpy_row = DaySummary.objects.get(day=DAY, currency="JPY")
    assert (jpy_row.payments_gross, jpy_row.fees) == (Decimal("1200"), Decimal("22"))
    text = render_text(day_report(DAY))
    assert "matched: 100.00%" in text and "Open differences: none" in text
    assert mailoutbox == []

    # Re-running the daily task is harmless: nothing imported, nothing new, no mail.
    assert tasks.daily() == 0
    assert ReconciliationFile.objects.count() == 2
    assert ReconciliationRun.objects.count() == 2
    assert Difference.objects.count() == 0 and mailoutbox == []


def reconcile_with(settings, knobs: str):
    settings.SANDBOX_FILE_KNOBS = knobs
    return tasks.daily()


@pytest.mark.parametrize(
    ("knob", "kind", "line_type"),
    [
        ("drop=0", Kind.MISSING_AT_ALIPAY, "PAYMENT"),
        ("change_amount=1", Kind.AMOUNT_MISMATCH, "PAYMENT"),
        ("settle_late=2", Kind.UNSETTLED, "REFUND"),
        ("duplicate=1", Kind.DUPLICATE_LINE, "PAYMENT"),
    ],
)
def test_each_knob_makes_exactly_its_difference_and_a_check_and_a_note_resolve_it(
    recon, settings, mailoutbox, staff, knob, kind, line_type
):
    clock = recon
    day = simple_day(clock)
    settings.RECONCILIATION_SETTLE_DAYS = 0
    clock.freeze(NEXT_MORNING)
    reconcile_with(settings, knob)
    [diff] = open_differences()
    assert (diff.kind, diff.line_type, diff.day) == (kind, line_type, DAY)
    if kind != Kind.UNSETTLED:
        assert diff.severity in Difference.ALERT_SEVERITIES
        [mail] = mailoutbox
        assert diff.partner_transaction_id in mail.body and "ops@entrada.example" in mail.to
    expected_payment = day["first"] if line_type == "REFUND" or knob == "drop=0" else day["second"]
    assert diff.payment_id == expected_payment.pk

    check = actions.check_with_alipay(diff, staff)
    assert check.status == "TRADE_SUCCESS"
    assert Decimal(check.amount) == expected_payment.amount  # Alipay agrees with Entrada
    exchange = GatewayExchange.objects.filter(actor="staff:auditor").get()
    assert exchange.believed and exchange.payment_id == expected_payment.pk
    assert actions.resolve(diff, staff, "Alipay's file was wrong; query confirms our record")
    diff.refresh_from_db()
    assert not diff.is_open and diff.resolved_by == staff
    assert list(diff.events.values_list("action", "actor")) == [
        (DifferenceEvent.Action.FOUND, "system:reconcile"),
        (DifferenceEvent.Action.CHECKED, "staff:auditor"),
        (DifferenceEvent.Action.RESOLVED, "staff:auditor"),
    ]
    # Running again keeps the staff's resolution and note; nothing new is mailed.
    mails = len(mailoutbox)
    tasks.daily()
    diff.refresh_from_db()
    assert not diff.is_open and diff.note.startswith("Alipay's file was wrong")
    assert len(mailoutbox) == mails


def test_a_strangers_trade_is_missing_here_and_refunding_the_buyer_resolves_it(
    recon, settings, staff, mailoutbox
):
    clock = recon
    simple_day(clock)
    clock.freeze(NEXT_MORNING)
    reconcile_with(settings, "stranger=1")
    [diff] = open_differences()
    assert (diff.kind, diff.severity, diff.payment_id) == (Kind.MISSING_HERE, "critical", None)
    assert diff.partner_transaction_id == "STRANGER-20261127"
    assert "Critical" in mailoutbox[0].body

    refund = actions.refund_buyer(diff, staff)
    assert refund.state == Refund.State.SUCCEEDED and refund.amount == Decimal("88.00")
    diff.refresh_from_db()
    assert not diff.is_open and diff.resolution == Difference.Resolution.REFUNDED
    assert diff.payment.state == Payment.State.REFUNDED
    assert diff.payment.events.first().actor == "staff:auditor"


def test_a_corrected_file_supersedes_the_first_and_keeps_the_notes_of_what_remains(
    recon, settings, staff
):
    clock = recon
    simple_day(clock)
    clock.freeze(NEXT_MORNING)
    reconcile_with(settings, "drop=0,duplicate=1")
    dropped = Difference.objects.get(kind=Kind.MISSING_AT_ALIPAY)
    actions.add_note(dropped, staff, "asked Alipay by mail")
    # Alipay sends corrected files: the dropped line is back, the duplicate still there.
    reconcile_with(settings, "duplicate=1")
    old, new = ReconciliationFile.objects.filter(kind="transaction").order_by("imported_at", "pk")
    assert old.superseded_by == new and new.superseded_by is None
    dropped.refresh_from_db()
    assert not dropped.is_open and dropped.resolution == Difference.Resolution.CLEARED
    assert dropped.note == "asked Alipay by mail"
    [still] = open_differences()
    assert still.kind == Kind.DUPLICATE_LINE
