"""Migration 0012 links the payments ticketing started before the link existed, and only those."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from payments import clock
from payments.models import Payment, PaymentEvent
from ticketing.models import Order, OrderPayment

link = importlib.import_module("ticketing.migrations.0014_link_existing_payments").link

pytestmark = pytest.mark.django_db


def _payment(n: int, reference: str, actor: str) -> Payment:
    payment = Payment.objects.create(
        partner_trans_id=f"MIGRATION{n}",
        reference=reference,
        amount=Decimal("80.00"),
        currency="CNY",
        description="before the link",
        channel=Payment.Channel.QR,
    )
    PaymentEvent.objects.create(
        payment=payment, from_state="", to_state=Payment.State.CREATED, actor=actor, at=clock.now()
    )
    return payment


def test_existing_payments_are_linked_but_never_a_partner_api_one(booking):
    order = booking.order(booking.slot(), adult=1)
    reference = f"order:{order.code}"
    current = _payment(1, reference, "ticketing")
    older = _payment(2, reference, "ticketing")
    by_terminal = _payment(3, reference, "terminal:S1/R1")
    stray = _payment(4, "order:NOSUCHCODE", "ticketing")
    Order.objects.filter(pk=order.pk).update(payment=current)
    link(apps, None)
    linked = dict(OrderPayment.objects.values_list("payment_id", "order_id"))
    assert linked == {current.pk: order.pk, older.pk: order.pk}
    assert by_terminal.pk not in linked and stray.pk not in linked
    link(apps, None)  # running it again links nothing twice
    assert OrderPayment.objects.count() == 2
