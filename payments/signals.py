"""Payment outcomes, announced to whoever cares: ticketing connects; payments knows no tickets.

Each signal is sent once per transition, after the transaction that made it has committed, with
`sender=Payment`, `payment=<the Payment row>` and `actor` (who made the transition: a system actor
such as `system:poller`, or a staff user `admin:<username>`); `payment_refunded` also carries
`refund=<Refund>`. `payment_needs_attention` says the lifecycle gave up and a person must decide
(the payable's owner may hold what it sells for a bounded time meanwhile). Receivers must be
idempotent: a receiver that fails is logged, and the sweeper does not resend.

`money_returning` is the exception: it is sent synchronously INSIDE the transaction that records
money going back to the buyer (a paid payment entering `cancelling`, i.e. a reversal, or a refund
row created), with `payment`, `refund` (None for a reversal), `amount` and `in_full` (True when
this return, with the refunds before it, gives back everything paid). A receiver's error is not
swallowed: it rolls the money movement back, so the money never goes back while what it paid for
stays valid.

`money_recorded` is sent synchronously inside the transaction that records money taken (a
payment's `paid_at` written) or given back (a refund entering `succeeded`), with `payment_id`
and `refund_id` (None for a payment), for ledgers that must agree with these rows exactly (the
sales report's daily totals). It is also sent when a paid payment's reversal goes through (the
payment enters `cancelled` with its `paid_at` set: all its money back, no refund row), with
`reversed_at` (the moment, the payment's `reversed_at`) and `undone=False`; and, with
`undone=True` and the same `reversed_at`, in the rare case the payment leaves `cancelled` again
(Alipay shows the trade paid after all). Like `money_returning`, a receiver's error rolls the
recording back.
"""

from django.dispatch import Signal

payment_paid = Signal()
payment_failed = Signal()
payment_cancelled = Signal()
payment_refunded = Signal()
payment_needs_attention = Signal()
money_returning = Signal()
money_recorded = Signal()
