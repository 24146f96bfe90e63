"""Domain errors of ticketing: a stable machine `code`, a plain message and an HTTP status.

Services raise these; the edges translate them: the API answers `{"code", "message", "fields"}` with
`http_status`, the shop shows the message next to the form, the admin shows it as a message.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from payments.exceptions import DomainError

from .templatetags.shop import money


class TicketingError(DomainError):
    """Base of every error the ticketing services raise to their callers."""

    code: str = "ticketing_error"
    default_message = _("The booking request could not be processed.")


class SoldOut(TicketingError):
    """Not enough places left in the slot for the admissions asked for."""

    code = "sold_out"
    http_status = 409
    default_message = _("Sorry, there are not enough places left in this time slot.")


class SlotUnavailable(TicketingError):
    """The slot is closed, in the past, or belongs to another attraction."""

    code = "slot_unavailable"
    http_status = 409
    default_message = _("This time slot cannot be booked.")


class InvalidQuantity(TicketingError):
    code = "invalid_quantity"
    default_message = _("Please choose a valid number of tickets.")


class InvalidBuyer(TicketingError):
    code = "invalid_buyer"
    default_message = _("Please check your name, e-mail address and language.")


class InvalidBooking(TicketingError):
    """Both the buyer's details and the tickets chosen are wrong: `fields` names every problem,
    so a form can show them all at once instead of one after another."""

    code = "invalid_booking"
    default_message = _("Please check your details and the tickets you chose.")


class HoldExpired(TicketingError):
    """The order's hold on its places has ended; the buyer must book again."""

    code = "hold_expired"
    http_status = 409
    default_message = _("Your reservation has expired; please choose your tickets again.")


class TooManyHolds(TicketingError):
    """One browser or one client address already holds as many unpaid orders as allowed."""

    code = "too_many_holds"
    http_status = 429
    default_message = _(
        "You already have several reservations waiting for payment. Please pay for them or let "
        "them expire before booking more."
    )


class PaymentInProgress(TicketingError):
    code = "payment_in_progress"
    http_status = 409
    default_message = _("A payment for this order is already in progress.")


class OrderStateConflict(TicketingError):
    """The order is not in a state that allows this action (already paid, cancelled, ...)."""

    code = "order_state_conflict"
    http_status = 409
    default_message = _("This order cannot be changed in its current state.")


class CapacityConflict(TicketingError):
    code = "capacity_conflict"
    http_status = 409
    default_message = _("The capacity cannot be set below the places already held or sold.")


class PaymentUnavailable(TicketingError):
    """The payment could not be started (gateway down or misconfigured); the hold is kept."""

    code = "payment_unavailable"
    http_status = 503
    default_message = _("Payments are unavailable right now; please try again in a moment.")


# --- The box office counter (ticketing.counter) ----------------------------------------------


class NoOpenShift(TicketingError):
    """The cashier has no open shift: nothing is sold or refunded outside a shift."""

    code = "no_open_shift"
    http_status = 409
    default_message = _("Open a shift first: sales and refunds belong to a shift.")


class ShiftConflict(TicketingError):
    """The till or the cashier already has an open shift, or the shift has ended."""

    code = "shift_conflict"
    http_status = 409
    default_message = _("This till or cashier already has an open shift.")


class OtherShift(TicketingError):
    """The sale belongs to another till's shift: two tills' money never mixes."""

    code = "other_shift"
    http_status = 409
    default_message = _("This sale belongs to another till's shift; finish it there.")


class InvalidCash(TicketingError):
    """An amount of cash that is not one: negative, too many decimals, too little tendered."""

    code = "invalid_cash"
    default_message = _("Please enter a valid amount of cash.")


class ApprovalNeeded(TicketingError):
    """A variance over the threshold needs a supervisor's approval and a note."""

    code = "approval_needed"
    http_status = 403
    default_message = _(
        "The counted cash differs from the expected amount by more than allowed: a supervisor "
        "must approve and explain it in a note."
    )


class SelfApproval(TicketingError):
    """A supervisor never approves their own shift or sale."""

    code = "self_approval"
    http_status = 403
    default_message = _("A supervisor cannot approve their own shift or sale.")


class NotCancellableNow(TicketingError):
    """The attraction's refund policy does not allow cancelling these tickets (any more)."""

    code = "not_cancellable"
    http_status = 409
    default_message = _("Under the attraction's refund policy these tickets cannot be cancelled.")


class NeverRefundable(TicketingError):
    code = "not_refundable"
    http_status = 409
    default_message = _("Some of the tickets you chose can never be refunded.")


class NotChangeableNow(TicketingError):
    code = "not_changeable"
    http_status = 409
    default_message = _("Under the attraction's refund policy the time slot cannot be changed.")


class InvalidTicketChoice(TicketingError):
    code = "invalid_tickets"
    default_message = _("Choose one or more valid tickets of this order.")


class PriceDifferenceDue(TicketingError):
    """The tickets cost more now than the buyer paid: the change needs the difference paid, and
    the buyer must confirm that amount first (`fields["pay_difference"]` says how much)."""

    code = "price_difference_due"
    http_status = 409
    default_message = _(
        "The tickets cost more now than you paid: confirm paying the difference to change the time."
    )

    def __init__(self, amount=None, currency: str = "", message=None):
        fields = {"pay_difference": f"{amount}"} if amount is not None else None
        if message is None and amount is not None:
            message = _(
                "The tickets cost %(amount)s more now than you paid: confirm paying the "
                "difference to change the time."
            ) % {"amount": money(amount, currency)}
        super().__init__(message, fields=fields)
        self.amount = amount
        self.currency = currency


class ChangePending(TicketingError):
    """A change of time awaits the payment of its difference: the order takes no other change
    until it is paid or given up."""

    code = "change_pending"
    http_status = 409
    default_message = _(
        "A change of time is waiting for the payment of its difference: pay it, or keep your "
        "current time, first."
    )


# --- Staff refunds in the admin (ticketing.orders.staff) ---------------------------------------


class InvalidRefundAmount(TicketingError):
    """Not an amount staff may refund: not a number, not above zero, a fraction the currency
    does not have, or more than is left to refund."""

    code = "invalid_amount"
    default_message = _("Enter an amount to refund, like 12.50.")


class InvalidRefundReason(TicketingError):
    code = "invalid_reason"
    default_message = _(
        "Give a reason of at most 128 characters, without double quotes (Alipay keeps it)."
    )
