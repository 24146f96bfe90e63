"""Ticketing models, one module per concern; imported here so Django finds them."""

from .attention import NeedsAttention
from .catalogue import (
    Attraction,
    ClosedDay,
    OpeningRule,
    SpecialOpening,
    TicketType,
    Weekday,
    currency_exponent,
    localized,
)
from .counter import CounterRefund, CounterSale, Shift, ShiftEvent, Till, TillMovement
from .orders import Order, OrderEvent, OrderLine, OrderPayment, Ticket
from .policies import RefundPolicy
from .reports import NO_ATTRACTION, DailySales, DailyTicketTypeSales, SalesReport
from .slot_cancellations import SlotCancellation, SlotCancellationOrder
from .slot_changes import SlotChange
from .slots import TimeSlot

__all__ = [
    "NO_ATTRACTION",
    "Attraction",
    "ClosedDay",
    "CounterRefund",
    "CounterSale",
    "DailySales",
    "DailyTicketTypeSales",
    "NeedsAttention",
    "OpeningRule",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderPayment",
    "RefundPolicy",
    "SalesReport",
    "Shift",
    "ShiftEvent",
    "SlotCancellation",
    "SlotCancellationOrder",
    "SlotChange",
    "SpecialOpening",
    "Ticket",
    "TicketType",
    "Till",
    "TillMovement",
    "TimeSlot",
    "Weekday",
    "currency_exponent",
    "localized",
]
