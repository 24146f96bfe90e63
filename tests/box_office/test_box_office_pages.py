"""The box office pages at /box-office/: who may sell, a counter sale paid with the buyer's Alipay
payment code (live sandbox over HTTP, frozen clock), cancelling a sale, refunds approved by a
supervisor, and bad input answered with a message, never a 500.

Each test signs in from its own client address and with its own account names: the sign-in
throttle counts failures in the shared cache, per address and per account.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from payments import poller
from payments.models import Payment
from ticketing.counter import shifts
from ticketing.models import Order, OrderEvent, Ticket, Till, TimeSlot
from ticketing.views.box_office import BOX_OFFICE_GROUP, SUPERVISORS_GROUP

from ..helpers import no_worker
from ..payments.helpers import INSUFFICIENT, SUCCESS, pin_confirm
from .helpers import address, member, on_shift, unique

pytestmark = pytest.mark.django_db(transaction=True)

SELL_URL = "/box-office/"


@pytest.fixture
def world(alipay_gateway, settings, clock, booking, mailoutbox):
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    return booking


def cashier_shift(user: User):
    return shifts.current_shift(user)


@pytest.fixture
def cashier(world) -> User:
    return on_shift(member(BOX_OFFICE_GROUP))


@pytest.fixture
def counter(cashier) -> Client:
    client = Client(REMOTE_ADDR=address())
    client.force_login(cashier)
    return client


def sell(client: Client, world, chosen: TimeSlot, /, **extra):
    data = {
        "attraction": world.attraction.pk,
        "slot": chosen.pk,
        f"q_{world.types['adult'].pk}": "2",
        "buyer_name": "",
        "email": "",
        "language": "en",
        **extra,
    }
    return client.post(SELL_URL, data)


def sale(client: Client, world, slot: TimeSlot, **extra) -> Order:
    response = sell(client, world, slot, **extra)
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    assert response["Location"] == reverse("box_office:pay", args=[order.code])
    return order


def scan(client: Client, order: Order, code: str):
    return client.post(reverse("box_office:pay", args=[order.code]), {"buyer_code": code})


def counters(slot: TimeSlot) -> tuple[int, int]:
    slot.refresh_from_db()
    return slot.held, slot.sold


def paid_sale(client: Client, world, slot: TimeSlot) -> Order:
    order = sale(client, world, slot)
    response = scan(client, order, SUCCESS)
    assert response["Location"] == reverse("box_office:receipt", args=[order.code])
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    return order


# --- Access -------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_sign_in_page(world, client):
    for url in (SELL_URL, "/box-office/orders/", "/box-office/sales/ABCDEFGH/pay/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('box_office:login')}?next=")
    page = client.get(reverse("box_office:login"), {"next": SELL_URL})
    assert page.status_code == 200 and "Box office sign-in" in page.content.decode()


def test_the_shared_sign_in_takes_a_cashier_to_the_sale_page(world, cashier):
    client = Client(REMOTE_ADDR=address())
    response = client.post(
        reverse("box_office:login"), {"username": cashier.username, "password": "pw-box-1234"}
    )
    assert response.status_code == 302 and response["Location"] == SELL_URL
    assert client.get(SELL_URL).status_code == 200
    gate_page = Client().get(reverse("gate:login")).content.decode()
    assert "Gate staff sign-in" in gate_page and "Box office sign-in" not in gate_page


def test_other_users_are_refused(world):
    slot = world.slot(capacity=5)
    client = Client(REMOTE_ADDR=address())
    client.force_login(member())  # signed in, in no group
    assert client.get(SELL_URL).status_code == 403
    assert sell(client, world, slot).status_code == 403
    assert not Order.objects.exists()
    gate = member("Gate staff")
    client.force_login(gate)
    assert client.get(SELL_URL).status_code == 403


def test_a_superuser_may_sell(world):
    client = Client(REMOTE_ADDR=address())
    root = User.objects.create_superuser(unique("root"), password="pw-root-1234")
    client.force_login(on_shift(root))
    assert client.get(SELL_URL).status_code == 200


def test_no_sale_without_an_open_shift(world):
    slot = world.slot(capacity=5)
    client = Client(REMOTE_ADDR=address())
    client.force_login(member(BOX_OFFICE_GROUP))
    open_url = reverse("box_office:shift_open")
    assert client.get(SELL_URL)["Location"] == open_url
    response = sell(client, world, slot)
    assert response.status_code == 302 and response["Location"] == open_url
    assert not Order.objects.exists()
    page = client.get(open_url)
    assert page.status_code == 200 and "Open a shift first" in page.content.decode()
    till = Till.objects.create(name="Counter 9")
    bad = client.post(open_url, {"till": till.pk, "currency": "CNY", "opening_float": "-5"})
    assert bad.status_code == 400 and "valid amount of cash" in bad.content.decode()
    opened = client.post(open_url, {"till": till.pk, "currency": "CNY", "opening_float": "250"})
    assert opened["Location"] == SELL_URL
    assert sell(client, world, slot).status_code == 302
    order = Order.objects.get()
    assert order.counter_sale.shift.till == till


# --- Selling ------------------------------------------------------------------------------------


def test_the_sale_page_lists_the_days_slots_with_places_left(world, counter):
    slot = world.slot(capacity=7)
    page = counter.get(SELL_URL, {"date": slot.local_date.isoformat()})
    text = page.content.decode()
    assert page.status_code == 200
    assert f'value="{slot.pk}"' in text and "7 places left" in text
    assert f'name="q_{world.types["adult"].pk}"' in text


def test_a_full_sale_with_the_success_code(world, counter, cashier, mailoutbox):
    slot = world.slot(capacity=5)
    order = sale(counter, world, slot)
    assert order.channel == Order.Channel.BOX_OFFICE and order.email == ""
    assert counters(slot) == (2, 0)
    pay_page = counter.get(reverse("box_office:pay", args=[order.code]))
    assert pay_page.status_code == 200
    assert "CNY 160.00" in pay_page.content.decode()
    assert 'name="buyer_code"' in pay_page.content.decode()
    response = scan(counter, order, SUCCESS)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    payment = order.payment
    till = cashier_shift(cashier).till_id
    assert (payment.store_id, payment.terminal_id) == ("BOX-OFFICE", f"TILL-{till}")
    receipt = counter.get(response["Location"]).content.decode()
    assert order.code in receipt and payment.alipay_trans_id in receipt
    assert payment.alipay_trans_id
    pdf = counter.get(reverse("box_office:tickets_pdf", args=[order.code]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert order.tickets.count() == 2 and counters(slot) == (0, 2)
    assert mailoutbox == []  # no address given: printed, not e-mailed
    created = OrderEvent.objects.get(order=order, kind="created")
    assert created.actor == f"box-office:{cashier.username}"


def test_a_pin_sale_waits_then_moves_on_when_paid(world, counter, clock):
    slot = world.slot(capacity=5)
    order = sale(counter, world, slot)
    with no_worker():
        response = scan(counter, order, pin_confirm(6))
    assert response["Location"] == reverse("box_office:pay", args=[order.code])
    page = counter.get(response["Location"]).content.decode()
    assert "Waiting for the buyer to confirm in Alipay" in page
    assert reverse("box_office:status", args=[order.code]) in page
    status_url = reverse("box_office:status", args=[order.code])
    waiting = counter.get(status_url).json()
    assert waiting["paid"] is False and waiting["waiting"] is True
    assert waiting["payment_state"] == "pending"
    clock.advance(7)
    assert poller.run() >= 1
    done = counter.get(status_url).json()
    assert done["paid"] is True
    assert done["next"] == reverse("box_office:receipt", args=[order.code])
    order.refresh_from_db()
    assert order.state == Order.State.PAID


def test_a_failed_code_shows_why_then_another_code_pays(world, counter):
    slot = world.slot(capacity=5)
    order = sale(counter, world, slot)
    response = scan(counter, order, INSUFFICIENT)
    assert response["Location"] == reverse("box_office:pay", args=[order.code])
    order.refresh_from_db()
    assert order.state == Order.State.HELD
    failed = Payment.objects.get()
    assert failed.failure_message
    page = counter.get(response["Location"]).content.decode()
    assert 'data-testid="payment-failure"' in page and 'name="buyer_code"' in page
    response = scan(counter, order, SUCCESS)
    assert response["Location"] == reverse("box_office:receipt", args=[order.code])
    order.refresh_from_db()
    assert order.state == Order.State.PAID


def test_garbage_payment_codes_change_nothing(world, counter):
    slot = world.slot(capacity=5)
    order = sale(counter, world, slot)
    for code in ("", "hello", "12345", "9" * 18, "2" * 70, "28000000000000000\x00"):
        response = scan(counter, order, code)
        assert response.status_code == 400, code
        assert 'name="buyer_code"' in response.content.decode()
    order.refresh_from_db()
    assert order.state == Order.State.HELD and not Payment.objects.exists()


def test_cancel_sale_gives_the_places_back(world, counter):
    slot = world.slot(capacity=5)
    order = sale(counter, world, slot)
    assert counters(slot) == (2, 0)
    # "Cancel sale" asks first: the GET changes nothing.
    confirm = counter.get(reverse("box_office:cancel", args=[order.code]))
    assert confirm.status_code == 200 and "Yes, cancel the sale" in confirm.content.decode()
    assert counters(slot) == (2, 0)
    response = counter.post(reverse("box_office:cancel", args=[order.code]))
    assert response["Location"] == reverse("box_office:cancelled", args=[order.code])
    order.refresh_from_db()
    assert order.state == Order.State.CANCELLED and counters(slot) == (0, 0)
    slip = counter.get(reverse("box_office:cancel_slip", args=[order.code]))
    assert slip.status_code == 200 and "nothing was charged" in slip.content.decode()
    pdf = counter.get(reverse("box_office:cancel_slip", args=[order.code]), {"format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    again = counter.post(reverse("box_office:cancel", args=[order.code]))
    assert again.status_code == 409


def test_cancel_sale_while_the_buyer_confirms_cancels_the_payment(world, counter):
    slot = world.slot(capacity=5)
    order = sale(counter, world, slot)
    with no_worker():
        scan(counter, order, pin_confirm(30))
        payment = Payment.objects.get()
        assert payment.state == Payment.State.PENDING
        response = counter.post(reverse("box_office:cancel", args=[order.code]))
    assert response.status_code == 302, response.content.decode()[:2000]
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED
    assert order.state == Order.State.CANCELLED and counters(slot) == (0, 0)


def test_a_paid_sale_cannot_be_cancelled_without_a_refund(world, counter):
    slot = world.slot(capacity=5)
    order = paid_sale(counter, world, slot)
    response = counter.post(reverse("box_office:cancel", args=[order.code]))
    assert response.status_code == 409
    order.refresh_from_db()
    assert order.state == Order.State.PAID


# --- Refunds with a supervisor ------------------------------------------------------------------


def refund(client, order, username, password, reason="wrong day"):
    return client.post(
        reverse("box_office:order", args=[order.code]),
        {"supervisor": username, "password": password, "reason": reason},
    )


def test_a_refund_needs_a_supervisors_password(world, counter, cashier):
    slot = world.slot(capacity=5)
    order = paid_sale(counter, world, slot)
    supervisor = member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP, password="pw-sup-1234")
    page = counter.get(reverse("box_office:order", args=[order.code]))
    assert page.status_code == 200 and "Refund and cancel" in page.content.decode()

    wrong = refund(counter, order, supervisor.username, "not-the-password")
    assert wrong.status_code == 403
    not_supervisor = refund(counter, order, cashier.username, "pw-box-1234")
    assert not_supervisor.status_code == 403
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert not order.tickets.exclude(state=Ticket.State.VALID).exists()

    done = refund(counter, order, supervisor.username, "pw-sup-1234")
    # Post/redirect/get: reloading the page that follows re-sends nothing.
    assert done.status_code == 302, done.content.decode()[:2000]
    assert done["Location"] == reverse("box_office:order", args=[order.code])
    after = counter.get(done["Location"]).content.decode()
    assert "its payment is being refunded" in after and "Print refund receipt" in after
    slip = counter.get(reverse("box_office:refund_slip", args=[order.code])).content.decode()
    assert "Refunded to Alipay" in slip and "wrong day" in slip
    order.refresh_from_db()
    assert order.state in (Order.State.REFUND_PENDING, Order.State.REFUNDED)
    assert set(order.tickets.values_list("state", flat=True)) == {Ticket.State.REVOKED}
    event = OrderEvent.objects.get(order=order, kind="cancelled")
    assert event.actor == f"box-office:{cashier.username} approved by {supervisor.username}"
    assert event.detail["reason"] == "wrong day"
    assert counters(slot) == (0, 0)


def test_an_online_order_can_be_found_and_refunded_too(world, counter):
    slot = world.slot(capacity=5)
    online = world.order(slot, adult=1)
    from ticketing import orders

    orders.start_counter_payment(
        online, SUCCESS, store_id="BOX-OFFICE", terminal_id="WEB-1", actor="test"
    )
    found = counter.get("/box-office/orders/", {"code": online.code.lower()})
    assert found.status_code == 302
    assert found["Location"] == reverse("box_office:order", args=[online.code])
    supervisor = member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP, password="pw-sup-1234")
    assert refund(counter, online, supervisor.username, "pw-sup-1234").status_code == 302
    online.refresh_from_db()
    assert online.state in (Order.State.REFUND_PENDING, Order.State.REFUNDED)


def test_repeated_wrong_supervisor_passwords_make_even_the_right_one_wait(world, counter, clock):
    from django.conf import settings

    MAX_FAILURES_PER_ACCOUNT = settings.STAFF_SIGN_IN_FAILURES_PER_ACCOUNT

    slot = world.slot(capacity=5)
    order = paid_sale(counter, world, slot)
    supervisor = member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP, password="pw-sup-1234")
    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        assert refund(counter, order, supervisor.username, "wrong").status_code == 403
    limited = refund(counter, order, supervisor.username, "pw-sup-1234")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    order.refresh_from_db()
    assert order.state == Order.State.PAID


def test_a_supervisor_cannot_approve_their_own_refund(world):
    slot = world.slot(capacity=5)
    supervisor = on_shift(member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP, password="pw-sup-1234"))
    desk = Client(REMOTE_ADDR=address())
    desk.force_login(supervisor)
    order = paid_sale(desk, world, slot)
    refused = refund(desk, order, supervisor.username, "pw-sup-1234")
    assert refused.status_code == 403
    assert "cannot approve their own" in refused.content.decode()
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    # Another supervisor's approval is what it takes.
    other = member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP, password="pw-sup-5678")
    assert refund(desk, order, other.username, "pw-sup-5678").status_code == 302  # PRG
    order.refresh_from_db()
    assert order.state in (Order.State.REFUND_PENDING, Order.State.REFUNDED)


# --- Bad requests -------------------------------------------------------------------------------


def test_csrf_is_enforced(world, cashier):
    slot = world.slot(capacity=5)
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address())
    client.force_login(cashier)
    assert sell(client, world, slot).status_code == 403
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"slot": "999999"},
        {"slot": "x"},
        {"slot": ""},
        {"attraction": "nope"},
        {"attraction": "999999"},
        {"q_1": "x"},
        {"language": "xx"},
        {"email": "not-an-address"},
        {"buyer_name": "n" * 500},
        {"date": "2026-99-99"},
        {"QTY": "-1"},
    ],
)
def test_bad_sale_input_is_refused_with_a_message(world, counter, extra):
    slot = world.slot(capacity=5)
    if "q_1" in extra:
        extra = {f"q_{world.types['adult'].pk}": extra["q_1"]}
    if "QTY" in extra:
        extra = {f"q_{world.types['adult'].pk}": extra["QTY"]}
    response = sell(counter, world, slot, **extra)
    assert 400 <= response.status_code < 500, extra
    assert not Order.objects.exists() and counters(slot) == (0, 0)


def test_quantities_beyond_the_places_or_none_at_all_are_refused(world, counter):
    slot = world.slot(capacity=1)
    adult = f"q_{world.types['adult'].pk}"
    assert sell(counter, world, slot, **{adult: "3"}).status_code == 409  # sold out
    assert sell(counter, world, slot, **{adult: "0"}).status_code == 400
    assert sell(counter, world, slot, **{adult: "100000"}).status_code == 400
    assert not Order.objects.exists()


def test_unknown_orders_and_methods_are_not_errors(world, counter):
    assert counter.get("/box-office/sales/NOPE1234/pay/").status_code == 404
    assert counter.get("/box-office/sales/x/receipt/").status_code == 404
    assert counter.get("/box-office/orders/", {"code": "ZZZZZZZZ"}).status_code == 404
    assert counter.get("/box-office/orders/", {"code": "x" * 500}).status_code == 404
    assert counter.get("/box-office/sales/ABCDEFGH/cancel/").status_code == 404
    assert counter.put("/box-office/sales/ABCDEFGH/cancel/").status_code == 405
    for url in ("/box-office/shifts/999/z/", "/box-office/sales/NOPE1234/slip/"):
        assert counter.get(url).status_code == 404
    slot = world.slot(capacity=5)
    order = sale(counter, world, slot)
    assert counter.get(reverse("box_office:tickets_pdf", args=[order.code])).status_code == 409
    assert counter.get(reverse("box_office:receipt", args=[order.code])).status_code == 302
    bad_refund = counter.post(reverse("box_office:order", args=[order.code]), {"supervisor": ""})
    assert bad_refund.status_code == 400


# --- Demo logins --------------------------------------------------------------------------------


def test_load_demo_creates_the_cashier_and_the_supervisor(db, settings, tmp_path):
    import io

    from django.core.management import call_command

    settings.ALIPAY_KEY_DIR = tmp_path
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    call_command("load_demo", stdout=io.StringIO())
    assert "Created demo box office user cashier / entrada-demo" in out.getvalue()
    cashier = User.objects.get(username="cashier")
    supervisor = User.objects.get(username="supervisor")
    assert cashier.check_password("entrada-demo") and not cashier.is_staff
    assert set(cashier.groups.values_list("name", flat=True)) == {BOX_OFFICE_GROUP}
    assert set(supervisor.groups.values_list("name", flat=True)) == {
        BOX_OFFICE_GROUP,
        SUPERVISORS_GROUP,
    }
    assert set(Till.objects.values_list("name", flat=True)) == {"Counter 1", "Counter 2", "Phone 1"}
