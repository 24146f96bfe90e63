"""The payments admin's money actions ask first: a page with what happens to each payment, the
count and the sum per currency; nothing moves until it is confirmed, a page made stale by a
change is shown again, and Support's refund limit is enforced on the server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from payments import lifecycle
from payments.models import GatewayExchange, Payment, PaymentEvent, Refund
from tests.staff import confirmation_fields, role_member, run_action, run_confirmed, signed_in

from .helpers import INSUFFICIENT, SUCCESS, pay

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "/admin/payments/payment/"


def everything() -> tuple:
    return (
        sorted(Payment.objects.values_list("pk", "state")),
        sorted(Refund.objects.values_list("pk", "state", "amount")),
        PaymentEvent.objects.count(),
        GatewayExchange.objects.count(),
    )


def totals(page) -> list[tuple]:
    return [(row["currency"], row["count"], row["sum"]) for row in page.context["totals"]]


def test_the_page_shows_count_and_sum_per_currency_and_nothing_moves_before_confirming(
    sandbox_clock, admin_client
):
    dollars, yuan = pay(SUCCESS), pay(SUCCESS, amount="30.00", currency="CNY")
    declined = pay(INSUFFICIENT)
    before = everything()
    for action in ("refund_in_full", "cancel_payments"):
        page = run_action(admin_client, PAYMENTS, action, dollars, yuan, declined)
        assert page.status_code == 200
        assert page.context["count"] == 2
        assert totals(page) == [("CNY", 1, "CNY 30.00"), ("USD", 1, "USD 25.00")]
        assert "2 payments will change." in page.content.decode()
        assert [step.possible for step in page.context["steps"]].count(False) == 1
    assert everything() == before

    answer = run_confirmed(admin_client, PAYMENTS, "refund_in_full", dollars, yuan, declined)
    assert "2 refunds requested." in answer.content.decode()
    assert sorted(Refund.objects.values_list("amount", "state")) == [
        (Decimal("25.00"), Refund.State.SUCCEEDED),
        (Decimal("30.00"), Refund.State.SUCCEEDED),
    ]


def test_a_page_a_change_made_stale_is_shown_again_instead_of_acting(sandbox_clock, admin_client):
    paid = pay(SUCCESS)
    page = run_action(admin_client, PAYMENTS, "refund_in_full", paid)
    lifecycle.request_refund(paid, amount=Decimal("5.00"), reason="", actor="elsewhere")
    again = admin_client.post(PAYMENTS, confirmation_fields(page))
    assert again.status_code == 409
    assert "changed since the page was shown" in again.content.decode()
    assert totals(again) == [("USD", 1, "USD 20.00")]
    assert list(Refund.objects.values_list("amount", flat=True)) == [Decimal("5.00")]


def test_the_confirmation_needs_its_csrf_token(sandbox_clock, admin_user):
    paid = pay(SUCCESS)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    page = browser.get(f"{PAYMENTS}?state__exact=paid")
    assert page.status_code == 200
    fields = {"action": "refund_in_full", "_selected_action": [paid.pk], "confirmed": "yes"}
    assert browser.post(PAYMENTS, fields).status_code == 403
    assert not Refund.objects.exists()


def test_support_is_refused_above_the_limit_and_finance_is_not(sandbox_clock, settings):
    settings.SUPPORT_REFUND_LIMIT = {"*": Decimal("20"), "JPY": Decimal("5000")}
    paid, yen = pay(SUCCESS), pay(SUCCESS, amount="3000", currency="JPY")
    support = signed_in(role_member("Support"))
    before = everything()
    for action in ("refund_in_full", "cancel_payments"):
        page = run_action(support, PAYMENTS, action, paid)
        assert "above your refund limit of USD 20.00" in page.content.decode()
        assert not page.context["can_confirm"]
        forged = {name: [value] for name, value in page.context["carry"]}
        forged.update(confirmed="yes", plan_digest=page.context["digest"])
        assert support.post(PAYMENTS, forged).status_code == 403
    assert everything() == before

    # JPY has a limit of its own: 3000 yen is within it.
    run_confirmed(support, PAYMENTS, "refund_in_full", yen)
    assert Refund.objects.get(payment=yen).amount == Decimal("3000")

    run_confirmed(signed_in(role_member("Finance")), PAYMENTS, "refund_in_full", paid)
    assert Refund.objects.get(payment=paid).amount == Decimal("25.00")


def test_a_selection_counts_against_the_limit_as_one_refund(sandbox_clock, settings):
    settings.SUPPORT_REFUND_LIMIT = {"*": Decimal("20")}
    first, second = pay(SUCCESS, amount="15.00"), pay(SUCCESS, amount="15.00")
    support = signed_in(role_member("Support"))
    page = run_action(support, PAYMENTS, "refund_in_full", first, second)
    assert "This gives back USD 30.00" in page.content.decode()
    assert not page.context["can_confirm"]
    run_confirmed(support, PAYMENTS, "refund_in_full", first)
    assert Refund.objects.count() == 1
