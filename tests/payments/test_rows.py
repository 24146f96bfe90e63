"""rows.insert writes what Model.objects.create() would: every column, the model's defaults, each
field's conversion for the database, and the new id; rows.select reads back what a QuerySet
would, converted the same way."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction

from payments import rows
from payments.api.models import IdempotencyRecord
from ticketing.models import Order, OrderEvent, TicketType, TimeSlot


def test_insert_sets_the_pk_and_reads_back_as_the_orm_would_write(db, clock):
    now = clock.now()
    record = rows.insert(
        IdempotencyRecord(
            scope="s",
            key="k",
            fingerprint="f",
            state=IdempotencyRecord.State.DONE,
            response_status=201,
            response_body={"code": "ABC", "lines": [{"total": "1.50"}], "text": "故宫"},
            created_at=now,
            expires_at=now + timedelta(hours=24),
        )
    )
    assert record.pk is not None and not record._state.adding
    stored = IdempotencyRecord.objects.get(pk=record.pk)
    assert stored.response_body == {"code": "ABC", "lines": [{"total": "1.50"}], "text": "故宫"}
    assert (stored.created_at, stored.expires_at) == (now, now + timedelta(hours=24))
    assert (stored.state, stored.response_status) == ("done", 201)


def test_insert_keeps_the_models_defaults(booking, clock):
    order = rows.insert(
        Order(
            attraction=booking.attraction,
            slot=booking.slot(),
            buyer_name="Ada",
            email="ada@example.com",
            language="en",
            total=Decimal("160.00"),
            currency="CNY",
            admissions=2,
            hold_expires_at=clock.now() + timedelta(minutes=15),
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    stored = Order.objects.get(pk=order.pk)
    # Code and token come from the fields' defaults, as with Order.objects.create().
    assert len(stored.code) == 8 and stored.code == order.code and stored.token == order.token
    assert stored.total == Decimal("160.00") and stored.state == Order.State.HELD
    event = rows.insert(OrderEvent(order_id=order.pk, at=clock.now(), kind="k", detail={"n": 1}))
    assert OrderEvent.objects.get(pk=event.pk).detail == {"n": 1}


def test_select_reads_what_the_orm_reads_and_follows_one_foreign_key(
    booking, django_assert_num_queries
):
    slot = booking.slot(capacity=7)
    with django_assert_num_queries(1):
        (found,) = rows.select(
            TimeSlot, {"id": slot.pk}, join="attraction", join_where={"slug": "test-garden"}
        )
        assert found.attraction.slug == "test-garden"  # joined, not read again
    orm = TimeSlot.objects.select_related("attraction").get(pk=slot.pk)
    for field in TimeSlot._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(orm, field.attname), field.name
    assert found.starts_at.tzinfo is not None and found.is_open is True
    for field in type(orm.attraction)._meta.concrete_fields:
        assert getattr(found.attraction, field.attname) == getattr(orm.attraction, field.attname)
    assert rows.select(TimeSlot, {"id": slot.pk}, join="attraction", join_where={"slug": "x"}) == []

    on_sale = rows.select(TicketType, {"attraction_id": booking.attraction.pk, "active": True})
    expected = TicketType.objects.filter(attraction=booking.attraction, active=True)
    assert sorted((t.pk, t.price, t.admissions) for t in on_sale) == sorted(
        (t.pk, t.price, t.admissions) for t in expected
    )
    assert all(isinstance(t.price, Decimal) for t in on_sale)


def test_insert_skipping_a_conflict_answers_none_and_leaves_the_transaction_usable(booking, clock):
    taken = booking.order(booking.slot())
    twin = Order(
        code=taken.code,
        attraction=booking.attraction,
        slot=taken.slot,
        buyer_name="Twin",
        email="twin@example.com",
        language="en",
        total=Decimal("1"),
        currency="CNY",
        admissions=1,
        hold_expires_at=clock.now(),
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    with transaction.atomic():
        assert rows.insert(twin, skip_conflict=True) is None and twin.pk is None
        twin.code = "ZZZZZZZZ"
        assert rows.insert(twin, skip_conflict=True) is twin and twin.pk is not None
    assert Order.objects.filter(code__in=[taken.code, "ZZZZZZZZ"]).count() == 2
