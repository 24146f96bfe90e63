"""Ticketing models, one module per concern; imported here so Django finds them."""

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
from .orders import Order, OrderEvent, OrderLine, Ticket
from .reports import SalesReport
from .slots import TimeSlot

__all__ = [
    "Attraction",
    "ClosedDay",
    "OpeningRule",
    "Order",
    "OrderEvent",
    "OrderLine",
    "SalesReport",
    "SpecialOpening",
    "Ticket",
    "TicketType",
    "TimeSlot",
    "Weekday",
    "currency_exponent",
    "localized",
]
