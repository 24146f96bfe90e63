"""A payment's query count agrees with the trade queries its page lists, whoever sent them and
whatever they answered (a page once read "Query count: 0" beside two listed queries)."""

from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.urls import reverse

from payments import lifecycle
from payments.alipay.services import QUERY
from payments.models import GatewayExchange, Payment
from payments.recovering import check_trade

from .helpers import exchanges, pay, pin_confirm

pytestmark = pytest.mark.django_db(transaction=True)


def _page_figures(client, payment: Payment) -> tuple[int, int]:
    """(the query count the page shows, the trade queries it lists)."""
    page = client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    shown = re.search(r'field-query_count.*?<div class="readonly">\s*(\d+)\s*</div>', body, re.S)
    listed = re.findall(r'<td class="field-service_name">\s*<p>(.*?)</p>', body)
    return int(shown.group(1)), listed.count("query")


def test_every_query_counts_the_last_the_notifications_and_staffs_included(
    sandbox_clock, admin_client
):
    # The buyer confirms after 7 s: the poller's queries find it waiting, then paid (the last,
    # which ends the payment, was never counted before).
    payment = pay(pin_confirm(7))
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    by_poller = len(exchanges(payment, QUERY))
    assert by_poller >= 2
    assert payment.query_count == by_poller
    # A notification's check and a staff check of the trade are queries too.
    lifecycle.refresh_from_gateway(payment, generation=None, actor="system:notify")
    check_trade(payment.partner_trans_id, actor="admin:staff")
    payment.refresh_from_db()
    assert payment.query_count == by_poller + 2 == len(exchanges(payment, QUERY))
    assert _page_figures(admin_client, payment) == (by_poller + 2, by_poller + 2)
    # A refund and its exchanges are listed beside the payment but are no trade queries.
    lifecycle.request_refund(payment, amount=payment.amount, reason="test", actor="admin:staff")
    assert _page_figures(admin_client, payment) == (by_poller + 2, by_poller + 2)


def test_the_migration_recounts_the_queries_already_recorded(sandbox_clock):
    payment = pay(pin_confirm(4))
    recorded = GatewayExchange.objects.filter(payment=payment, service=QUERY).count()
    assert recorded >= 1
    Payment.objects.filter(pk=payment.pk).update(query_count=0)
    migration = importlib.import_module("payments.migrations.0009_query_count_from_exchanges")
    migration.recount(django_apps, type("Editor", (), {"connection": connection})())
    payment.refresh_from_db()
    assert payment.query_count == recorded
