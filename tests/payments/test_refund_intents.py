"""Cancel versus refund, and refunds of unknown outcome (regression tests of a review).

Finding 4: a cancel and a refund must never both be sent for one payment. Finding 5: a refund
whose outcome is unknown (SYSTEM_ERROR, no reply in time) is confirmed with the refund query
(alipay.acquire.refund.query) before it is given up on, so a refund that happened at Alipay is
recorded as succeeded, never failed or left for staff.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from decimal import Decimal

import pytest
from django.db import connection

from payments import lifecycle
from payments.alipay.services import CANCEL, REFUND, REFUND_QUERY
from payments.exceptions import PaymentError
from payments.models import GatewayExchange, Payment, PaymentEvent, Refund
from payments.sandbox.trades import buyer_confirms

from .helpers import (
    REFUND_SYSTEM_ERROR,
    SLOW_REFUND,
    cancel_system_error,
    exchanges,
    pay,
    sandbox_trade,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def patient(sandbox_clock, settings):
    """The sandbox with a client that waits for slow replies on a loaded machine: only the
    refund a test means to time out is sent with the short timeout (see `impatient`)."""
    settings.ALIPAY = {**settings.ALIPAY, "READ_TIMEOUT": 15.0}
    settings.SANDBOX_SLOW_REPLY_SECONDS = 3
    return sandbox_clock


def impatient(settings) -> None:
    """From now on the client gives up before the sandbox's held reply (3 s) comes."""
    settings.ALIPAY = {**settings.ALIPAY, "READ_TIMEOUT": 1.5}


def never_failed(refund: Refund) -> bool:
    return not PaymentEvent.objects.filter(
        refund=refund, to_state=f"refund:{Refund.State.FAILED}"
    ).exists()


# --- Finding 4: cancel and refund exclude each other -------------------------------------------


def test_a_payment_being_cancelled_refuses_a_refund_and_sends_nothing(patient, no_worker):
    """Finding 4: while the reversal of a paid payment is being retried (cancelling), a refund
    is refused with a domain error and no refund reaches the gateway."""
    payment = pay(cancel_system_error(5))
    assert payment.state == Payment.State.PENDING
    assert buyer_confirms(sandbox_trade(payment))
    payment = lifecycle.refresh_from_gateway(payment, generation=None, actor="test")
    assert payment.state == Payment.State.PAID
    payment = lifecycle.request_cancel(payment, actor="staff")
    assert payment.state == Payment.State.CANCELLING
    with pytest.raises(PaymentError) as refused:
        lifecycle.request_refund(payment, amount=Decimal("5.00"), reason="", actor="staff")
    assert refused.value.code and refused.value.message
    assert not Refund.objects.filter(payment=payment).exists()
    assert exchanges(payment, REFUND) == []


def test_a_refund_landing_while_a_cancel_is_decided_stops_the_cancel(patient, settings, no_worker):
    """Finding 4 (the race): request_cancel looks for refunds without holding the payment's
    row, then moves it from paid to cancelling. Another request's refund committed in between
    (its reply still unknown, so the payment is still paid) must stop the cancel: no
    alipay.acquire.cancel is sent for a payment with a refund."""
    payment = pay(SLOW_REFUND, amount="30.00")
    assert payment.state == Payment.State.PAID
    impatient(settings)
    others: list[threading.Thread] = []
    refused: list[Exception] = []

    def other_request_refunds() -> None:
        """Another request (its own thread and database connection) refunds part."""
        try:
            lifecycle.request_refund(
                payment, amount=Decimal("10.00"), reason="meanwhile", actor="other"
            )
        except Exception as exc:  # a refusal (or a wait that gave up) is that request's answer
            refused.append(exc)
        finally:
            connection.close()

    def refund_meanwhile(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        # Right after the cancel's first look at the payment's refunds, another request's refund
        # starts. Outside a transaction (today's unlocked check) it commits before the cancel
        # goes on; inside one (a check under the row lock) it must wait for that transaction.
        if not others and "payments_refund" in sql and sql.lstrip().upper().startswith("SELECT"):
            other = threading.Thread(target=other_request_refunds)
            others.append(other)
            if not connection.in_atomic_block:
                # Read the check's answer (no refund yet) so the statement holds no lock; the
                # check then reads an exhausted cursor, which says the same.
                assert context["cursor"].fetchall() == []
                other.start()
                other.join()
            else:
                other.start()
        return result

    with connection.execute_wrapper(refund_meanwhile), suppress(PaymentError):
        # A refusal is a fine answer; sending both a refund and a cancel is not.
        lifecycle.request_cancel(payment, actor="staff")
    for other in others:
        other.join()
    assert others, "request_cancel never looked at the payment's refunds"
    payment.refresh_from_db()
    cancels, refunds = exchanges(payment, CANCEL), exchanges(payment, REFUND)
    assert not (cancels and refunds), (
        f"both sent: cancel {[c.code for c in cancels]}, refund {[r.transport for r in refunds]}"
        f" (the other request's refusal: {refused})"
    )
    assert payment.state != Payment.State.NEEDS_ATTENTION


def test_a_payment_with_a_refund_requested_never_gets_a_cancel(patient, no_worker):
    """Finding 4: a refund is requested (its first call answered SYSTEM_ERROR; the retry is
    due). request_cancel then refuses with a domain error, or refunds what is left: it never
    reverses the payment, which would send a cancel beside the refund."""
    payment = pay(REFUND_SYSTEM_ERROR, amount="25.00")
    refund = lifecycle.request_refund(payment, amount=Decimal("5.00"), reason="", actor="t")
    assert refund.state == Refund.State.REQUESTED
    try:
        lifecycle.request_cancel(payment, actor="staff")
    except PaymentError as exc:
        assert exc.code and exc.message
    payment.refresh_from_db()
    assert exchanges(payment, CANCEL) == []
    assert payment.state not in (Payment.State.CANCELLING, Payment.State.CANCELLED)


# --- Finding 5: an unknown refund outcome is confirmed by the refund query ---------------------


def test_a_timed_out_refund_that_succeeded_is_confirmed_by_query_not_left_unknown(
    sandbox_clock, settings
):
    """Finding 5: the refund is executed at the sandbox but its reply comes after the client's
    timeout, and no retry is left. A refund query must confirm it: succeeded, never failed."""
    settings.PAYMENTS = {**settings.PAYMENTS, "REFUND_MAX_ATTEMPTS": 1}
    payment = pay(SLOW_REFUND)
    impatient(settings)
    refund = lifecycle.request_refund(payment, amount=payment.amount, reason="", actor="t")
    assert sandbox_trade(payment).refunds.count() == 1  # it did happen at Alipay
    refund.refresh_from_db()
    assert exchanges(payment, REFUND_QUERY), "no refund query was sent"
    assert refund.state == Refund.State.SUCCEEDED, f"refund left {refund.state}"
    assert never_failed(refund)
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.REFUNDED


def test_a_refund_retried_after_a_timeout_is_first_checked_with_the_refund_query(patient, settings):
    """Finding 5: after a refund call timed out, the next exchange about that refund is the
    refund query, and the refund ends succeeded, executed once at the sandbox."""
    payment = pay(SLOW_REFUND)
    impatient(settings)
    refund = lifecycle.request_refund(payment, amount=payment.amount, reason="", actor="t")
    calls = list(
        GatewayExchange.objects.filter(payment=payment, service__in=[REFUND, REFUND_QUERY])
        .order_by("created_at", "id")
        .values_list("service", "transport")
    )
    assert calls[0] == (REFUND, "timeout")
    assert len(calls) > 1 and calls[1][0] == REFUND_QUERY, f"after the timeout: {calls[1:]}"
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED and never_failed(refund)
    assert sandbox_trade(payment).refunds.count() == 1


def test_a_refund_answered_system_error_is_queried_before_being_given_up(patient, settings):
    """Finding 5: the refund's only allowed call answers SYSTEM_ERROR (not executed at the
    sandbox). Before the refund is given up on, the refund query asks what happened, and the
    refund's state then agrees with the sandbox: succeeded only if the money went back."""
    settings.PAYMENTS = {**settings.PAYMENTS, "REFUND_MAX_ATTEMPTS": 1}
    payment = pay(REFUND_SYSTEM_ERROR)
    refund = lifecycle.request_refund(payment, amount=Decimal("5.00"), reason="", actor="t")
    refund.refresh_from_db()
    assert exchanges(payment, REFUND_QUERY), "the refund was given up on without a query"
    executed = sandbox_trade(payment).refunds.exists()
    assert (refund.state == Refund.State.SUCCEEDED) == executed
