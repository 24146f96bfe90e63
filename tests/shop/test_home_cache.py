"""The home page's cards come from the cache (ticketing/shop_cache.py): a warm page reads no
database, and any change to the catalogue shows on the next page."""

from __future__ import annotations

from decimal import Decimal

import pytest

pytestmark = pytest.mark.django_db


def test_a_warm_home_page_reads_no_database(
    client, attraction, ticket_types, django_assert_num_queries
):
    assert client.get("/").status_code == 200  # warms the cache
    with django_assert_num_queries(0):
        response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Tokyo Garden" in body and "From JPY 1,000" in body


def test_changes_to_attractions_and_ticket_types_show_on_the_next_page(
    client, attraction, ticket_types
):
    assert "Tokyo Garden" in client.get("/").content.decode()

    attraction.name = "Tokyo Rose Garden"
    attraction.save()
    assert "Tokyo Rose Garden" in client.get("/").content.decode()

    child = ticket_types["child"]
    child.price = Decimal("800")
    child.save()
    assert "From JPY 800" in client.get("/").content.decode()

    child.delete()
    assert "From JPY 2,000" in client.get("/").content.decode()  # the adult ticket

    attraction.active = False
    attraction.save()
    body = client.get("/").content.decode()
    assert "Tokyo Rose Garden" not in body
    assert "No attractions are on sale right now" in body


def test_each_language_has_its_own_cards(client, attraction, ticket_types):
    assert "Tokyo Garden" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    body = client.get("/").content.decode()
    assert "东京庭园" in body and "JPY 1000 起" in body
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Tokyo Garden" in client.get("/").content.decode()
