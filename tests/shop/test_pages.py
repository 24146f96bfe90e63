"""The shop's pages through Django's test client: browsing, booking, access, bad input."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from payments import clock
from ticketing.models import Order, TimeSlot

pytestmark = pytest.mark.django_db


def book(client, attraction, slot, **quantities):
    data = {"buyer_name": "Mei Tanaka", "email": "mei@example.com"}
    data.update({f"qty_{tt.pk}": n for tt, n in quantities.get("lines", {}).items()})
    return client.post(reverse("shop:tickets", args=[attraction.slug, slot.pk]), data)


def test_home_lists_attractions_with_prices_in_their_currency(client, attraction, ticket_types):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Tokyo Garden" in body
    assert "From JPY 1,000" in body  # the cheapest ticket, yen without decimals
    assert "JPY 1,000.00" not in body


def test_every_page_has_a_language_switcher_and_skip_link(client, attraction, ticket_types):
    for url in ("/", reverse("shop:attraction", args=[attraction.slug]), reverse("shop:lookup")):
        body = client.get(url).content.decode()
        assert 'action="/i18n/setlang/"' in body
        assert 'name="language" value="zh-hans"' in body
        assert 'class="skip-link" href="#main"' in body
        assert '<main id="main"' in body


def test_attraction_page_shows_two_weeks_and_the_chosen_days_slots_in_local_time(
    client, attraction, ticket_types, tomorrow_slot
):
    url = reverse("shop:attraction", args=[attraction.slug])
    response = client.get(url, {"date": tomorrow_slot.local_date.isoformat()})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="day ') + body.count('class="day closed"') >= 14
    # Opening rules are 09:00-17:00 Tokyo time: the first slot shows as 09:00, not in UTC.
    assert "09:00–10:00" in body
    assert "20 places left" in body
    assert 'aria-current="date"' in body
    assert reverse("shop:tickets", args=[attraction.slug, tomorrow_slot.pk]) in body


def test_sold_out_slot_is_not_a_link(client, attraction, ticket_types, tomorrow_slot):
    TimeSlot.objects.filter(pk=tomorrow_slot.pk).update(capacity_override=0)
    url = reverse("shop:attraction", args=[attraction.slug])
    body = client.get(url, {"date": tomorrow_slot.local_date.isoformat()}).content.decode()
    assert reverse("shop:tickets", args=[attraction.slug, tomorrow_slot.pk]) not in body
    assert "Sold out" in body


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-40", "2026-1-1", "x" * 500, "20260101"])
def test_a_bad_date_in_the_query_is_a_clear_400(client, attraction, value):
    response = client.get(reverse("shop:attraction", args=[attraction.slug]), {"date": value})
    assert response.status_code == 400
    assert "That date is not valid" in response.content.decode()


def test_a_past_date_shows_today_with_a_notice(client, attraction, ticket_types):
    url = reverse("shop:attraction", args=[attraction.slug])
    response = client.get(url, {"date": "2001-01-01", "from": "1999-01-01"})
    assert response.status_code == 200
    assert "showing today instead" in response.content.decode()


def test_unknown_attraction_and_slot_are_404_pages(client, attraction, tomorrow_slot):
    assert client.get("/attractions/nowhere/").status_code == 404
    other_slot = reverse("shop:tickets", args=[attraction.slug, 999999])
    assert client.get(other_slot).status_code == 404


def test_booking_holds_places_and_shows_the_review_with_totals(
    client, attraction, ticket_types, tomorrow_slot
):
    response = book(
        client,
        attraction,
        tomorrow_slot,
        lines={ticket_types["adult"]: 2, ticket_types["child"]: 1},
    )
    assert response.status_code == 302
    order = Order.objects.get()
    assert response.url == reverse("shop:review", args=[order.code])
    assert order.state == Order.State.HELD
    assert order.language == "en"
    tomorrow_slot.refresh_from_db()
    assert tomorrow_slot.held == 3

    review = client.get(response.url)
    assert review.status_code == 200
    body = review.content.decode()
    assert "JPY 5,000" in body  # 2 x 2,000 + 1,000
    assert order.code in body
    assert "Pay with Alipay" in body
    assert "data-hold-seconds" in body


def test_booking_without_tickets_shows_the_error_above_the_form(
    client, attraction, ticket_types, tomorrow_slot
):
    response = book(client, attraction, tomorrow_slot, lines={})
    assert response.status_code == 400
    assert "Choose at least one ticket." in response.content.decode()
    assert not Order.objects.exists()


def test_bad_quantities_and_details_show_errors_next_to_their_fields(
    client, attraction, ticket_types, tomorrow_slot
):
    adult = ticket_types["adult"]
    response = client.post(
        reverse("shop:tickets", args=[attraction.slug, tomorrow_slot.pk]),
        {f"qty_{adult.pk}": "lots", "buyer_name": "   ", "email": "not-an-email"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="id_qty_{adult.pk}_errors"' in body
    assert 'id="id_email_errors"' in body
    assert 'id="id_buyer_name_errors"' in body
    assert 'aria-invalid="true"' in body
    assert not Order.objects.exists()


def test_more_than_the_places_left_is_a_clear_sold_out_answer(
    client, attraction, ticket_types, tomorrow_slot
):
    TimeSlot.objects.filter(pk=tomorrow_slot.pk).update(capacity_override=3)
    response = book(client, attraction, tomorrow_slot, lines={ticket_types["family"]: 1})
    assert response.status_code == 409
    assert "not enough places left" in response.content.decode()
    assert not Order.objects.exists()


def test_a_slot_that_has_started_cannot_be_booked(client, attraction, ticket_types):
    started = TimeSlot.objects.filter(attraction=attraction).order_by("starts_at").first()
    clock.freeze(started.starts_at + dt.timedelta(minutes=5))
    try:
        response = book(client, attraction, started, lines={ticket_types["adult"]: 1})
    finally:
        clock.reset()
    assert response.status_code == 409
    assert "cannot be booked any more" in response.content.decode()
    assert not Order.objects.exists()


def test_order_pages_are_only_for_the_session_that_booked(
    client, attraction, ticket_types, tomorrow_slot
):
    from django.test import Client

    book(client, attraction, tomorrow_slot, lines={ticket_types["adult"]: 1})
    order = Order.objects.get()
    stranger = Client()
    for name in ("review", "pay", "confirmation", "tickets_pdf"):
        response = stranger.get(reverse(f"shop:{name}", args=[order.code]))
        assert response.status_code == 403, name
        assert order.email not in response.content.decode()
    # A code that does not exist gets the very same answer: no way to tell codes apart.
    unknown = stranger.get(reverse("shop:review", args=["ZZZZZZZZ"]))
    assert unknown.status_code == 403
    status = stranger.get(reverse("shop:status", args=[order.code]))
    assert status.status_code == 403
    assert status.json()["code"] == "forbidden"
    # The order's secret token (from the e-mail) opens it in another browser.
    opened = stranger.get(reverse("shop:review", args=[order.code]), {"token": order.token})
    assert opened.status_code == 200
    assert stranger.get(reverse("shop:review", args=[order.code])).status_code == 200


def test_tickets_are_not_downloadable_before_payment(
    client, attraction, ticket_types, tomorrow_slot
):
    book(client, attraction, tomorrow_slot, lines={ticket_types["adult"]: 1})
    order = Order.objects.get()
    response = client.get(reverse("shop:tickets_pdf", args=[order.code]))
    assert response.status_code == 409
    assert "issued once the payment is complete" in response.content.decode()


def test_status_json_reports_the_hold(client, attraction, ticket_types, tomorrow_slot):
    book(client, attraction, tomorrow_slot, lines={ticket_types["adult"]: 1})
    order = Order.objects.get()
    data = client.get(reverse("shop:status", args=[order.code])).json()
    assert data["state"] == "held"
    assert data["paid"] is False
    assert data["waiting"] is False
    assert 0 < data["seconds_left"] <= 15 * 60
    assert data["next"] == reverse("shop:review", args=[order.code])


def test_an_expired_hold_explains_itself(client, clock, attraction, ticket_types, tomorrow_slot):
    book(client, attraction, tomorrow_slot, lines={ticket_types["adult"]: 1})
    order = Order.objects.get()
    clock.advance(16 * 60)
    # Its pages all lead to the order page, which says what happened and what to do now.
    review = client.get(reverse("shop:review", args=[order.code]))
    assert review.url == reverse("shop:confirmation", args=[order.code])
    body = client.get(review.url).content.decode()
    assert "Reservation expired" in body
    assert "The reservation ended before it was paid." in body
    assert "Nothing was charged" in body
    assert "Choose tickets again" in body
    assert "Pay with Alipay" not in body
    response = client.post(reverse("shop:pay", args=[order.code]))
    assert response.status_code == 409
    assert "expired" in response.content.decode()


def test_unknown_urls_get_the_friendly_404_page(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_methods_other_than_get_and_post_are_refused(client, attraction):
    response = client.put(reverse("shop:attraction", args=[attraction.slug]))
    assert response.status_code == 405


def test_page_titles_name_the_page(client, attraction, ticket_types):
    body = client.get(reverse("shop:attraction", args=[attraction.slug])).content.decode()
    assert re.search(r"<title>Tokyo Garden · Entrada</title>", body)


def test_the_500_page_renders_without_a_request_context():
    from django.template.loader import render_to_string

    body = render_to_string("500.html")
    assert "Something went wrong on our side" in body
    assert "shop.css" in body


def test_free_ticket_types_say_free_and_do_not_set_the_from_price(client, attraction, ticket_types):
    from decimal import Decimal

    from ticketing.models import TicketType

    TicketType.objects.create(
        attraction=attraction, code="infant", name="Infant", price=Decimal("0"), admissions=0
    )
    assert "From JPY 1,000" in client.get("/").content.decode()
    body = client.get(reverse("shop:attraction", args=[attraction.slug])).content.decode()
    assert "Free" in body
    assert "JPY 0" not in body


def test_the_shop_speaks_chinese_when_asked(client, attraction, ticket_types):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    body = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in body
    assert "预订分时入场门票" in body
    assert "东京庭园" in body  # the attraction's own Chinese name
    assert "JPY 1000 起" in body


@pytest.mark.parametrize(
    "path",
    [
        "/attractions/tokyo-garden/slots/99999999999999999999999999/",
        "/attractions/tokyo-garden/slots/0/",
        "/attractions/tokyo-garden/?date=%00",
        "/attractions/tokyo-garden/?from=2026-02-30",
        "/attractions/tokyo-garden/?date=9999-12-31",
        "/orders/" + "A" * 300 + "/",
        "/orders/%E4%B8%AD%E6%96%87/pay/",
        "/orders/ABCDEFGH/review/?token=" + "x" * 5000,
        "/orders/ABCDEFGH/status/?token=abc",
        "/orders/ABCDEFGH/tickets.pdf?token=",
    ],
)
def test_odd_urls_get_clear_4xx_answers_never_500(client, attraction, ticket_types, path):
    response = client.get(path)
    assert 200 <= response.status_code < 500
    assert response.status_code in (200, 400, 403, 404)


def test_huge_quantities_are_refused_next_to_the_field(
    client, attraction, ticket_types, tomorrow_slot
):
    adult = ticket_types["adult"]
    response = client.post(
        reverse("shop:tickets", args=[attraction.slug, tomorrow_slot.pk]),
        {f"qty_{adult.pk}": "9" * 40, "buyer_name": "A", "email": "a@example.com"},
    )
    assert response.status_code == 400
    assert f'id="id_qty_{adult.pk}_errors"' in response.content.decode()
    assert not Order.objects.exists()


def test_pages_take_a_fixed_number_of_queries_however_much_is_shown(
    client, attraction, ticket_types, tomorrow_slot, django_assert_max_num_queries
):
    # 14 days of 8 slots, 3 ticket types: no query per day, slot or ticket type.
    # Each page must also answer 200: an error page would pass any query budget.
    with django_assert_max_num_queries(8):
        attraction_page = client.get(reverse("shop:attraction", args=[attraction.slug]))
    assert attraction_page.status_code == 200
    with django_assert_max_num_queries(4):
        home = client.get("/")
    assert home.status_code == 200
    book(
        client,
        attraction,
        tomorrow_slot,
        lines={ticket_types["adult"]: 1, ticket_types["child"]: 1, ticket_types["family"]: 1},
    )
    order = Order.objects.get()
    with django_assert_max_num_queries(10):
        review = client.get(reverse("shop:review", args=[order.code]))
    assert review.status_code == 200
    with django_assert_max_num_queries(8):
        status = client.get(reverse("shop:status", args=[order.code]))
    assert status.status_code == 200


def test_an_expired_form_gets_a_friendly_page_and_changes_nothing(
    attraction, ticket_types, tomorrow_slot
):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        reverse("shop:tickets", args=[attraction.slug, tomorrow_slot.pk]),
        {f"qty_{ticket_types['adult'].pk}": 1, "buyer_name": "A", "email": "a@example.com"},
    )
    assert response.status_code == 403
    assert "This page has expired" in response.content.decode()
    assert not Order.objects.exists()


def test_the_site_pages_render_where_the_shop_is_not_mounted(settings):
    """The stand-alone sandbox shares these templates (its CSRF failures render 403_csrf.html)."""
    from django.test import Client

    settings.ROOT_URLCONF = "payments.sandbox.site_urls"
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/sandbox/wallet/trades/1/", {"action": "confirm"})
    assert response.status_code == 403
    assert "This page has expired" in response.content.decode()


def test_a_free_order_is_confirmed_without_alipay(client, attraction, tomorrow_slot):
    from decimal import Decimal

    from ticketing.models import TicketType

    member = TicketType.objects.create(
        attraction=attraction, code="member", name="Member", price=Decimal("0")
    )
    book(client, attraction, tomorrow_slot, lines={member: 2})
    order = Order.objects.get()
    body = client.get(reverse("shop:review", args=[order.code])).content.decode()
    assert "JPY 0" in body
    assert "Confirm free tickets" in body
    assert "Pay with Alipay" not in body
    paying = client.post(reverse("shop:pay", args=[order.code]), follow=True)
    assert paying.redirect_chain[-1][0] == reverse("shop:confirmation", args=[order.code])
    assert "Download e-tickets (PDF)" in paying.content.decode()
    pdf = client.get(reverse("shop:tickets_pdf", args=[order.code]))
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
