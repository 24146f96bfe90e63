"""Shifts: a cashier opens one on a till with a float, and closes it with a counted drawer.

Expected cash is the float plus cash sales minus cash refunds, read from the shift's ledger
(TillMovement); the variance is counted minus expected. A variance whose size is over
settings.BOX_OFFICE_VARIANCE_THRESHOLD needs a box office supervisor (not the shift's cashier)
and a note. Opening and closing are compare-and-set writes with their ShiftEvent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from payments import clock

from ..exceptions import ApprovalNeeded, NoOpenShift, SelfApproval, ShiftConflict
from ..models import Shift, ShiftEvent, Till, TillMovement
from .denominations import count_total, parse_amount


def variance_threshold() -> Decimal:
    return Decimal(str(getattr(settings, "BOX_OFFICE_VARIANCE_THRESHOLD", "5")))


def record(shift: Shift, kind: str, actor: str, **detail) -> None:
    ShiftEvent.objects.create(shift=shift, at=clock.now(), kind=kind, actor=actor[:200],
                              detail=detail)  # fmt: skip


def open_shift(*, till: Till, cashier, currency: str, opening_float, actor: str) -> Shift:
    """Open a shift on `till` for `cashier` with `opening_float` in the drawer.

    Raises ShiftConflict when the till or the cashier already has an open shift (the database's
    partial unique constraints decide, so two tablets opening at once cannot both win), InvalidCash
    for a float that is not an amount.
    """
    amount = parse_amount(opening_float, currency)
    if not till.active:
        raise ShiftConflict()
    now = clock.now()
    try:
        with transaction.atomic():
            shift = Shift.objects.create(
                till=till, cashier=cashier, currency=currency.upper(), opened_at=now,
                opening_float=amount,
            )  # fmt: skip
            TillMovement.objects.create(
                shift=shift, kind=TillMovement.Kind.FLOAT, amount=amount, at=now, actor=actor
            )
            record(shift, "opened", actor, opening_float=str(amount), till=till.name)
    except IntegrityError:
        raise ShiftConflict() from None
    return shift


def current_shift(user) -> Shift | None:
    """The user's open shift, with its till."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Shift.objects.select_related("till").filter(cashier=user, state=Shift.State.OPEN).first()


def require_shift(user) -> Shift:
    shift = current_shift(user)
    if shift is None:
        raise NoOpenShift()
    return shift


def expected_cash(shift: Shift) -> Decimal:
    """Float + cash sales - cash refunds: the sum of the shift's ledger."""
    total = TillMovement.objects.filter(shift=shift).aggregate(total=Sum("amount"))["total"]
    return total or Decimal(0)


@dataclass(frozen=True)
class Count:
    pieces: dict[str, int]
    counted: Decimal
    expected: Decimal
    variance: Decimal
    over_threshold: bool


def count_drawer(shift: Shift, counted: dict) -> Count:
    """What closing with this count would record, without closing (the close page shows it)."""
    pieces, total = count_total(counted, shift.currency)
    expected = expected_cash(shift)
    variance = total - expected
    return Count(pieces, total, expected, variance, abs(variance) > variance_threshold())


def close_shift(
    shift: Shift, *, counted: dict, actor: str, note: str = "", supervisor=None
) -> Shift:
    """Close the open `shift` with the drawer counted by denomination.

    `supervisor`: the user who approved (already authenticated and checked to be a supervisor
    by the caller), needed with a note when the variance is over the threshold. Raises
    ApprovalNeeded, SelfApproval, ShiftConflict (already closed), InvalidCash.
    """
    note = (note or "").strip()[:500]
    with transaction.atomic():
        count = count_drawer(shift, counted)
        approver = ""
        if supervisor is not None:
            if supervisor.pk == shift.cashier_id:
                raise SelfApproval()
            approver = supervisor.get_username()
        if count.over_threshold and (not approver or not note):
            raise ApprovalNeeded()
        closed = Shift.objects.filter(pk=shift.pk, state=Shift.State.OPEN).update(
            state=Shift.State.CLOSED,
            closed_at=clock.now(),
            counted=count.pieces,
            counted_cash=count.counted,
            expected_cash=count.expected,
            variance=count.variance,
            note=note,
            approved_by=approver if count.over_threshold else "",
        )
        if not closed:
            raise ShiftConflict(_("This shift is already closed."))
        record(
            shift,
            "closed",
            actor,
            counted=str(count.counted),
            expected=str(count.expected),
            variance=str(count.variance),
            approved_by=approver if count.over_threshold else "",
        )
    shift.refresh_from_db()
    return shift
