"""How much one admin action may give back, and what each payment has left to give.

Support refunds up to SUPPORT_REFUND_LIMIT (per currency, in its units); staff holding
`payments.refund_without_limit` (the Finance role) have no limit. The limit counts everything one
action gives back in a currency, summed: a selection of payments or orders, or a whole time slot
cancelled, is one decision and is refused as a whole, so a large refund cannot be split into
small clicks on one page. It is checked on the server when the action runs; the confirmation page
only shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from payments.alipay import money
from payments.exceptions import RefundOverLimit
from payments.models import Payment, Refund

LIMIT_PERMISSION = "payments.refund_without_limit"


def support_limit(currency: str) -> Decimal:
    limits = settings.SUPPORT_REFUND_LIMIT
    return limits.get(currency, limits["*"])


def limit_for(user, currency: str) -> Decimal | None:
    """The most `user` may give back in `currency` in one action; None for no limit."""
    if user.has_perm(LIMIT_PERMISSION):
        return None
    return support_limit(currency)


def over_limit(user, sums: dict[str, Decimal]) -> dict[str, Decimal]:
    """The currencies whose sum is above `user`'s limit, each with that limit."""
    over = {}
    for currency, total in sums.items():
        limit = limit_for(user, currency)
        if limit is not None and total > limit:
            over[currency] = limit
    return over


def describe_over(over: dict[str, Decimal], sums: dict[str, Decimal]) -> str:
    """The refusal in words, one clause per currency over the limit ("" when none is)."""
    return " ".join(
        _(
            "This gives back %(sum)s, above your refund limit of %(limit)s: someone in Finance "
            "must do it."
        )
        % {"sum": format_money(sums[currency], currency), "limit": format_money(limit, currency)}
        for currency, limit in sorted(over.items())
    )


def check_limit(user, sums: dict[str, Decimal]) -> None:
    """Raise RefundOverLimit when `sums` (money going back per currency) is beyond `user`."""
    over = over_limit(user, sums)
    if over:
        raise RefundOverLimit(
            describe_over(over, sums),
            fields={currency: str(limit) for currency, limit in over.items()},
        )


def format_money(amount: Decimal, currency: str) -> str:
    """`CNY 1,200.00` / `JPY 3,000`: the currency's own minor units, as the shop prints them."""
    places = money.exponent(currency)
    return f"{currency} {amount.quantize(Decimal(1).scaleb(-places)):,.{places}f}"


def refundable_amounts(payment_ids: Iterable[int]) -> dict[int, Decimal]:
    """What each payment has left to refund (paid amount less refunds not failed), in one query:
    the same figure as Payment.refundable_amount, for a whole page of payments."""
    taken = Coalesce(
        Sum("refunds__amount", filter=~Q(refunds__state=Refund.State.FAILED)),
        Value(Decimal("0")),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )
    rows = (
        Payment.objects.filter(pk__in=list(payment_ids))
        .annotate(taken=taken)
        .values_list("pk", "amount", "taken")
    )
    return {pk: amount - taken for pk, amount, taken in rows}
