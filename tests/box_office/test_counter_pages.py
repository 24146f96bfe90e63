"""The counter's pages without a gateway: a cash sale with its change, closing a shift whose
drawer is off (a supervisor other than the cashier approves), the supervisors' shift list and
the Z reports (print view and PDF), and bad input answered with a message."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from pypdf import PdfReader

from ticketing import local_time
from ticketing.counter import shifts
from ticketing.counter.reports import box_office_time_zone
from ticketing.models import Order, Shift, TillMovement
from ticketing.views.box_office import BOX_OFFICE_GROUP, SUPERVISORS_GROUP

from .test_box_office_pages import address, member, on_shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(booking, clock, settings):
    settings.BOX_OFFICE_VARIANCE_THRESHOLD = "5"
    return booking


def signed_in(user) -> Client:
    client = Client(REMOTE_ADDR=address())
    client.force_login(user)
    return client


def cash_sale(client: Client, world, slot, tendered: str = "100") -> Order:
    response = client.post(
        reverse("box_office:sell"),
        {
            "attraction": world.attraction.pk,
            "slot": slot.pk,
            f"q_{world.types['adult'].pk}": "1",
            "language": "en",
        },
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    order = Order.objects.order_by("-pk").first()
    paid = client.post(reverse("box_office:pay_cash", args=[order.code]), {"tendered": tendered})
    assert paid["Location"] == reverse("box_office:receipt", args=[order.code])
    return order


def test_a_cash_sale_shows_the_change_and_prints_a_receipt(world):
    cashier = on_shift(member(BOX_OFFICE_GROUP), "Counter 1")
    client = signed_in(cashier)
    slot = world.slot(capacity=5)
    order = cash_sale(client, world, slot, "100")
    receipt = client.get(reverse("box_office:receipt", args=[order.code])).content.decode()
    assert "CNY 20.00" in receipt and "Walk-in" in receipt and "Box office</dd>" not in receipt
    order.refresh_from_db()
    assert escape(local_time.format_datetime(order.paid_at, box_office_time_zone())) in receipt
    slip = client.get(reverse("box_office:sale_slip", args=[order.code]))
    assert "Paid in cash" in slip.content.decode() and "Counter 1" in slip.content.decode()
    pdf = client.get(reverse("box_office:sale_slip", args=[order.code]), {"format": "pdf"})
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert order.code in text and "CNY 100.00" in text and "CNY 20.00" in text


@pytest.mark.parametrize("tendered", ["", "79.99", "abc", "-80", "80.001"])
def test_too_little_or_garbage_cash_is_refused_with_a_message(world, tendered):
    client = signed_in(on_shift(member(BOX_OFFICE_GROUP)))
    slot = world.slot(capacity=5)
    client.post(
        reverse("box_office:sell"),
        {"attraction": world.attraction.pk, "slot": slot.pk,
         f"q_{world.types['adult'].pk}": "1", "language": "en"},
    )  # fmt: skip
    order = Order.objects.get()
    response = client.post(
        reverse("box_office:pay_cash", args=[order.code]), {"tendered": tendered}
    )
    assert response.status_code == 400
    assert 'data-testid="pay-error"' in response.content.decode()
    order.refresh_from_db()
    assert order.state == Order.State.HELD and not TillMovement.objects.filter(order=order)


def test_closing_a_short_drawer_needs_another_supervisor_and_a_note(world):
    boss = member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP, password="pw-boss-1234")
    cashier = on_shift(member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP, password="pw-own-1234"))
    client = signed_in(cashier)
    cash_sale(client, world, world.slot(capacity=5), "80")  # drawer: 100 float + 80
    url = reverse("box_office:shift_close")
    page = client.get(url).content.decode()
    assert "CNY 180.00" in page
    short = {"d_100.00": "1", "d_50.00": "1", "d_20.00": "1"}  # 170
    refused = client.post(url, {**short, "note": ""})
    assert refused.status_code == 403 and "supervisor must approve" in refused.content.decode()
    own = client.post(url, {**short, "note": "x", "supervisor": cashier.username,
                            "password": "pw-own-1234"})  # fmt: skip
    assert own.status_code == 403 and "cannot approve their own" in own.content.decode()
    wrong = client.post(url, {**short, "note": "x", "supervisor": boss.username,
                              "password": "nope"})  # fmt: skip
    assert wrong.status_code == 403
    assert Shift.objects.get().state == Shift.State.OPEN
    done = client.post(url, {**short, "note": "gave 10 too much", "supervisor": boss.username,
                             "password": "pw-boss-1234"})  # fmt: skip
    shift = Shift.objects.get()
    assert done["Location"] == reverse("box_office:shift_z", args=[shift.pk])
    assert shift.state == Shift.State.CLOSED and shift.variance == Decimal("-10.00")
    assert shift.approved_by == boss.username and shift.note == "gave 10 too much"
    assert shifts.current_shift(cashier) is None
    # No shift, no sale: the sale page sends the cashier to open one.
    assert client.get(reverse("box_office:sell"))["Location"] == reverse("box_office:shift_open")


def test_supervisors_see_every_shift_and_reprint_z_reports(world):
    mei = on_shift(member(BOX_OFFICE_GROUP), "Counter 1")
    jun = on_shift(member(BOX_OFFICE_GROUP), "Counter 2")
    cash_sale(signed_in(mei), world, world.slot(capacity=5), "80")
    cash_sale(signed_in(jun), world, world.slot(capacity=5), "100")
    boss = signed_in(member(BOX_OFFICE_GROUP, SUPERVISORS_GROUP))
    listing = boss.get(reverse("box_office:shifts"))
    assert listing.status_code == 200
    assert listing.content.decode().count('data-testid="shift-row"') == 2
    # A cashier neither sees the list nor another cashier's report.
    assert signed_in(mei).get(reverse("box_office:shifts")).status_code == 403
    jun_shift = shifts.current_shift(jun)
    other = signed_in(mei).get(reverse("box_office:shift_z", args=[jun_shift.pk]))
    assert other.status_code == 403
    report = boss.get(reverse("box_office:shift_z", args=[jun_shift.pk]), {"format": "pdf"})
    text = PdfReader(io.BytesIO(report.content)).pages[0].extract_text()
    assert "CNY 180.00" in text and "Counter 2" in text and "Counter 1" not in text
    day = jun_shift.opened_at.astimezone(box_office_time_zone()).date()
    day_url = reverse("box_office:day_z", args=[jun_shift.till_id, day.isoformat()])
    assert boss.get(day_url).status_code == 200
    assert (
        boss.get(reverse("box_office:day_z", args=[jun_shift.till_id, "2020-01-01"])).status_code
        == 404
    )
    assert (
        boss.get(reverse("box_office:day_z", args=[jun_shift.till_id, "not-a-day"])).status_code
        == 404
    )


def test_the_counter_admin_pages_render_and_shifts_are_read_only(world, admin_client):
    cashier = on_shift(member(BOX_OFFICE_GROUP), "Counter 7")
    shift = shifts.current_shift(cashier)
    for url in (
        "/admin/ticketing/till/",
        f"/admin/ticketing/till/{shift.till_id}/change/",
        "/admin/ticketing/shift/",
        f"/admin/ticketing/shift/{shift.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get("/admin/ticketing/shift/add/").status_code == 403
