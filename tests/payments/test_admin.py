"""The payments admin: the needs-attention queue, exchanges beside payments, actions, and who
may run each action (view-only staff none; Support and Finance their own)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from payments import lifecycle
from payments.models import GatewayExchange, Payment, PaymentEvent, Refund
from tests.staff import (
    codenames,
    messages_of,
    offered_actions,
    role_member,
    run_confirmed,
    run_role_migration,
    signed_in,
    staff_with,
)

from .helpers import INSUFFICIENT, REFUND_SYSTEM_ERROR, SUCCESS, cancel_system_error, pay

pytestmark = pytest.mark.django_db(transaction=True)


def test_needs_attention_filter_and_retry_action(sandbox_clock, admin_client, settings):
    settings.PAYMENTS = {**settings.PAYMENTS, "CANCEL_MAX_ATTEMPTS": 2}
    stuck = pay(cancel_system_error(3), deadline_seconds=12)
    pay(SUCCESS)
    assert stuck.state == Payment.State.NEEDS_ATTENTION
    url = reverse("admin:payments_payment_changelist")
    page = admin_client.get(url, {"state__exact": "needs_attention"})
    assert page.status_code == 200
    assert stuck.partner_trans_id in page.content.decode()
    assert page.context["cl"].result_count == 1

    detail = admin_client.get(reverse("admin:payments_payment_change", args=[stuck.pk]))
    body = detail.content.decode()
    assert detail.status_code == 200
    assert "alipay.acquire.cancel" in body and "SYSTEM_ERROR" in body
    assert "2800**********0903" in body and "280000000000000903" not in body

    answer = admin_client.post(
        url, {"action": "retry_attention", "_selected_action": [stuck.pk]}, follow=True
    )
    assert answer.status_code == 200
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.CANCELLED  # the sandbox's 3rd cancel succeeds


def test_refund_action_and_error_messages(sandbox_clock, admin_client):
    paid = pay(SUCCESS)
    failed = pay(INSUFFICIENT)
    url = reverse("admin:payments_payment_changelist")
    answer = run_confirmed(admin_client, url, "refund_in_full", paid, failed)
    text = answer.content.decode()
    assert "1 refund requested." in text
    assert "cannot be refunded" in text
    paid.refresh_from_db()
    assert paid.state == Payment.State.REFUNDED
    assert Refund.objects.get(payment=paid).state == Refund.State.SUCCEEDED
    refund_page = admin_client.get(reverse("admin:payments_refund_changelist"))
    assert refund_page.status_code == 200


PAYMENTS = "/admin/payments/payment/"
REFUNDS = "/admin/payments/refund/"
PAYMENT_ACTIONS = (
    "cancel_payments",
    "refund_in_full",
    "retry_attention",
    "check_with_alipay",
    "refund_instead",
    "mark_failed",
)
REFUND_ACTIONS = ("retry_refunds", "check_with_alipay", "mark_failed")

FINANCE = {
    "payments.view_payment",
    "payments.view_paymentevent",
    "payments.view_gatewayexchange",
    "payments.view_refund",
    "payments.cancel_payment",
    "payments.refund_payment",
    "payments.resolve_payment",
    "payments.retry_refund",
    "payments.check_payment_with_alipay",
    "payments.refund_payment_instead",
    "payments.mark_payment_failed",
    "payments.check_refund_with_alipay",
    "payments.mark_refund_failed",
}


# ticketing 0017 adds the staff refunds to the role, without the support limit.
FINANCE_REFUNDS = {
    "payments.refund_without_limit",
    "ticketing.view_order",
    "ticketing.view_orderline",
    "ticketing.view_ticket",
    "ticketing.view_orderevent",
    "ticketing.cancel_order",
    "ticketing.refund_order_amount",
    "ticketing.refund_order_tickets",
    "ticketing.view_timeslot",
    "ticketing.cancel_slot",
    "ticketing.view_slotcancellation",
    "ticketing.view_slotcancellationorder",
}


@pytest.fixture
def stuck(sandbox_clock, settings):
    """A payment whose cancel failed past its bound, and a refund unconfirmed past its own."""
    settings.PAYMENTS = {**settings.PAYMENTS, "CANCEL_MAX_ATTEMPTS": 2, "REFUND_MAX_ATTEMPTS": 1}
    payment = pay(cancel_system_error(3), deadline_seconds=12)
    refund = lifecycle.request_refund(
        pay(REFUND_SYSTEM_ERROR), amount=Decimal("5.00"), reason="", actor="t"
    )
    assert payment.state == Payment.State.NEEDS_ATTENTION
    assert refund.state == Refund.State.NEEDS_ATTENTION
    return payment, refund


def run_action(client, url: str, action: str, *objects):
    return client.post(
        url, {"action": action, "_selected_action": [o.pk for o in objects]}, follow=True
    )


def everything() -> tuple:
    """What an action could change: states, refunds, events and gateway calls."""
    return (
        sorted(Payment.objects.values_list("pk", "state")),
        sorted(Refund.objects.values_list("pk", "state", "attempts")),
        PaymentEvent.objects.count(),
        GatewayExchange.objects.count(),
    )


def test_view_only_staff_are_offered_no_payment_action_and_forged_ones_change_nothing(stuck):
    stuck_payment, stuck_refund = stuck
    paid = pay(SUCCESS)
    viewer = signed_in(staff_with("payments.view_payment", "payments.view_refund"))
    assert offered_actions(viewer, PAYMENTS) == set()
    assert offered_actions(viewer, REFUNDS) == set()

    before = everything()
    for action in PAYMENT_ACTIONS:
        answer = run_action(viewer, PAYMENTS, action, paid, stuck_payment)
        assert answer.status_code == 200
    for action in REFUND_ACTIONS:
        assert run_action(viewer, REFUNDS, action, stuck_refund).status_code == 200
    assert everything() == before


def test_support_cancel_and_refund_payments_but_leave_stuck_ones_to_finance(stuck):
    stuck_payment, stuck_refund = stuck
    member = role_member("Support")
    support = signed_in(member)
    assert offered_actions(support, PAYMENTS) == {"cancel_payments", "refund_in_full"}
    assert offered_actions(support, REFUNDS) == set()

    before = everything()
    for action in ("retry_attention", "check_with_alipay", "refund_instead", "mark_failed"):
        run_action(support, PAYMENTS, action, stuck_payment)
    for action in REFUND_ACTIONS:
        run_action(support, REFUNDS, action, stuck_refund)
    assert everything() == before

    refunded, cancelled = pay(SUCCESS), pay(SUCCESS)
    assert "1 refund requested." in messages_of(
        run_confirmed(support, PAYMENTS, "refund_in_full", refunded)
    )
    assert "1 payment cancelled." in messages_of(
        run_confirmed(support, PAYMENTS, "cancel_payments", cancelled)
    )
    refunded.refresh_from_db()
    cancelled.refresh_from_db()
    assert refunded.state == Payment.State.REFUNDED
    assert cancelled.state == Payment.State.CANCELLED  # reversed on its Beijing day
    assert cancelled.events.filter(actor=f"admin:{member.username}").exists()
    # They see the gateway exchanges beside the payment, read-only.
    page = support.get(f"/admin/payments/payment/{refunded.pk}/change/")
    assert (
        page.status_code == 200 and "alipay.acquire.overseas.spot.refund" in page.content.decode()
    )
    assert support.post(f"/admin/payments/payment/{refunded.pk}/change/", {}).status_code == 403


def test_finance_resolve_stuck_payments_and_retry_refunds(stuck):
    stuck_payment, stuck_refund = stuck
    finance = signed_in(role_member("Finance"))
    assert offered_actions(finance, PAYMENTS) == set(PAYMENT_ACTIONS)
    assert offered_actions(finance, REFUNDS) == set(REFUND_ACTIONS)

    run_action(finance, PAYMENTS, "retry_attention", stuck_payment)
    run_action(finance, REFUNDS, "retry_refunds", stuck_refund)
    stuck_payment.refresh_from_db()
    stuck_refund.refresh_from_db()
    assert stuck_payment.state == Payment.State.CANCELLED  # the sandbox's 3rd cancel succeeds
    assert stuck_refund.state == Refund.State.SUCCEEDED


def test_cancelling_a_paid_payment_returns_money_so_it_needs_the_refund_permission(sandbox_clock):
    paid = pay(SUCCESS)
    clerk = signed_in(staff_with("payments.view_payment", "payments.cancel_payment"))
    assert offered_actions(clerk, PAYMENTS) == {"cancel_payments"}
    before = everything()
    page = run_action(clerk, PAYMENTS, "cancel_payments", paid)
    assert "refund permission" in page.content.decode() and not page.context["can_confirm"]
    run_confirmed(clerk, PAYMENTS, "cancel_payments", paid)
    assert everything() == before


def test_payments_and_refunds_are_read_only_even_for_superusers(sandbox_clock, admin_client):
    paid = pay(SUCCESS)
    refund = lifecycle.request_refund(paid, amount=Decimal("5.00"), reason="", actor="t")
    before = everything()
    for url in (
        f"/admin/payments/payment/{paid.pk}/change/",
        f"/admin/payments/refund/{refund.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200
        assert admin_client.post(url, {}).status_code == 403
    assert everything() == before


@pytest.mark.django_db
def test_migrate_makes_the_finance_group_with_exactly_its_permissions():
    # ticketing 0013 adds the sales report to the role; reconciliation's 0003 adds its own
    # (tests/reconciliation/test_admin.py).
    held = codenames(Group.objects.get(name="Finance"))
    assert {perm for perm in held if not perm.startswith("reconciliation.")} == {
        *FINANCE,
        *FINANCE_REFUNDS,
        "ticketing.view_sales_report",
    }


@pytest.mark.django_db
def test_the_finance_group_gets_permissions_that_do_not_exist_yet_when_it_migrates():
    # As on a fresh database, where Django adds permissions only after all migrations ran.
    Permission.objects.filter(
        content_type__app_label="payments", codename__in=[p.split(".")[1] for p in FINANCE]
    ).exclude(codename__startswith="view_").delete()
    Group.objects.filter(name="Finance").delete()
    # Every data migration that builds the role, in order: the staff refunds' ticketing 0017 too.
    assert codenames(run_role_migration("Finance")) == FINANCE | FINANCE_REFUNDS
