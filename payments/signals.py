"""Payment outcomes, announced to whoever cares: ticketing connects; payments knows no tickets.

Each signal is sent once per transition, after the transaction that made it has committed, with
`sender=Payment` and `payment=<the Payment row>`; `payment_refunded` also carries `refund=<Refund>`.
Receivers must be idempotent: a receiver that fails is logged, and the sweeper does not resend.
"""

from django.dispatch import Signal

payment_paid = Signal()
payment_failed = Signal()
payment_cancelled = Signal()
payment_refunded = Signal()
