"""The attraction's refund policy applied: deadlines, the cancellation fee, and its wording.

One place for the rules so the attraction page, the tickets e-mail, the order page and the API
say and do the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import Attraction, RefundPolicy, TicketType, currency_exponent
from ..templatetags.shop import money


def policy_for(attraction: Attraction) -> RefundPolicy:
    """The attraction's policy; without one, an unsaved policy that allows nothing."""
    try:
        return attraction.refund_policy
    except RefundPolicy.DoesNotExist:
        return RefundPolicy(attraction=attraction)


def cancel_deadline(policy: RefundPolicy, starts_at: dt.datetime) -> dt.datetime | None:
    """The last moment a buyer may cancel (inclusive), None when cancelling is never allowed."""
    if not policy.cancel_hours_before:
        return None
    return starts_at - dt.timedelta(hours=policy.cancel_hours_before)


def change_deadline(policy: RefundPolicy, starts_at: dt.datetime) -> dt.datetime | None:
    """The last moment a buyer may change the time slot (inclusive), None when never."""
    if not policy.change_allowed:
        return None
    return starts_at - dt.timedelta(hours=policy.change_hours_before)


def may_cancel(policy: RefundPolicy, starts_at: dt.datetime, now: dt.datetime) -> bool:
    deadline = cancel_deadline(policy, starts_at)
    return deadline is not None and now <= deadline


def may_change(policy: RefundPolicy, starts_at: dt.datetime, now: dt.datetime) -> bool:
    deadline = change_deadline(policy, starts_at)
    return deadline is not None and now <= deadline


@dataclass(frozen=True)
class RefundQuote:
    """What cancelling `amount` gives back: never negative, in the currency's minor units."""

    amount: Decimal
    fee: Decimal
    refund: Decimal


def quote(policy: RefundPolicy, amount: Decimal, currency: str) -> RefundQuote:
    """The fee on cancelling `amount` (the percentage, rounded half up, plus the fixed part).

    The fee is capped at the amount, so a fixed fee larger than a cheap ticket refunds nothing
    rather than asking the buyer for money.
    """
    quantum = Decimal(1).scaleb(-currency_exponent(currency))
    amount = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    percent = (amount * policy.fee_percent / 100).quantize(quantum, rounding=ROUND_HALF_UP)
    fixed = policy.fee_fixed.quantize(quantum, rounding=ROUND_HALF_UP) if amount > 0 else 0
    fee = min(amount, percent + fixed)
    return RefundQuote(amount=amount, fee=fee, refund=amount - fee)


def describe(
    policy: RefundPolicy, ticket_types: list[TicketType], language: str | None
) -> list[str]:
    """The policy in the buyer's language, one sentence a line."""
    currency = policy.attraction.currency
    with translation.override(language):
        lines = []
        hours = policy.cancel_hours_before
        if hours:
            lines.append(
                ngettext(
                    "Tickets can be cancelled up to %(hours)s hour before the time slot starts.",
                    "Tickets can be cancelled up to %(hours)s hours before the time slot starts.",
                    hours,
                )
                % {"hours": hours}
            )
            if policy.fee_percent and policy.fee_fixed:
                lines.append(
                    _("Cancellation fee: %(percent)s%% of the refunded amount plus %(fixed)s.")
                    % {
                        "percent": _percent(policy.fee_percent),
                        "fixed": money(policy.fee_fixed, currency),
                    }
                )
            elif policy.fee_percent:
                lines.append(
                    _("Cancellation fee: %(percent)s%% of the refunded amount.")
                    % {"percent": _percent(policy.fee_percent)}
                )
            elif policy.fee_fixed:
                lines.append(
                    _("Cancellation fee: %(fixed)s.") % {"fixed": money(policy.fee_fixed, currency)}
                )
            else:
                lines.append(_("Cancelling is free of charge."))
            kept = [t.display_name(language) for t in ticket_types if not t.refundable]
            if kept:
                lines.append(_("Never refundable: %(types)s.") % {"types": ", ".join(kept)})
        else:
            lines.append(_("Tickets cannot be cancelled or refunded."))
        if policy.change_allowed:
            change = policy.change_hours_before
            lines.append(
                _("You may change the time slot until it starts.")
                if not change
                else ngettext(
                    "You may change the time slot up to %(hours)s hour before it starts.",
                    "You may change the time slot up to %(hours)s hours before it starts.",
                    change,
                )
                % {"hours": change}
            )
        else:
            lines.append(_("The time slot cannot be changed."))
    return lines


def _percent(value: Decimal) -> str:
    # 10.00 reads as "10", 12.50 as "12.5".
    return f"{value.normalize():f}"
