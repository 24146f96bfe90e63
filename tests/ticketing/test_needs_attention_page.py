"""The admin's "Needs attention" page and its line on the admin index: counts and ages, oldest
first, of payments and refunds needing attention, orders under review and open reconciliation
differences; each queue only for staff who may view it, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments import clock
from payments.models import Payment, Refund
from payments.reconciliation.models import Difference
from tests.staff import signed_in, staff_with
from ticketing.models import Order, OrderPayment

from .helpers import Booking, make_attraction

PAGE = reverse("admin:ticketing_needsattention_changelist")
INDEX = reverse("admin:index")
SEQUENCE = itertools.count()
EVERY_QUEUE = (
    "payments.view_payment",
    "payments.view_refund",
    "ticketing.view_order",
    "reconciliation.view_difference",
)


def stuck_payment(hours_ago: float, n: int) -> Payment:
    since = clock.now() - dt.timedelta(hours=hours_ago)
    return Payment.objects.create(
        partner_trans_id=f"STUCK{next(SEQUENCE):05d}",
        amount=Decimal("80.00"),
        currency="CNY",
        description="stuck",
        channel=Payment.Channel.BARCODE,
        state=Payment.State.NEEDS_ATTENTION,
        attention_reason="cancel failed 8 times, last: SYSTEM_ERROR",
        created_at=since,
        updated_at=since,
    )


def stuck_refund(hours_ago: float, n: int) -> Refund:
    payment = Payment.objects.create(
        partner_trans_id=f"PAID{next(SEQUENCE):05d}",
        amount=Decimal("80.00"),
        currency="CNY",
        description="paid",
        channel=Payment.Channel.BARCODE,
        state=Payment.State.PAID,
    )
    since = clock.now() - dt.timedelta(hours=hours_ago)
    return Refund.objects.create(
        payment=payment,
        partner_refund_id=f"{payment.partner_trans_id}R",
        amount=Decimal("80.00"),
        state=Refund.State.NEEDS_ATTENTION,
        failure_message="Alipay did not confirm the refund after several tries",
        created_at=since,
        updated_at=since,
    )


def order_under_review(booking: Booking, hours_ago: float, n: int) -> Order:
    order = booking.order(booking.slot(capacity=5))
    payment = stuck_payment(hours_ago, 1000 + n)
    OrderPayment.objects.create(order=order, payment=payment, created_at=clock.now())
    Order.objects.filter(pk=order.pk).update(
        state=Order.State.AWAITING_PAYMENT,
        payment=payment,
        review_ends_at=payment.updated_at + dt.timedelta(hours=2),
    )
    order.refresh_from_db()
    return order


def open_difference(day: dt.date, n: int, severity=Difference.Severity.HIGH, is_open=True):
    return Difference.objects.create(
        day=day,
        kind=Difference.Kind.STATE_MISMATCH,
        severity=severity,
        partner_transaction_id=f"DIFF{next(SEQUENCE)}",
        is_open=is_open,
    )


def world(booking: Booking, n: int) -> dict:
    """n of each queue, the oldest first in each: ages 3 h, 4 h, ... (payments), etc."""
    made = {
        "payments": [stuck_payment(3 + i, i) for i in range(n)],
        "refunds": [stuck_refund(1 + i, i) for i in range(n)],
        "orders": [order_under_review(booking, 5 + i, i) for i in range(n)],
    }
    today = dt.date(2026, 11, 27)
    made["differences"] = [open_difference(today - dt.timedelta(days=i), i) for i in range(n)]
    open_difference(today, 99, Difference.Severity.CRITICAL)
    open_difference(today - dt.timedelta(days=30), 100, is_open=False)  # resolved: not counted
    return made


def section(body: str, key: str) -> str:
    match = re.search(rf'<div class="module" id="attention-{key}">(.*?)</div>', body, re.S)
    assert match, f"no {key} section"
    return match.group(1)


def count_in(body: str, key: str) -> int:
    found = re.search(r'data-testid="count">(\d+)<', section(body, key))
    return int(found.group(1))


@pytest.mark.django_db
def test_the_page_counts_every_queue_and_lists_the_oldest_first(clock):
    booking = Booking(make_attraction())
    made = world(booking, 3)
    client = signed_in(staff_with(*EVERY_QUEUE))
    page = client.get(PAGE)
    body = page.content.decode()
    assert page.status_code == 200
    # The orders' payments are stuck payments too.
    assert count_in(body, "payments") == 6
    assert count_in(body, "refunds") == 3
    assert count_in(body, "orders") == 3
    assert count_in(body, "differences") == 4
    payments = section(body, "payments")
    listed = re.findall(r">(STUCK\w+)</a>", payments)
    oldest_first = sorted(
        [*made["payments"], *(o.payment for o in made["orders"])], key=lambda p: p.updated_at
    )
    assert listed == [p.partner_trans_id for p in oldest_first]
    assert "Oldest waiting for 7\xa0hours." in payments
    assert "cancel failed 8 times" in payments
    orders = section(body, "orders")
    codes = re.findall(r'/admin/ticketing/order/\d+/change/">(\w+)<', orders)
    assert codes == [o.code for o in reversed(made["orders"])]
    assert "Awaiting payment" in orders
    refunds = section(body, "refunds")
    assert "Oldest waiting for 3\xa0hours." in refunds
    differences = section(body, "differences")
    assert "Critical: 1" in differences and "High: 3" in differences
    assert "Oldest from 2026-11-25" in differences
    assert "/admin/reconciliation/difference/?is_open__exact=1" in differences


@pytest.mark.django_db
def test_the_page_reads_a_fixed_number_of_queries_however_many_wait(clock):
    booking = Booking(make_attraction())
    client = signed_in(staff_with(*EVERY_QUEUE))
    world(booking, 1)
    client.get(PAGE)  # sessions, content types and permissions cached alike for both reads
    with CaptureQueriesContext(connection) as few:
        assert client.get(PAGE).status_code == 200
    world(booking, 6)
    with CaptureQueriesContext(connection) as many:
        body = client.get(PAGE).content.decode()
    assert count_in(body, "orders") == 7
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.django_db
def test_staff_see_only_the_queues_they_may_view(clock):
    booking = Booking(make_attraction())
    world(booking, 1)
    payments_only = signed_in(staff_with("payments.view_payment"))
    body = payments_only.get(PAGE).content.decode()
    assert 'id="attention-payments"' in body
    for hidden in ("refunds", "orders", "differences"):
        assert f'id="attention-{hidden}"' not in body
    index = payments_only.get(INDEX).content.decode()
    assert 'id="attention-status"' in index and "Payments needing attention" in index
    assert "Refunds needing attention" not in index


@pytest.mark.django_db
def test_staff_who_may_view_no_queue_are_refused_and_see_no_link(clock):
    other = signed_in(staff_with("ticketing.view_attraction"))
    assert other.get(PAGE).status_code == 403
    index = other.get(INDEX).content.decode()
    assert PAGE not in index and 'id="attention-status"' not in index


@pytest.mark.django_db
def test_anonymous_and_non_staff_users_are_sent_to_sign_in(client, django_user_model):
    answer = client.get(PAGE)
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]
    user = django_user_model.objects.create_user("buyer", password="pw-buyer-1234")
    client.force_login(user)
    answer = client.get(PAGE)
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]


@pytest.mark.django_db
def test_the_index_shows_counts_and_ages_with_a_link_to_the_page(clock):
    booking = Booking(make_attraction())
    world(booking, 2)
    client = signed_in(staff_with(*EVERY_QUEUE))
    index = client.get(INDEX).content.decode()
    status = re.search(r'<div class="module" id="attention-status">(.*?)</div>', index, re.S)
    text = status.group(1)
    assert f'href="{PAGE}"' in text
    assert "Payments needing attention: <strong>4</strong> (oldest 6\xa0hours)" in text
    assert "Refunds needing attention: <strong>2</strong> (oldest 2\xa0hours)" in text
    assert "Orders with a payment under review: <strong>2</strong>" in text
    assert "Reconciliation differences open: <strong>3</strong> (oldest from 2026-11-26)" in text
    # And an entry of its own in the app list, under Ticketing.
    assert f'<a href="{PAGE}"' in index.split('id="attention-status"')[1]


@pytest.mark.django_db
def test_the_page_answers_get_only(clock):
    client = signed_in(staff_with(*EVERY_QUEUE))
    assert client.post(PAGE).status_code == 405
