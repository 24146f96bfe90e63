"""Order services: book (hold), pay, learn of the payment's outcome, cancel, refund.

The shop, the public API, the box office, the admin and the tasks call these; they never write
an order's state themselves. Every transition goes through states.move_order: a compare-and-set
on the old state inside one transaction, with its audit record (OrderEvent) and the
`order_changed` signal on commit; the capacity change (ticketing.inventory) shares that
transaction, and follow-up work (e-mails, refunds) is queued on commit. No gateway call happens
inside a transaction.

    states            move_order, the audit record
    booking           create_order, buyer and quantity checks, find_order
    holds             ending overdue holds
    paying            start_payment (QR), start_counter_payment (barcode), free orders
    payment_outcomes  a payment ended, paid, its money going back, or refunded
    review            a payment needing attention: the order's places held for a bounded time
    refunding         refunds ticketing decides, recorded with the decision; telling the buyer
    tickets           issuing, revoking and e-mailing an order's e-tickets
    cancelling        cancel_order and the box office's cancel and refund rules
    status            OrderStatus, what a buyer or cashier sees while waiting
    self_service      the buyer gives back a hold or cancels tickets under the refund policy
    policy            the attraction's refund policy applied and worded
    rebooking         the buyer changes the time slot (at once, or paying a difference)
    moving            the tickets moved to another slot in one transaction
    slot_changes      a dearer change: its places held, its difference paid, or given back
    money             an order's money across its payments: locks, refunds oldest first
    buyer_notices     the e-mail confirming each change the buyer made
    staff             what staff do from the admin: cancel, refund an amount, refund tickets
    staff_notices     the one e-mail a buyer gets for each of staff's actions
    slot_cancelling   cancel a whole time slot in a background task, with its progress
"""

from .booking import (
    bookable_slots,
    check_quantities,
    create_order,
    find_order,
    hold_minutes,
    max_admissions,
)
from .cancelling import (
    can_refund_at_counter,
    cancel_counter_sale,
    cancel_order,
    cash_due,
    check_refundable_at_counter,
    refund_counter_sale,
)
from .holds import end_hold_if_overdue, expire_order, release_expired_holds
from .paying import PAYMENT_GRACE_SECONDS, start_counter_payment, start_payment
from .payment_outcomes import (
    link_to,
    money_returning,
    order_for_payment,
    payment_ended,
    payment_paid,
    payment_refunded,
    payment_returned,
)
from .review import end_review_if_overdue, payment_under_review, sweep_reviews
from .states import State, move_order, record_event
from .status import (
    OrderStatus,
    failed_attempt_message,
    order_status,
    payment_undecided,
    payment_waiting,
)
from .tickets import issue_tickets, queue_delivery, revoke_tickets

# The name the e-ticket tests call.
_issue_tickets = issue_tickets

__all__ = [
    "PAYMENT_GRACE_SECONDS",
    "OrderStatus",
    "State",
    "bookable_slots",
    "can_refund_at_counter",
    "cancel_counter_sale",
    "cancel_order",
    "cash_due",
    "check_quantities",
    "check_refundable_at_counter",
    "create_order",
    "end_hold_if_overdue",
    "end_review_if_overdue",
    "expire_order",
    "failed_attempt_message",
    "find_order",
    "hold_minutes",
    "issue_tickets",
    "link_to",
    "max_admissions",
    "money_returning",
    "move_order",
    "order_for_payment",
    "order_status",
    "payment_ended",
    "payment_paid",
    "payment_refunded",
    "payment_returned",
    "payment_undecided",
    "payment_under_review",
    "payment_waiting",
    "queue_delivery",
    "record_event",
    "refund_counter_sale",
    "release_expired_holds",
    "revoke_tickets",
    "start_counter_payment",
    "start_payment",
    "sweep_reviews",
]
