"""Z reports: what a shift (or a till's day) sold, refunded and voided, and its drawer.

Read from the records, never from the cashier's word: sales from the shift's counter orders
that were paid (cash from the drawer's ledger, Alipay from the orders' payments, with the CNY
Alipay charged), refunds from the refunds made in the shift, voids from its cancelled sales, the
drawer from its ledger and its count. A fixed number of queries whatever the shift's size.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from payments.models import Payment

from ..models import CounterRefund, CounterSale, Order, OrderLine, Shift, Till, TillMovement

SOLD_STATES = (Order.State.PAID, Order.State.REFUND_PENDING, Order.State.REFUNDED)
VOID_STATES = (Order.State.CANCELLED, Order.State.EXPIRED)


def box_office_time_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(getattr(settings, "RECEIPT_TIME_ZONE", "Asia/Shanghai"))


@dataclass
class Total:
    count: int = 0
    amount: Decimal = Decimal(0)

    def add(self, amount: Decimal, count: int = 1) -> None:
        self.count += count
        self.amount += amount


@dataclass
class ZReport:
    currency: str
    shifts: list[Shift]
    sales: dict[str, Total] = field(default_factory=lambda: defaultdict(Total))
    alipay_cny: Decimal | None = None
    by_ticket_type: dict[str, Total] = field(default_factory=lambda: defaultdict(Total))
    refunds: dict[str, Total] = field(default_factory=lambda: defaultdict(Total))
    voids: Total = field(default_factory=Total)
    opening_float: Decimal = Decimal(0)
    cash_sales: Decimal = Decimal(0)
    cash_refunds: Decimal = Decimal(0)
    counted: Decimal | None = None
    variance: Decimal | None = None

    @property
    def expected_cash(self) -> Decimal:
        return self.opening_float + self.cash_sales - self.cash_refunds

    @property
    def gross_sales(self) -> Decimal:
        return sum((t.amount for t in self.sales.values()), Decimal(0))

    @property
    def total_refunds(self) -> Decimal:
        return sum((t.amount for t in self.refunds.values()), Decimal(0))

    @property
    def net_sales(self) -> Decimal:
        return self.gross_sales - self.total_refunds

    @property
    def all_closed(self) -> bool:
        return all(not shift.is_open for shift in self.shifts)


def z_report(shifts: list[Shift], language: str = "en") -> ZReport:
    """The Z report of `shifts` (one shift, or a till's day), all in one currency."""
    currencies = {shift.currency for shift in shifts}
    if len(currencies) > 1:
        raise ValueError("a Z report covers shifts of one currency")
    report = ZReport(currency=currencies.pop() if currencies else "", shifts=list(shifts))
    ids = [shift.pk for shift in shifts]
    paid_payment_states = (
        Payment.State.PAID,
        Payment.State.PARTIALLY_REFUNDED,
        Payment.State.REFUNDED,
    )
    cash_orders = set(
        TillMovement.objects.filter(
            order__counter_sale__shift__in=ids, kind=TillMovement.Kind.SALE
        ).values_list("order_id", flat=True)
    )
    sold: set[int] = set()
    for sale in CounterSale.objects.filter(shift__in=ids).select_related("order__payment"):
        order = sale.order
        if order.state in SOLD_STATES and order.paid_at is not None:
            if order.pk in cash_orders:
                report.sales["cash"].add(order.total)
                sold.add(order.pk)
            elif order.payment is not None and order.payment.state in paid_payment_states:
                # Alipay's figures: what the payment was, and the CNY it charged where it said.
                report.sales["alipay"].add(order.payment.amount)
                if order.payment.amount_cny is not None:
                    report.alipay_cny = (report.alipay_cny or Decimal(0)) + order.payment.amount_cny
                sold.add(order.pk)
        elif order.state in VOID_STATES:
            report.voids.add(order.total)
    for line in OrderLine.objects.filter(order_id__in=sold).select_related("ticket_type"):
        name = line.ticket_type.display_name(language)
        report.by_ticket_type[name].add(line.line_total, line.quantity)
    for refund in CounterRefund.objects.filter(shift__in=ids):
        report.refunds[refund.method].add(refund.amount)
    for movement in TillMovement.objects.filter(shift__in=ids):
        if movement.kind == TillMovement.Kind.FLOAT:
            report.opening_float += movement.amount
        elif movement.kind == TillMovement.Kind.SALE:
            report.cash_sales += movement.amount
        else:
            report.cash_refunds -= movement.amount
    closed = [shift for shift in shifts if not shift.is_open]
    if closed and len(closed) == len(shifts):
        report.counted = sum((shift.counted_cash or Decimal(0) for shift in closed), Decimal(0))
        report.variance = sum((shift.variance or Decimal(0) for shift in closed), Decimal(0))
    return report


def day_shifts(till: Till, day: dt.date) -> list[Shift]:
    """The till's shifts opened on `day` (box office time), oldest first."""
    tz = box_office_time_zone()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = start + dt.timedelta(days=1)
    return list(
        Shift.objects.select_related("till", "cashier")
        .filter(till=till, opened_at__gte=start, opened_at__lt=end)
        .order_by("opened_at", "id")
    )
