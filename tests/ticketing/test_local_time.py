"""One date and time format everywhere: localized (English and Chinese), in the attraction's zone,
with the zone's abbreviation or UTC offset; used by the shop, the gate, the box office, the admin,
the e-tickets and the e-mails alike."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.template import Context, Template
from django.utils import translation

from ticketing import local_time
from ticketing.etickets import delivery
from ticketing.etickets.faces import order_faces

from .helpers import paid_order

# 24 Dec 2026 02:00 UTC: 10:00 in Shanghai, 11:00 in Tokyo, 07:30 in Kolkata, 23:00 the day
# before in São Paulo (a zone the database names only by its offset, "-03").
AT = dt.datetime(2026, 12, 24, 2, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "english", "chinese"),
    [
        (
            "Asia/Shanghai",
            "Thursday, Dec. 24, 2026, 10:00 CST",
            "2026年12月24日 星期四 10:00 CST",
        ),
        ("Asia/Tokyo", "Thursday, Dec. 24, 2026, 11:00 JST", "2026年12月24日 星期四 11:00 JST"),
        (
            "America/Sao_Paulo",
            "Wednesday, Dec. 23, 2026, 23:00 UTC-03:00",
            "2026年12月23日 星期三 23:00 UTC-03:00",
        ),
        ("Asia/Kolkata", "Thursday, Dec. 24, 2026, 07:30 IST", "2026年12月24日 星期四 07:30 IST"),
    ],
)
def test_a_moment_reads_the_same_way_in_each_language(zone, english, chinese):
    with translation.override("en"):
        assert local_time.format_datetime(AT, zone) == english
    with translation.override("zh-hans"):
        assert local_time.format_datetime(AT, zone) == chinese


def test_a_slot_has_its_day_times_and_zone():
    ends = AT + dt.timedelta(hours=1)
    with translation.override("en"):
        assert local_time.format_slot(AT, ends, "Asia/Tokyo") == (
            "Thursday, Dec. 24, 2026, 11:00–12:00 JST"
        )
    with translation.override("zh-hans"):
        assert local_time.format_slot(AT, ends, "Asia/Tokyo") == (
            "2026年12月24日 星期四 11:00–12:00 JST"
        )


def test_the_template_tags_print_the_same_format():
    template = Template(
        "{% load local_time %}{{ at|local_datetime:'Asia/Tokyo' }}|{{ at|local_date:'Asia/Tokyo' }}"
        "|{% time_range at end 'Asia/Tokyo' %}"
    )
    with translation.override("en"):
        text = template.render(Context({"at": AT, "end": AT + dt.timedelta(minutes=30)}))
    assert text == "Thursday, Dec. 24, 2026, 11:00 JST|Thursday, Dec. 24, 2026|11:00–11:30"


def test_the_tickets_email_and_pdf_use_it(booking):
    order = paid_order(booking, adult=1)
    slot = order.slot
    delivery.send_order_tickets(order.pk)
    with translation.override("en"):
        expected = local_time.format_slot(slot.starts_at, slot.ends_at, "Asia/Shanghai")
        day = local_time.format_date(slot.starts_at, "Asia/Shanghai")
    assert expected.endswith(" CST")
    assert f"Test Garden: {expected}" in mail.outbox[0].body
    face = order_faces(order)[0]
    assert face.date_text == day
    assert face.timezone_name == "CST (Asia/Shanghai)"


def test_the_admin_lists_slots_and_orders_in_the_attractions_time(admin_client, booking):
    order = paid_order(booking, adult=1)
    slot = order.slot
    with translation.override("en"):
        starts = local_time.format_datetime(slot.starts_at, "Asia/Shanghai")
        created = local_time.format_datetime(order.created_at, "Asia/Shanghai")
    slots = admin_client.get("/admin/ticketing/timeslot/", HTTP_ACCEPT_LANGUAGE="en")
    assert slots.status_code == 200
    assert starts in slots.content.decode()
    orders = admin_client.get("/admin/ticketing/order/", HTTP_ACCEPT_LANGUAGE="en")
    body = orders.content.decode()
    assert created in body and f"Test Garden {starts}" in body  # the slot column
