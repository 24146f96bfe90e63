"""What staff can do about a difference; the admin calls these after checking the permission.

Every action writes a DifferenceEvent with the staff user, whatever its outcome. Gateway calls
(the query, the refund) go through payments.lifecycle and payments.refunds, outside any
transaction; only the difference's own change (open -> resolved) is a compare-and-set here.
Permissions, by action: check_difference_with_alipay, refund_difference,
issue_difference_tickets, resolve_difference (the admin checks them before calling).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock, lifecycle
from payments.exceptions import PaymentError
from payments.models import Payment, Refund
from payments.refunds import request_refund

from .exceptions import ActionNotPossible
from .models import Difference, DifferenceEvent

logger = logging.getLogger(__name__)

Action = DifferenceEvent.Action
PERMISSIONS = {
    "check": "reconciliation.check_difference_with_alipay",
    "refund": "reconciliation.refund_difference",
    "issue_tickets": "reconciliation.issue_difference_tickets",
    "resolve": "reconciliation.resolve_difference",
}


def _actor(user) -> str:
    return f"staff:{user.get_username()}"


def _log(diff: Difference, action: str, user, note: str = "", answer: dict | None = None):
    return DifferenceEvent.objects.create(
        difference=diff,
        action=action,
        actor=_actor(user),
        user=user,
        note=note,
        answer=answer or {},
        at=clock.now(),
    )


def _close(diff: Difference, user, resolution: str, note: str, action: str) -> bool:
    """open -> resolved, once, with its event; False when it was no longer open."""
    now = clock.now()
    with transaction.atomic():
        changed = Difference.objects.filter(pk=diff.pk, is_open=True).update(
            is_open=False,
            resolution=resolution,
            resolved_by=user,
            resolved_at=now,
            note=note if note else diff.note,
        )
        if changed:
            _log(diff, action, user, note)
    diff.refresh_from_db()
    return bool(changed)


def _trade_id(diff: Difference) -> str:
    """The partner_trans_id a query must ask about: a refund line's is its payment's."""
    if diff.line_type != "REFUND":
        return diff.partner_transaction_id
    if diff.payment_id:
        return Payment.objects.values_list("partner_trans_id", flat=True).get(pk=diff.payment_id)
    raise ActionNotPossible(_("This refund is unknown to Entrada: there is no trade to ask about."))


def check_with_alipay(diff: Difference, user) -> lifecycle.TradeCheck:
    """Ask Alipay about the trade now; the answer is recorded on the difference."""
    check = lifecycle.check_trade(_trade_id(diff), actor=_actor(user))
    summary = check.status or check.code
    if check.amount:
        summary = f"{summary} {check.amount} {check.currency}".strip()
    _log(diff, Action.CHECKED, user, note=summary, answer=check.as_dict())
    return check


def resolve(diff: Difference, user, note: str) -> bool:
    note = (note or "").strip()
    if not note:
        raise ActionNotPossible(_("Write a note saying why this difference is resolved."))
    return _close(diff, user, Difference.Resolution.NOTE, note, Action.RESOLVED)


def _missing_here(diff: Difference) -> None:
    if diff.kind != Difference.Kind.MISSING_HERE or diff.line_type == "REFUND":
        raise ActionNotPossible(
            _("Only money Alipay took that Entrada does not count as paid can be acted on here.")
        )
    if not diff.is_open:
        raise ActionNotPossible(_("This difference is already resolved."))


def refund_buyer(diff: Difference, user, reason: str = "") -> Refund:
    """missing_here: give the buyer their money back through the refund lifecycle.

    A payment Entrada had ended is first confirmed paid by a query (quietly: nobody delivers
    tickets for it); a trade Entrada never knew is recorded from the query the same way.
    """
    _missing_here(diff)
    actor = _actor(user)
    try:
        if diff.payment_id:
            payment = Payment.objects.get(pk=diff.payment_id)
            if payment.state not in Payment.REFUNDABLE_STATES:
                payment = lifecycle.recover_paid(payment, actor=actor, announce=False)
        else:
            payment = lifecycle.adopt_paid_trade(
                diff.partner_transaction_id,
                amount=diff.amount_alipay,
                currency=diff.currency,
                description=_("Unknown trade found by reconciliation"),
                actor=actor,
            )
            Difference.objects.filter(pk=diff.pk).update(payment=payment)
        refund = request_refund(
            payment,
            amount=payment.refundable_amount,
            reason=(reason or "reconciliation: paid but not delivered")[:128],
            actor=actor,
        )
    except PaymentError as exc:
        _log(diff, Action.FAILED, user, note=f"refund: {exc.message}")
        raise
    _log(diff, Action.REFUNDED, user, note=f"{refund.partner_refund_id} {refund.state}")
    if refund.state == Refund.State.SUCCEEDED:
        _close(diff, user, Difference.Resolution.REFUNDED, diff.note, Action.RESOLVED)
    diff.refresh_from_db()
    return refund


def issue_tickets(diff: Difference, user) -> Payment:
    """missing_here for a payment of an order: confirmed paid by a query, the payment becomes
    paid and payment_paid goes out; the order's owner (ticketing) issues the tickets, or refunds
    the buyer if the places are gone or the order was paid otherwise meanwhile."""
    _missing_here(diff)
    if not diff.payment_id:
        raise ActionNotPossible(_("Entrada has no payment for this trade: refund the buyer."))
    payment = Payment.objects.get(pk=diff.payment_id)
    if not payment.reference:
        raise ActionNotPossible(_("This payment is not for an order: refund the buyer."))
    try:
        payment = lifecycle.recover_paid(payment, actor=_actor(user), announce=True)
    except PaymentError as exc:
        _log(diff, Action.FAILED, user, note=f"issue tickets: {exc.message}")
        raise
    _log(diff, Action.TICKETS, user, note=f"payment {payment.partner_trans_id} {payment.state}")
    _close(diff, user, Difference.Resolution.TICKETS, diff.note, Action.RESOLVED)
    return payment


def add_note(diff: Difference, user, note: str) -> None:
    """Staff's note on a difference, open or not; kept when a corrected file is re-imported."""
    note = (note or "").strip()
    with transaction.atomic():
        Difference.objects.filter(pk=diff.pk).update(note=note)
        _log(diff, Action.NOTED, user, note)
    diff.refresh_from_db()
