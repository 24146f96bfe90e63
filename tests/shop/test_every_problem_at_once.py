"""The tickets page, the booking service and the booking API name every problem at once.

A buyer who sends the form empty is told about the name, the e-mail address and the tickets
together, not one after the other; the service and the API keep their error shape, with all
fields in it.
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from ticketing import orders
from ticketing.exceptions import InvalidBooking, InvalidBuyer, InvalidQuantity
from ticketing.models import Order

pytestmark = pytest.mark.django_db


def post(client, attraction, slot, data, language="en"):
    return client.post(
        reverse("shop:tickets", args=[attraction.slug, slot.pk]),
        data,
        HTTP_ACCEPT_LANGUAGE=language,
    )


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("en", ["This field is required.", "Choose at least one ticket."]),
        ("zh-hans", ["该字段是必填项。", "请至少选择一张门票。"]),
    ],
)
def test_an_empty_form_shows_the_name_the_email_and_the_tickets_together(
    client, attraction, ticket_types, tomorrow_slot, language, texts
):
    response = post(client, attraction, tomorrow_slot, {}, language)
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"buyer_name", "email", "__all__"}
    body = response.content.decode()
    assert body.count(texts[0]) == 2  # next to the name and next to the e-mail
    assert texts[1] in body
    assert not Order.objects.exists()


def test_a_wrong_email_and_no_tickets_are_both_flagged(
    client, attraction, ticket_types, tomorrow_slot
):
    data = {"buyer_name": "Mei", "email": "not-an-address", f"qty_{ticket_types['adult'].pk}": 0}
    form = post(client, attraction, tomorrow_slot, data).context["form"]
    assert set(form.errors) == {"email", "__all__"}
    assert form.non_field_errors() == ["Choose at least one ticket."]


def test_a_quantity_that_is_not_a_number_is_its_own_error_not_also_no_tickets(
    client, attraction, ticket_types, tomorrow_slot
):
    data = {"buyer_name": "", "email": "", f"qty_{ticket_types['adult'].pk}": "many"}
    form = post(client, attraction, tomorrow_slot, data).context["form"]
    assert set(form.errors) == {"buyer_name", "email", f"qty_{ticket_types['adult'].pk}"}


def test_the_service_reports_the_buyer_and_the_quantities_together(booking):
    slot = booking.slot()
    with pytest.raises(InvalidBooking) as caught:
        orders.create_order(
            attraction=booking.attraction,
            slot=slot,
            quantities={},
            buyer_name=" ",
            email="nope",
            language="fr",
        )
    body = caught.value.as_dict()
    assert body["code"] == "invalid_booking"
    assert set(body["fields"]) == {"buyer_name", "email", "language", "quantities"}
    assert body["fields"]["quantities"] == ["Choose at least one ticket."]
    slot.refresh_from_db()
    assert slot.held == 0


def test_one_kind_of_problem_keeps_its_own_code(booking):
    slot = booking.slot()
    book = {"attraction": booking.attraction, "slot": slot, "language": "en"}
    with pytest.raises(InvalidBuyer):
        orders.create_order(
            **book, quantities=booking.quantities(adult=1), buyer_name="", email="a@b.cn"
        )
    with pytest.raises(InvalidQuantity):
        orders.create_order(**book, quantities={}, buyer_name="Ada", email="a@b.cn")


def test_the_api_answers_every_field_in_its_error_shape(booking):
    slot = booking.slot()
    body = {
        "attraction": booking.attraction.slug,
        "slot": slot.pk,
        "quantities": [{"ticket_type": booking.types["adult"].id, "quantity": 0}],
        "buyer_name": "Ada",
        "email": "nope",
    }
    with translation.override("en"):
        response = APIClient().post(
            "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
        )
    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"code", "message", "fields"}
    assert set(error["fields"]) == {"email", "quantities"}
    assert error["fields"]["quantities"] == ["Free tickets need an accompanying paid ticket."]
    assert not Order.objects.exists()
