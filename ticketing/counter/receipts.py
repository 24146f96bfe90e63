"""The box office's slips: sale, refund and cancel receipts and Z reports, 80 mm wide.

Each is built once as rows (payments.receipts.Receipt) and shown two ways from those same rows:
the print view (templates/box_office/slip.html, an 80 mm print stylesheet) and the PDF
(payments.receipts' layout, with the e-tickets' fonts so that Chinese text is embedded).
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

from payments.receipts import (
    Receipt,
    Row,
    alipay_rows,
    format_money,
    format_time,
    render_receipt_pdf,
    rule,
)

from ..etickets import fonts
from ..models import Order, Shift, TillMovement
from .reports import ZReport, box_office_time_zone


def _runs(text: str, bold: bool):
    return tuple((part, font.name, font.fake_bold) for part, font in fonts.runs(text, bold=bold))


def pdf(receipt: Receipt) -> bytes:
    from ..etickets.pdf import _SAVE_LOCK  # the embedded font is shared with the tickets' PDFs

    return render_receipt_pdf(receipt, runs=_runs, save_lock=_SAVE_LOCK)


def walk_in() -> str:
    return _("Walk-in")


def _order_rows(order: Order, language: str) -> list[Row]:
    attraction = order.attraction
    tz = attraction.tz
    starts = order.slot.starts_at.astimezone(tz)
    ends = order.slot.ends_at.astimezone(tz)
    rows = [
        Row(attraction.display_name(language), center=True, bold=True),
        Row(attraction.address, center=True, size=7.5) if attraction.address else None,
        rule(),
        Row(_("Order"), order.code, bold=True),
        Row(_("Visit"), f"{starts:%Y-%m-%d} {starts:%H:%M}–{ends:%H:%M}"),
        Row("", f"({attraction.timezone})", size=7.5),
        Row(_("Name"), order.buyer_name or walk_in()),
        rule(),
    ]
    for line in order.lines.all():
        name = line.ticket_type.display_name(language)
        rows.append(Row(f"{line.quantity} × {name}", format_money(line.line_total, order.currency)))
    rows.append(Row(_("Total"), format_money(order.total, order.currency), bold=True, size=10))
    return [row for row in rows if row is not None]


def _cashier_rows(shift: Shift | None) -> list[Row]:
    if shift is None:
        return []
    return [Row(_("Till"), shift.till.name), Row(_("Cashier"), shift.cashier.get_username())]


def sale_receipt(order: Order, *, shift: Shift | None, cash: TillMovement | None, language: str):
    """A paid sale: its lines and total, and how it was paid (cash handed over and change, or
    Alipay's transaction id and amounts)."""
    with translation.override(language):
        rows = _order_rows(order, language)
        rows.append(rule())
        if cash is not None:
            rows.append(Row(_("Paid in cash"), format_money(cash.tendered, order.currency)))
            rows.append(Row(_("Change"), format_money(cash.change, order.currency), bold=True))
        elif order.payment is not None:
            rows.extend(alipay_rows(order.payment))
        rows.append(Row(_("Paid at"), format_time(order.paid_at, box_office_time_zone())))
        rows.extend(_cashier_rows(shift))
        rows.append(rule())
        rows.append(Row(_("Thank you for your visit."), center=True))
        return Receipt(title=_("Receipt"), rows=tuple(rows))


def refund_receipt(order: Order, counter_refund, *, language: str) -> Receipt:
    with translation.override(language):
        rows = _order_rows(order, language)
        rows.append(rule())
        method = (
            _("Refunded in cash") if counter_refund.method == "cash" else _("Refunded to Alipay")
        )
        rows.append(
            Row(method, "-" + format_money(counter_refund.amount, order.currency), bold=True)
        )
        payment = order.payment if counter_refund.method != "cash" else None
        if payment is not None and payment.alipay_trans_id:
            rows.append(Row(_("Alipay transaction")))
            rows.append(Row(payment.alipay_trans_id, size=8))
        rows.append(Row(_("Refunded at"), format_time(counter_refund.at, box_office_time_zone())))
        rows.append(Row(_("Approved by"), counter_refund.supervisor))
        if counter_refund.reason:
            rows.append(Row(_("Reason"), counter_refund.reason))
        rows.extend(_cashier_rows(counter_refund.shift))
        rows.append(rule())
        rows.append(Row(_("The tickets of this order are no longer valid."), center=True))
        return Receipt(title=_("Refund receipt"), rows=tuple(rows))


def cancel_receipt(order: Order, *, shift: Shift | None, language: str) -> Receipt:
    with translation.override(language):
        rows = _order_rows(order, language)
        rows.append(rule())
        rows.append(Row(_("Cancelled before payment: nothing was charged."), bold=True))
        rows.append(Row(_("Cancelled at"), format_time(order.updated_at, box_office_time_zone())))
        rows.extend(_cashier_rows(shift))
        return Receipt(title=_("Sale cancelled"), rows=tuple(rows))


def _method_name(method: str) -> str:
    return _("Cash") if method == "cash" else _("Alipay")


def z_receipt(report: ZReport, *, title: str, language: str) -> Receipt:
    """The Z report on paper: sales by method and ticket type, refunds, voids, the drawer."""
    tz = box_office_time_zone()
    currency = report.currency
    with translation.override(language):
        rows: list[Row] = []
        for shift in report.shifts:
            rows.append(Row(f"{shift.till.name} · {shift.cashier.get_username()}", bold=True))
            rows.append(Row(_("Opened"), format_time(shift.opened_at, tz)))
            closed = format_time(shift.closed_at, tz) if shift.closed_at else _("still open")
            rows.append(Row(_("Closed"), closed))
        rows.append(rule())
        rows.append(Row(_("Sales by method"), bold=True))
        for method in ("cash", "alipay"):
            total = report.sales.get(method)
            if total:
                rows.append(
                    Row(
                        f"{_method_name(method)} ({total.count})",
                        format_money(total.amount, currency),
                    )
                )
        if report.alipay_cny is not None and currency != "CNY":
            rows.append(Row(_("Alipay charged in CNY"), format_money(report.alipay_cny, "CNY")))
        rows.append(Row(_("Gross sales"), format_money(report.gross_sales, currency), bold=True))
        rows.append(rule())
        rows.append(Row(_("Sales by ticket type"), bold=True))
        for name, total in sorted(report.by_ticket_type.items()):
            rows.append(Row(f"{total.count} × {name}", format_money(total.amount, currency)))
        rows.append(rule())
        rows.append(Row(_("Refunds"), bold=True))
        for method in ("cash", "alipay"):
            total = report.refunds.get(method)
            if total:
                rows.append(
                    Row(
                        f"{_method_name(method)} ({total.count})",
                        "-" + format_money(total.amount, currency),
                    )
                )
        rows.append(Row(_("Total refunds"), "-" + format_money(report.total_refunds, currency)))
        rows.append(Row(_("Net sales"), format_money(report.net_sales, currency), bold=True))
        rows.append(rule())
        rows.append(
            Row(
                _("Voids (%(count)s)") % {"count": report.voids.count},
                format_money(report.voids.amount, currency),
            )
        )
        rows.append(rule())
        rows.append(Row(_("Cash drawer"), bold=True))
        rows.append(Row(_("Opening float"), format_money(report.opening_float, currency)))
        rows.append(Row(_("Cash sales"), format_money(report.cash_sales, currency)))
        rows.append(Row(_("Cash refunds"), "-" + format_money(report.cash_refunds, currency)))
        rows.append(
            Row(_("Expected cash"), format_money(report.expected_cash, currency), bold=True)
        )
        if report.counted is not None:
            rows.append(Row(_("Counted cash"), format_money(report.counted, currency)))
            rows.append(
                Row(_("Variance"), format_money(report.variance, currency), bold=True, size=10)
            )
            for shift in report.shifts:
                if shift.approved_by:
                    rows.append(Row(_("Approved by"), shift.approved_by))
                if shift.note:
                    rows.append(Row(shift.note, size=7.5))
        else:
            rows.append(Row(_("Not counted yet: the shift is open."), size=7.5))
        return Receipt(title=title, rows=tuple(rows))
