"""The sales report's daily rows agree exactly with the raw rows they summarise.

Sales are made the real way, over several days: shop orders paid in the sandbox wallet over HTTP,
a box-office sale paid by a scanned code, a partial refund, a paid order cancelled by staff (a
full refund), same-day reversals (staff's, a buyer's whole-order cancel, a price difference paid
for a change of time), a hold cancelled before payment, gate scans, and a partner-API sale with
a partial refund. Then every report (day, week, month; each filter) read from the
daily rows must equal the one aggregated from orders, refunds, tickets and payments directly,
and the rows kept as the sales happened must equal the rows rebuilt from scratch; the net must
be what the sandbox (Alipay) still holds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from payments import lifecycle
from payments.api.terminals import get_or_create_terminal, issue_token
from payments.models import Payment, Refund
from payments.sandbox.models import SandboxTrade
from ticketing import orders
from ticketing.etickets import checkin
from ticketing.models import (
    DailySales,
    DailyTicketTypeSales,
    Order,
    RefundPolicy,
    SlotChange,
    Ticket,
)
from ticketing.orders import self_service
from ticketing.reports import ledger
from ticketing.reports.filters import Channel, Period, ReportQuery
from ticketing.reports.queries import Source, sales_report

from .money_world import (
    SUCCESS_CODE,
    ask,
    book,
    dearer,
    paid_online_order,
    set_up_world,
    tokens_of,
    wallet_pays,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(alipay_gateway, settings, clock, mailoutbox):
    world = set_up_world(alipay_gateway, settings)
    # Buyers may cancel for free and change the time (a dearer time pays the difference).
    RefundPolicy.objects.create(
        attraction=world.attraction,
        cancel_hours_before=12,
        fee_percent=Decimal("0"),
        change_allowed=True,
        change_hours_before=1,
    )
    return world


def _cents(amount) -> Decimal:
    return Decimal(amount).quantize(Decimal("0.01"))


def _daily_rows() -> tuple[set, set]:
    key = ("day", "attraction_id", "channel", "currency")
    counts = (*key, "orders", "tickets", "admitted")
    sales = {
        (*(getattr(r, name) for name in counts), _cents(r.gross), _cents(r.refunds))
        for r in DailySales.objects.all()
    }
    types = {
        (*(getattr(r, name) for name in (*key, "ticket_type_id", "tickets")), _cents(r.amount))
        for r in DailyTicketTypeSales.objects.all()
    }
    return sales, types


def _partner_sale(amount: str, refund: str) -> None:
    terminal, _created = get_or_create_terminal("S1", "R1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(terminal)}")
    body = {"amount": amount, "currency": "CNY", "description": "Shop", "buyer_code": SUCCESS_CODE}
    sold = client.post(
        "/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert sold.status_code == 201 and sold.json()["state"] == "paid", sold.content
    given_back = client.post(
        f"/api/v1/payments/{sold.json()['id']}/refunds/",
        {"amount": refund},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert given_back.status_code == 201 and given_back.json()["state"] == "succeeded"


def test_the_daily_rows_agree_with_the_raw_rows_after_sales_refunds_cancels_and_scans(world, clock):
    first_day = clock.now()
    slot = world.slot(capacity=40, hours_ahead=50)
    # Day 1: two shop orders, one partially refunded the same day; a hold cancelled unpaid.
    kept, _payment = paid_online_order(world, slot, adult=2, child=1)
    partly, partly_payment = paid_online_order(world, slot, adult=2)
    refund = lifecycle.request_refund(
        partly_payment, amount=Decimal("30.00"), reason="one late", actor="staff:test"
    )
    assert refund.state == Refund.State.SUCCEEDED
    orders.cancel_order(book(world, slot, child=2), actor="buyer")
    # Day 2: a box-office sale; a shop order reversed on its own Beijing day (no Refund row).
    clock.advance(24 * 3600)
    counter = book(world, slot, adult=1, family=1)
    Order.objects.filter(pk=counter.pk).update(channel=Order.Channel.BOX_OFFICE)
    paid = orders.start_counter_payment(
        counter, SUCCESS_CODE, store_id="BOX-OFFICE", terminal_id="WEB-1", actor="cashier"
    )
    assert paid.state == Payment.State.PAID
    _reversed, reversed_payment = paid_online_order(world, slot, child=1)
    assert lifecycle.request_cancel(reversed_payment, actor="staff:test").state == "cancelled"
    # The buyer cancels a whole order on its payment's Beijing day, with no fee: reversed too.
    by_buyer, by_buyer_payment = paid_online_order(world, slot, adult=1)
    self_service.cancel_tickets(by_buyer, [t.number for t in by_buyer.tickets.all()])
    assert Payment.objects.get(pk=by_buyer_payment.pk).state == Payment.State.CANCELLED
    # Two dearer changes of time, their 20.00 differences paid in the sandbox wallet; staff
    # reverse one difference the same day (the order keeps its new time).
    moved, _payment = paid_online_order(world, slot, adult=1)
    moved_back, _payment = paid_online_order(world, slot, adult=1)
    dearer(world, "100.00")
    later = world.slot(capacity=10, hours_ahead=74)
    differences = []
    for order in (moved, moved_back):
        change = ask(order, later)
        wallet_pays(change.payment)
        change.refresh_from_db()
        assert change.state == SlotChange.State.CHANGED
        differences.append(change.payment)
    assert lifecycle.request_cancel(differences[1], actor="staff:test").state == "cancelled"
    assert not Refund.objects.filter(payment__in=differences).exists()
    # Day 3: staff cancel the partly refunded order (what is left goes back), a partner-API sale
    # is partly refunded, and visitors arrive at the gate.
    clock.advance(24 * 3600)
    orders.cancel_order(partly, actor="admin:test")
    assert Payment.objects.get(pk=partly_payment.pk).state == Payment.State.REFUNDED
    _partner_sale("55.00", "5.00")
    clock.freeze(slot.starts_at + dt.timedelta(minutes=5))
    admitted = [checkin.admit(token, actor="gate:test") for token in tokens_of(kept)[:2]]
    admitted += [checkin.admit(token, actor="gate:test") for token in tokens_of(counter)[:3]]
    assert all(verdict.ok for verdict in admitted)
    assert Ticket.objects.filter(state=Ticket.State.USED).count() == 5

    start = first_day.date() - dt.timedelta(days=1)
    end = clock.now().date() + dt.timedelta(days=1)
    queries = [
        ReportQuery(start, end, period) for period in (Period.DAY, Period.WEEK, Period.MONTH)
    ] + [
        ReportQuery(start, end, Period.DAY, attraction=world.attraction),
        ReportQuery(start, end, Period.DAY, channel=Channel.BOX_OFFICE),
        ReportQuery(start, end, Period.DAY, channel=Channel.PARTNER_API),
        ReportQuery(start, end, Period.WEEK, currency="CNY"),
        ReportQuery(start, end, Period.DAY, currency="JPY"),
    ]
    for query in queries:
        summary = sales_report(query, source=Source.SUMMARY).tables
        raw = sales_report(query, source=Source.RAW).tables
        for name in summary:
            assert summary[name].rows == raw[name].rows, (query, name)

    everything = _rows_of(sales_report(ReportQuery(start, end, Period.MONTH)).tables["channel"])
    # The figures are not trivially empty: every kind of change is in them.
    assert everything[("Online", "CNY")][:3] == [6, 9, 2]  # orders, tickets, admitted
    assert everything[("Box office", "CNY")][:3] == [1, 2, 3]
    # Given back: 30, then the other 130; two orders reversed (child 40, adult 80) and one
    # difference (20): a reversal is money given back, not a sale that never happened.
    assert everything[("Online", "CNY")][4] == Decimal("300.00")
    # What the money says: the sandbox's trades, kept unless given back.
    taken, kept = _money_at_alipay()
    assert sum(row[3] for row in everything.values()) == taken
    assert sum(row[5] for row in everything.values()) == kept
    assert everything[("Partner API", "CNY")][3:] == [
        Decimal("55.00"),
        Decimal("5.00"),
        Decimal("50.00"),
    ]

    kept_rows = _daily_rows()
    call_command("rebuild_sales_summary", verbosity=0)
    assert _daily_rows() == kept_rows
    ledger.rebuild(start, end)
    assert _daily_rows() == kept_rows


def _money_at_alipay() -> tuple[Decimal, Decimal]:
    """What the sandbox (Alipay) took, and what it still holds once refunds and reversals went
    back to the buyers."""
    taken = kept = Decimal(0)
    for trade in SandboxTrade.objects.filter(paid_at__isnull=False):
        taken += trade.amount
        if trade.close_reason != SandboxTrade.CloseReason.REVERSED:
            kept += trade.amount - trade.refunded_amount
    return taken, kept


def _rows_of(table) -> dict:
    return {(row[0], row[1]): row[2:] for row in table.rows}


def test_a_rebuild_of_some_days_leaves_the_other_days_alone(world, clock):
    slot = world.slot(capacity=10, hours_ahead=50)
    paid_online_order(world, slot, adult=1)
    clock.advance(24 * 3600)
    paid_online_order(world, slot, child=1)
    before = _daily_rows()
    today = clock.now().astimezone(world.attraction.tz).date()
    DailySales.objects.update(gross=0)
    ledger.rebuild(today, today)
    rows = {row[0]: row[7] for row in _daily_rows()[0]}
    assert rows == {today - dt.timedelta(days=1): Decimal("0.00"), today: Decimal("40.00")}
    ledger.rebuild()
    assert _daily_rows() == before


def test_the_rebuild_command_refuses_half_a_range():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("rebuild_sales_summary", "--from", "2026-11-01")
    with pytest.raises(CommandError):
        call_command("rebuild_sales_summary", "--from", "2026-11-02", "--until", "2026-11-01")
    with pytest.raises(CommandError):
        call_command("rebuild_sales_summary", "--from", "yesterday", "--until", "2026-11-01")
