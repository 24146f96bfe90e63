"""The payment lifecycle (docs/architecture.md diagram, docs/alipay.md rules): the one owner of
payment state.

Views, the partner API, the admin, tasks and commands call the functions here (and
payments.refunds); none of them writes a state field. Rules kept throughout:
- gateway calls happen outside any transaction; their result is applied afterwards by a
  compare-and-set transition (payments.transitions) that also writes the audit row;
- a reply is believed only when its signature verified and its ids, amount and currency match
  what we sent; anything else leaves the outcome unknown, and unknown means: poll, then cancel;
- polling, cancel retries and refunds are resumed by the poller (payments.poller) from the
  `next_action_at` each row carries, so a crash or a lost task delays work but never loses it.

Re-sending a pay. The full buyer code is kept sealed (encrypted) only while a pay's outcome is
unknown. When a query answers TRADE_NOT_EXIST (Alipay never received the pay, e.g. a SYSTEM_ERROR
before processing), the pay is re-sent with identical parameters, at most PAY_RESEND_MAX times
and only before the deadline: Alipay deduplicates on partner_trans_id, so this cannot charge twice
(docs/alipay.md table), and it spares the buyer a second scan. In every other unknown case the
payment is only queried and, at the deadline, cancelled (SPOT-005 / SPOT-006 best practice). The
sealed
code is wiped as soon as the payment leaves `pending`.
"""

from __future__ import annotations

# The lifecycle is spread over modules in layers, each importing only those below it:
# conf, cleaning, leases, wakeup, waiters, transitions, verification, refunds, paying, recovering,
# cancelling, attention, poller, tasks. This façade keeps the one address that views, the API, the
# admin, tasks and ticketing use.
from payments.attention import (
    StaffOutcome,
    check_payment,
    check_refund,
    mark_payment_failed,
    mark_refund_failed,
    refund_instead,
)
from payments.cancelling import (
    begin_cancel,
    cancel_window_open,
    request_cancel,
    retry_needs_attention,
    send_cancel,
)
from payments.cleaning import clean_buyer_code
from payments.paying import (
    create_barcode_payment,
    create_qr_payment,
    new_partner_trans_id,
    refresh_from_gateway,
    wait_for_change,
)
from payments.recovering import (
    TradeCheck,
    adopt_paid_trade,
    apply_paid,
    check_trade,
    recover_paid,
)
from payments.refunds import record_refund, request_refund
from payments.verification import PAID_STATUSES

__all__ = [
    "PAID_STATUSES",
    "StaffOutcome",
    "TradeCheck",
    "adopt_paid_trade",
    "apply_paid",
    "begin_cancel",
    "cancel_window_open",
    "check_payment",
    "check_refund",
    "check_trade",
    "clean_buyer_code",
    "create_barcode_payment",
    "create_qr_payment",
    "mark_payment_failed",
    "mark_refund_failed",
    "new_partner_trans_id",
    "record_refund",
    "recover_paid",
    "refresh_from_gateway",
    "refund_instead",
    "request_cancel",
    "request_refund",
    "retry_needs_attention",
    "send_cancel",
    "wait_for_change",
]
