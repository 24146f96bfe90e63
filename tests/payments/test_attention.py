"""Payments and refunds that need attention, decided by staff in the admin against the sandbox
over real HTTP: check with Alipay now, refund instead, mark failed. Each action asks Alipay first
and moves nothing the answer does not allow; each leaves the staff user and their note in the
payment's audit trail; each needs its own permission and a note typed on its confirmation page.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments import alipay_client, clock, lifecycle
from payments.models import GatewayExchange, Payment, PaymentEvent, Refund
from payments.sandbox.trades import buyer_confirms
from tests.staff import messages_of, offered_actions, role_member, signed_in, staff_with

from .helpers import REFUND_SYSTEM_ERROR, cancel_system_error, pay, sandbox_trade

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "/admin/payments/payment/"
REFUNDS = "/admin/payments/refund/"
QUERY = "alipay.acquire.overseas.query"
REFUND_QUERY = "alipay.acquire.refund.query"


@pytest.fixture
def stuck(sandbox_clock, settings):
    """A payment whose cancel failed past its bound while the buyer had not confirmed yet: at
    the sandbox its trade still waits for the PIN (it closes 3 minutes after the pay)."""
    settings.PAYMENTS = {**settings.PAYMENTS, "CANCEL_MAX_ATTEMPTS": 2, "REFUND_MAX_ATTEMPTS": 1}
    payment = pay(cancel_system_error(99), deadline_seconds=12)
    assert payment.state == Payment.State.NEEDS_ATTENTION
    return payment


@pytest.fixture
def finance(db):
    user = role_member("Finance")
    return user, signed_in(user)


def act(client, url: str, action: str, row, note: str = "Buyer phoned the desk"):
    """Choose the action (its confirmation page), then confirm it with a note."""
    chosen = {"action": action, "_selected_action": [row.pk]}
    page = client.post(url, chosen)
    assert page.status_code == 200
    return client.post(url, {**chosen, "confirmed": "yes", "note": note}, follow=True)


def staff_events(payment: Payment, user) -> list[PaymentEvent]:
    return list(payment.events.filter(actor=f"admin:{user.username}").order_by("at", "id"))


def queries_by(payment: Payment, user) -> list[GatewayExchange]:
    return list(
        GatewayExchange.objects.filter(
            payment=payment, service=QUERY, actor=f"admin:{user.username}"
        )
    )


def test_the_confirmation_page_says_what_will_happen_and_changes_nothing(stuck, finance):
    _user, client = finance
    before = GatewayExchange.objects.count()
    page = client.post(PAYMENTS, {"action": "mark_failed", "_selected_action": [stuck.pk]})
    body = page.content.decode()
    assert page.status_code == 200 and stuck.partner_trans_id in body
    assert "Only if it shows the trade closed or unknown" in body
    assert 'name="note"' in body and 'value="mark_failed"' in body
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.NEEDS_ATTENTION
    assert GatewayExchange.objects.count() == before  # Alipay is not even asked yet


def test_a_note_is_required_and_without_it_nothing_is_asked_or_changed(stuck, finance):
    _user, client = finance
    before = (GatewayExchange.objects.count(), PaymentEvent.objects.count())
    chosen = {"action": "check_with_alipay", "_selected_action": [stuck.pk], "confirmed": "yes"}
    answer = client.post(PAYMENTS, {**chosen, "note": "   "})
    assert answer.status_code == 400 and "This field is required." in answer.content.decode()
    assert (GatewayExchange.objects.count(), PaymentEvent.objects.count()) == before


def test_check_with_alipay_now_takes_a_payment_the_buyer_confirmed_as_paid(stuck, finance):
    user, client = finance
    assert buyer_confirms(sandbox_trade(stuck))
    done = act(client, PAYMENTS, "check_with_alipay", stuck, note="Buyer shows a receipt")
    assert any("Alipay says paid (TRADE_SUCCESS)" in m for m in messages_of(done))
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.PAID and stuck.paid_at is not None
    assert stuck.alipay_trans_id == sandbox_trade(stuck).alipay_trans_id
    [query] = queries_by(stuck, user)
    assert query.believed and "TRADE_SUCCESS" in query.raw_reply
    [event] = staff_events(stuck, user)
    assert (event.from_state, event.to_state) == ("needs_attention", "paid")
    assert "Buyer shows a receipt" in event.note and "TRADE_SUCCESS" in event.note


def test_check_with_alipay_now_records_an_answer_that_decides_nothing(stuck, finance):
    user, client = finance
    done = act(client, PAYMENTS, "check_with_alipay", stuck, note="Looking")
    assert any("may still pay (WAIT_BUYER_PAY)" in m for m in messages_of(done))
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.NEEDS_ATTENTION
    assert len(queries_by(stuck, user)) == 1
    [event] = staff_events(stuck, user)
    assert (event.from_state, event.to_state) == ("needs_attention", "needs_attention")
    assert event.note == "checked with Alipay: WAIT_BUYER_PAY; Looking"


def test_mark_failed_is_refused_while_alipay_shows_the_trade_paid(stuck, finance):
    user, client = finance
    assert buyer_confirms(sandbox_trade(stuck))
    done = act(client, PAYMENTS, "mark_failed", stuck, note="Buyer gave up")
    assert any("Alipay says this payment is paid" in m for m in messages_of(done))
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.NEEDS_ATTENTION
    [query] = queries_by(stuck, user)  # asked right then, not from a button alone
    assert query.believed
    [event] = staff_events(stuck, user)
    assert event.to_state == "needs_attention" and "refused" in event.note


def test_mark_failed_is_refused_while_the_buyer_may_still_pay(stuck, finance):
    _user, client = finance
    done = act(client, PAYMENTS, "mark_failed", stuck)
    assert any("may still pay" in m for m in messages_of(done))
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.NEEDS_ATTENTION


def test_mark_failed_once_alipay_has_closed_the_unpaid_trade(stuck, finance):
    user, client = finance
    clock.advance(4 * 60)  # an unpaid barcode trade closes 3 minutes after the pay
    done = act(client, PAYMENTS, "mark_failed", stuck, note="Closed at Alipay")
    assert any("Alipay says TRADE_CLOSED" in m for m in messages_of(done))
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.FAILED and stuck.failure_code == "TRADE_CLOSED"
    assert stuck.attention_reason == ""
    [event] = staff_events(stuck, user)
    assert (event.from_state, event.to_state) == ("needs_attention", "failed")
    assert "Closed at Alipay" in event.note


def test_mark_failed_when_alipay_never_had_the_trade(sandbox_clock, finance):
    user, client = finance
    now = clock.now()
    lost = Payment.objects.create(
        partner_trans_id=lifecycle.new_partner_trans_id(),
        amount=Decimal("25.00"),
        currency="USD",
        description="A pay that never reached Alipay",
        channel=Payment.Channel.BARCODE,
        state=Payment.State.NEEDS_ATTENTION,
        created_at=now,
        updated_at=now,
    )
    act(client, PAYMENTS, "mark_failed", lost, note="Never reached Alipay")
    lost.refresh_from_db()
    assert lost.state == Payment.State.FAILED and lost.failure_code == "TRADE_NOT_EXIST"
    [query] = queries_by(lost, user)
    assert query.code == "TRADE_NOT_EXIST" and query.believed


def test_refund_instead_gives_back_a_payment_alipay_shows_paid(stuck, finance):
    user, client = finance
    assert buyer_confirms(sandbox_trade(stuck))
    done = act(client, PAYMENTS, "refund_instead", stuck, note="Buyer wants the money back")
    assert any("Succeeded" in m for m in messages_of(done))
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.REFUNDED
    [refund] = stuck.refunds.all()
    assert refund.amount == stuck.amount and refund.state == Refund.State.SUCCEEDED
    assert refund.actor == f"admin:{user.username}"
    assert sandbox_trade(stuck).refunded_amount == stuck.amount
    moves = [(e.from_state, e.to_state) for e in staff_events(stuck, user)]
    assert ("needs_attention", "paid") in moves and ("paid", "refunded") in moves
    assert "Buyer wants the money back" in staff_events(stuck, user)[0].note


def test_refund_instead_is_refused_when_alipay_has_no_money(stuck, finance):
    user, client = finance
    clock.advance(4 * 60)
    done = act(client, PAYMENTS, "refund_instead", stuck)
    assert any("there is nothing to refund" in m for m in messages_of(done))
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.NEEDS_ATTENTION and not stuck.refunds.exists()
    [event] = staff_events(stuck, user)
    assert "refund instead refused, Alipay: TRADE_CLOSED" in event.note


def test_an_action_on_a_payment_not_needing_attention_is_not_possible(stuck, finance):
    _user, client = finance
    paid = pay("280000000000000001")
    before = GatewayExchange.objects.count()
    chosen = {"action": "mark_failed", "_selected_action": [paid.pk]}
    page = client.post(PAYMENTS, chosen).content.decode()
    assert "Not possible: it does not need attention (Paid)" in page
    client.post(PAYMENTS, {**chosen, "confirmed": "yes", "note": "x"}, follow=True)
    paid.refresh_from_db()
    assert paid.state == Payment.State.PAID and GatewayExchange.objects.count() == before


# --- refunds ----------------------------------------------------------------------------------


@pytest.fixture
def stuck_refund(sandbox_clock, settings):
    """A refund whose only attempt Alipay answered SYSTEM_ERROR without executing it."""
    settings.PAYMENTS = {**settings.PAYMENTS, "REFUND_MAX_ATTEMPTS": 1}
    payment = pay(REFUND_SYSTEM_ERROR)
    refund = lifecycle.request_refund(payment, amount=Decimal("5.00"), reason="", actor="t")
    assert refund.state == Refund.State.NEEDS_ATTENTION
    return refund


def test_check_a_refund_alipay_executed_meanwhile_records_it_succeeded(stuck_refund, finance):
    user, client = finance
    # The refund reaches Alipay after all (a request that was only delayed): Alipay refunds
    # once per refund id, so this is the same refund, not a second one.
    assert alipay_client.refund(stuck_refund).ok
    done = act(client, REFUNDS, "check_with_alipay", stuck_refund, note="Bank shows it")
    assert any("recorded as succeeded" in m for m in messages_of(done))
    stuck_refund.refresh_from_db()
    assert stuck_refund.state == Refund.State.SUCCEEDED
    assert stuck_refund.payment.state == Payment.State.PARTIALLY_REFUNDED
    query = GatewayExchange.objects.get(
        refund=stuck_refund, service=REFUND_QUERY, actor=f"admin:{user.username}"
    )
    assert query.believed and "SUCCESS" in query.raw_reply
    event = stuck_refund.events.get(to_state="refund:succeeded")
    assert event.actor == f"admin:{user.username}" and "Bank shows it" in event.note


def test_mark_a_refund_failed_only_when_alipay_never_executed_it(stuck_refund, finance):
    user, client = finance
    done = act(client, REFUNDS, "mark_failed", stuck_refund, note="Not at Alipay")
    assert any("never executed this refund (REFUND_NOT_EXIST)" in m for m in messages_of(done))
    stuck_refund.refresh_from_db()
    assert stuck_refund.state == Refund.State.FAILED
    assert stuck_refund.failure_code == "REFUND_NOT_EXIST"
    payment = stuck_refund.payment
    assert payment.state == Payment.State.PAID and payment.refundable_amount == payment.amount
    event = stuck_refund.events.get(to_state="refund:failed")
    assert event.actor == f"admin:{user.username}" and "Not at Alipay" in event.note


def test_mark_a_refund_failed_is_refused_once_alipay_executed_it(stuck_refund, finance):
    _user, client = finance
    assert alipay_client.refund(stuck_refund).ok
    done = act(client, REFUNDS, "mark_failed", stuck_refund)
    assert any("Alipay executed this refund" in m for m in messages_of(done))
    stuck_refund.refresh_from_db()
    assert stuck_refund.state == Refund.State.NEEDS_ATTENTION
    assert stuck_refund.events.filter(to_state="refund:needs_attention", note__contains="refused")


def test_checking_a_refund_alipay_never_received_changes_nothing(stuck_refund, finance):
    _user, client = finance
    done = act(client, REFUNDS, "check_with_alipay", stuck_refund)
    assert any("no such refund (REFUND_NOT_EXIST)" in m for m in messages_of(done))
    stuck_refund.refresh_from_db()
    assert stuck_refund.state == Refund.State.NEEDS_ATTENTION


# --- who may do what --------------------------------------------------------------------------


def everything() -> tuple:
    return (
        sorted(Payment.objects.values_list("pk", "state")),
        sorted(Refund.objects.values_list("pk", "state")),
        PaymentEvent.objects.count(),
        GatewayExchange.objects.count(),
    )


def test_view_only_staff_are_refused_every_action_even_confirmed(stuck, settings):
    refund = lifecycle.request_refund(
        pay(REFUND_SYSTEM_ERROR), amount=Decimal("5.00"), reason="", actor="t"
    )
    assert refund.state == Refund.State.NEEDS_ATTENTION
    viewer = signed_in(staff_with("payments.view_payment", "payments.view_refund"))
    before = everything()
    for url, row, actions in (
        (PAYMENTS, stuck, ("check_with_alipay", "refund_instead", "mark_failed")),
        (REFUNDS, refund, ("check_with_alipay", "mark_failed")),
    ):
        for action in actions:
            answer = viewer.post(
                url,
                {
                    "action": action,
                    "_selected_action": [row.pk],
                    "confirmed": "yes",
                    "note": "forged",
                },
                follow=True,
            )
            assert answer.status_code == 200
            assert not any("Alipay" in m for m in messages_of(answer))
    assert everything() == before


@pytest.mark.parametrize(
    ("perm", "url", "action"),
    [
        ("payments.check_payment_with_alipay", PAYMENTS, "check_with_alipay"),
        ("payments.refund_payment_instead", PAYMENTS, "refund_instead"),
        ("payments.mark_payment_failed", PAYMENTS, "mark_failed"),
        ("payments.check_refund_with_alipay", REFUNDS, "check_with_alipay"),
        ("payments.mark_refund_failed", REFUNDS, "mark_failed"),
    ],
)
def test_each_action_needs_its_own_permission(db, perm, url, action):
    view = "payments.view_payment" if url == PAYMENTS else "payments.view_refund"
    holder = signed_in(staff_with(view, perm))
    assert offered_actions(holder, url) == {action}


def test_holding_one_action_does_not_allow_another_even_forged(stuck):
    checker = signed_in(staff_with("payments.view_payment", "payments.check_payment_with_alipay"))
    assert buyer_confirms(sandbox_trade(stuck))
    before = everything()
    for action in ("refund_instead", "mark_failed", "retry_attention"):
        checker.post(
            PAYMENTS,
            {"action": action, "_selected_action": [stuck.pk], "confirmed": "yes", "note": "x"},
            follow=True,
        )
    assert everything() == before
