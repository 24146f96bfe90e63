"""The attraction's refund policy: its deadlines to the second, the fee in each currency's minor
units, and its wording on the attraction page and the tickets e-mail in both languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from ticketing import inventory
from ticketing.etickets.delivery import build_message
from ticketing.models import RefundPolicy
from ticketing.orders import policy as refund_policy

from .helpers import paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def capacity_stays_consistent(db):
    yield
    assert inventory.check_capacity() == []


def make_policy(attraction, **fields) -> RefundPolicy:
    return RefundPolicy.objects.create(attraction=attraction, **fields)


def test_cancelling_is_allowed_one_second_before_the_cut_off_and_refused_one_second_after(
    booking, clock
):
    policy = make_policy(booking.attraction, cancel_hours_before=24)
    slot = booking.slot(hours_ahead=48)
    cut_off = slot.starts_at - dt.timedelta(hours=24)
    clock.freeze(cut_off - dt.timedelta(seconds=1))
    assert refund_policy.may_cancel(policy, slot.starts_at, clock.now())
    clock.freeze(cut_off + dt.timedelta(seconds=1))
    assert not refund_policy.may_cancel(policy, slot.starts_at, clock.now())


def test_changing_the_slot_has_its_own_cut_off(booking, clock):
    policy = make_policy(booking.attraction, change_allowed=True, change_hours_before=2)
    slot = booking.slot(hours_ahead=10)
    cut_off = slot.starts_at - dt.timedelta(hours=2)
    clock.freeze(cut_off - dt.timedelta(seconds=1))
    assert refund_policy.may_change(policy, slot.starts_at, clock.now())
    assert not refund_policy.may_cancel(policy, slot.starts_at, clock.now())  # 0: never
    clock.freeze(cut_off + dt.timedelta(seconds=1))
    assert not refund_policy.may_change(policy, slot.starts_at, clock.now())


def test_without_a_policy_nothing_may_be_undone(booking, clock):
    policy = refund_policy.policy_for(booking.attraction)
    slot = booking.slot(hours_ahead=1000)
    assert policy.pk is None
    assert not refund_policy.may_cancel(policy, slot.starts_at, clock.now())
    assert not refund_policy.may_change(policy, slot.starts_at, clock.now())


@pytest.mark.parametrize(
    ("currency", "amount", "percent", "fixed", "fee", "refund"),
    [
        ("JPY", "1250", "10", "0", "125", "1125"),
        ("JPY", "1005", "10", "0", "101", "904"),  # 100.5 rounds half up
        ("JPY", "1004", "10", "0", "100", "904"),  # 100.4 rounds down
        ("KRW", "15005", "5", "100", "850", "14155"),  # 750.25 -> 750, plus 100
        ("KRW", "15010", "5", "0", "751", "14259"),  # 750.5 -> 751
        ("CNY", "80.10", "12.5", "0", "10.01", "70.09"),  # 10.0125 -> 10.01
        ("CNY", "80.20", "12.5", "0", "10.03", "70.17"),  # 10.025 -> 10.03
        ("CNY", "20.00", "0", "30.00", "20.00", "0.00"),  # never a negative refund
        ("JPY", "0", "10", "500", "0", "0"),  # a free ticket costs nothing to cancel
    ],
)
def test_the_fee_is_rounded_half_up_in_the_currencys_minor_units_and_never_exceeds_the_amount(
    booking, currency, amount, percent, fixed, fee, refund
):
    policy = RefundPolicy(
        attraction=booking.attraction, fee_percent=Decimal(percent), fee_fixed=Decimal(fixed)
    )
    quote = refund_policy.quote(policy, Decimal(amount), currency)
    assert (quote.fee, quote.refund) == (Decimal(fee), Decimal(refund))
    assert str(quote.refund) == refund  # no decimals for JPY and KRW
    assert quote.refund >= 0


def test_a_fixed_fee_with_fractions_of_a_yen_is_refused(booking):
    from django.core.exceptions import ValidationError

    booking.attraction.currency = "JPY"
    booking.attraction.save()
    policy = RefundPolicy(attraction=booking.attraction, fee_fixed=Decimal("10.50"))
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "fee_fixed" in refused.value.message_dict


def test_the_attraction_page_shows_the_policy_in_english_and_chinese(client, booking):
    make_policy(
        booking.attraction,
        cancel_hours_before=24,
        fee_percent=Decimal("10"),
        fee_fixed=Decimal("5.00"),
        change_allowed=True,
        change_hours_before=3,
    )
    booking.types["family"].refundable = False
    booking.types["family"].save()
    url = reverse("shop:attraction", args=[booking.attraction.slug])

    body = client.get(url).content.decode()
    assert "Tickets can be cancelled up to 24 hours before the time slot starts." in body
    assert "Cancellation fee: 10% of the refunded amount plus CNY 5.00." in body
    assert "Never refundable: Family." in body
    assert "You may change the time slot up to 3 hours before it starts." in body

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    body = client.get(url).content.decode()
    assert "场次开始前 24 小时以前可取消门票。" in body
    assert "取消手续费：退款金额的 10%，另加 CNY 5.00。" in body
    assert "不可退款：family-zh。" in body
    assert "场次开始前 3 小时以前可更改场次。" in body


def test_an_attraction_without_a_policy_says_tickets_cannot_be_cancelled(client, booking):
    body = client.get(reverse("shop:attraction", args=[booking.attraction.slug])).content
    assert "Tickets cannot be cancelled or refunded." in body.decode()
    assert "The time slot cannot be changed." in body.decode()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Tickets can be cancelled up to 1 hour before the time slot starts."),
        ("zh-hans", "场次开始前 1 小时以前可取消门票。"),
    ],
)
def test_the_tickets_email_states_the_policy_in_the_orders_language(booking, language, expected):
    make_policy(booking.attraction, cancel_hours_before=1)
    order = paid_order(booking, language=language, adult=1)
    body = build_message(order, b"%PDF").body
    assert expected in body


def test_the_admin_edits_the_policy_inline_on_the_attraction(admin_client, booking):
    url = reverse("admin:ticketing_attraction_change", args=[booking.attraction.pk])
    body = admin_client.get(url).content.decode()
    assert "refund_policy-0-cancel_hours_before" in body
    assert "ticket_types-0-refundable" in body


def test_the_catalogue_has_no_pending_migration():
    call_command("makemigrations", "ticketing", "--check", "--dry-run", verbosity=0)
