"""Attractions have a Chinese address, shown wherever the Chinese name is: pages, PDFs, e-mails."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from ticketing.demo import DEMO_ATTRACTIONS
from ticketing.etickets import delivery
from ticketing.etickets.faces import order_faces

from .helpers import Booking, make_attraction, paid_order

ENGLISH = "1 Garden Road, Suzhou"
CHINESE = "苏州市园林路1号"


@pytest.fixture
def garden(db) -> Booking:
    return Booking(make_attraction(address=ENGLISH, address_zh=CHINESE))


@pytest.mark.parametrize(("language", "address"), [("en", ENGLISH), ("zh-hans", CHINESE)])
def test_the_shop_shows_the_address_in_the_pages_language(client, garden, language, address):
    garden.slot()
    other = CHINESE if address == ENGLISH else ENGLISH
    for url in ("/", reverse("shop:attraction", args=[garden.attraction.slug])):
        body = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert address in body and other not in body


@pytest.mark.parametrize(("language", "address"), [("en", ENGLISH), ("zh-hans", CHINESE)])
def test_the_order_page_pdf_and_email_follow_the_language(client, garden, language, address):
    order = paid_order(garden, language=language, adult=1)
    page = client.get(
        reverse("shop:confirmation", args=[order.code]),
        {"token": order.token},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert address in page.content.decode()
    assert order_faces(order)[0].address == address
    delivery.send_order_tickets(order.pk)
    assert address in mail.outbox[0].body


def test_without_a_chinese_address_the_english_one_shows(client, db):
    garden = Booking(make_attraction(address=ENGLISH))
    order = paid_order(garden, language="zh-hans", adult=1)
    assert order_faces(order)[0].address == ENGLISH


def test_the_admin_edits_the_chinese_address(admin_client, garden):
    url = f"/admin/ticketing/attraction/{garden.attraction.pk}/change/"
    assert 'name="address_zh"' in admin_client.get(url).content.decode()


def test_every_demo_attraction_has_a_chinese_address():
    assert all(spec["address_zh"] for spec in DEMO_ATTRACTIONS)
