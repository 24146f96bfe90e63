"""The gate staff's check-in page at /gate/: who may use it, what a scan shows, what it changes.

Orders are booked and paid with tests.ticketing.helpers (`paid_order`); the clock is frozen so
that the slot is 10:00-11:00 Shanghai time on 24 Dec 2026 and each scan happens inside its entry
window unless a test moves it.
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from ticketing import orders
from ticketing.models import OrderEvent, Ticket
from ticketing.views.gate import GATE_STAFF_GROUP

from ..ticketing.helpers import paid_order, tokens_of

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
SLOT_START = dt.datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI)
GATE_URL = "/gate/"


@pytest.fixture
def order(booking, clock):
    clock.freeze(SLOT_START - dt.timedelta(days=1))  # booking.slot(): tomorrow on the hour
    order = paid_order(booking, adult=2)
    clock.freeze(SLOT_START)
    return order


@pytest.fixture
def gate_user(db):
    user = User.objects.create_user("gate-anna", password="pw-anna-1234")
    user.groups.add(Group.objects.get(name=GATE_STAFF_GROUP))
    return user


@pytest.fixture
def staff(client, gate_user):
    client.force_login(gate_user)
    return client


def scan(client, token, **extra):
    return client.post(GATE_URL, {"token": token, **extra})


def nothing_used(order) -> bool:
    return (
        not order.tickets.exclude(state=Ticket.State.VALID).exists()
        and not OrderEvent.objects.filter(order=order, kind="ticket_used").exists()
    )


# --- Who may use it ---------------------------------------------------------------------------


def test_the_gate_staff_group_exists_after_migrating(db):
    assert Group.objects.filter(name=GATE_STAFF_GROUP).exists()


def test_anonymous_visitors_are_sent_to_the_gate_sign_in_page(client, db):
    for response in (client.get(GATE_URL), client.post(GATE_URL, {"token": "x"})):
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('gate:login')}?next={GATE_URL}"


def test_gate_staff_sign_in_without_admin_access_and_land_on_the_check_in_page(client, gate_user):
    page = client.get(reverse("gate:login"), {"next": GATE_URL})
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    response = client.post(
        reverse("gate:login"),
        {"username": "gate-anna", "password": "pw-anna-1234", "next": GATE_URL},
    )
    assert response.status_code == 302 and response["Location"] == GATE_URL
    assert not gate_user.is_staff
    assert client.get(GATE_URL).status_code == 200


def test_repeated_wrong_passwords_make_even_the_right_one_wait(client, gate_user, clock):
    from django.conf import settings

    MAX_FAILURES_PER_ACCOUNT = settings.STAFF_SIGN_IN_FAILURES_PER_ACCOUNT

    def sign_in(password):
        return client.post(reverse("gate:login"), {"username": "gate-anna", "password": password})

    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        assert sign_in("wrong").status_code == 200  # the form again, with its error
    refused = sign_in("pw-anna-1234")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many unsuccessful sign-ins" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    clock.advance(int(refused["Retry-After"]) + 1)
    assert sign_in("pw-anna-1234").status_code == 302


def test_a_signed_in_user_outside_the_group_is_forbidden(client, order):
    client.force_login(User.objects.create_user("clerk", password="pw-clerk-1234"))
    assert client.get(GATE_URL).status_code == 403
    assert scan(client, tokens_of(order)[0]).status_code == 403
    assert nothing_used(order)


def test_a_superuser_may_use_the_page(client, db):
    client.force_login(User.objects.create_superuser("root", password="pw-root-1234"))
    assert client.get(GATE_URL).status_code == 200


def test_the_form_has_one_labelled_autofocused_field_and_a_live_region(staff):
    response = staff.get(GATE_URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_token">Ticket code</label>' in html
    assert 'name="token"' in html and "autofocus" in html and 'maxlength="400"' in html
    assert 'aria-live="assertive"' in html
    assert "csrfmiddlewaretoken" in html
    assert response["Cache-Control"].startswith("max-age=0")


# --- Scanning ----------------------------------------------------------------------------------


def test_a_valid_ticket_is_admitted_once_with_its_details_then_shown_as_used(staff, order):
    first = tokens_of(order)[0]
    response = scan(staff, f"  {first}\n")  # scanners add whitespace; it is stripped
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-code="admitted"' in html and "Admitted" in html and "verdict-ok" in html
    for text in (
        "Test Garden",
        "Thursday, Dec. 24, 2026, 10:00–11:00 CST",
        "Adult",
        "1 of 2",
        order.code,
    ):
        assert text in html
    assert "Ada Buyer" in html
    # A fresh, empty field is ready for the next scan.
    assert 'name="token" value=' not in html and first not in html
    ticket = order.tickets.get(number=1)
    assert ticket.state == Ticket.State.USED and ticket.used_at == SLOT_START
    event = OrderEvent.objects.get(order=order, kind="ticket_used")
    assert event.actor == "gate:gate-anna"
    assert order.tickets.get(number=2).state == Ticket.State.VALID

    again = scan(staff, first).content.decode()
    assert 'data-code="used"' in again and "Do not admit" in again and "verdict-refused" in again
    assert "This ticket has already been used." in again
    assert "Used at Thursday, Dec. 24, 2026, 10:00 CST." in again
    assert OrderEvent.objects.filter(order=order, kind="ticket_used").count() == 1


def test_check_only_tells_without_admitting(staff, order):
    token = tokens_of(order)[0]
    html = scan(staff, token, check_only="on").content.decode()
    assert 'data-code="valid"' in html and "Valid: not admitted" in html
    assert 'name="check_only" id="id_check_only" checked' in html  # the mode stays on
    assert nothing_used(order)


def test_a_revoked_ticket_is_refused(staff, order):
    token = tokens_of(order)[0]
    orders.cancel_order(order, actor="test")
    html = scan(staff, token).content.decode()
    assert 'data-code="revoked"' in html and "Do not admit" in html
    assert "This ticket was cancelled or refunded." in html
    assert not OrderEvent.objects.filter(order=order, kind="ticket_used").exists()


def test_a_ticket_scanned_too_early_is_refused_with_the_opening_time(staff, order, clock):
    clock.freeze(SLOT_START - dt.timedelta(minutes=31))
    html = scan(staff, tokens_of(order)[0]).content.decode()
    assert 'data-code="too_early"' in html
    assert "Too early: entry opens at 09:30 on Thursday, Dec. 24, 2026." in html
    assert nothing_used(order)


@pytest.mark.parametrize(
    ("garbage", "status"),
    [
        ("", 400),
        ("   ", 400),
        ("A" * 10_000, 400),
        ("票" * 154, 200),
        ("é" + "A" * 153, 200),
        ("not a ticket", 200),
        ("AB\x00CD", 400),
    ],
)
def test_garbage_is_an_invalid_ticket_and_changes_nothing(staff, order, garbage, status):
    response = scan(staff, garbage)
    html = response.content.decode()
    assert response.status_code == status
    assert 'data-code="invalid_token"' in html and "Do not admit" in html
    assert "Not a valid Entrada ticket" in html
    assert nothing_used(order)


def test_a_post_without_the_csrf_token_is_refused(gate_user, order):
    client = Client(enforce_csrf_checks=True)
    client.force_login(gate_user)
    response = client.post(GATE_URL, {"token": tokens_of(order)[0]})
    assert response.status_code == 403
    assert nothing_used(order)


# --- Demo login ----------------------------------------------------------------------------------


def test_load_demo_creates_the_gate_login_in_the_group(db, settings, tmp_path):
    settings.ALIPAY_KEY_DIR = tmp_path
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    call_command("load_demo", stdout=io.StringIO())
    assert "Created demo gate user gate / entrada-demo" in out.getvalue()
    user = User.objects.get(username="gate")
    assert user.check_password("entrada-demo") and not user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [GATE_STAFF_GROUP]
