"""The payments admin: the needs-attention queue, exchanges beside payments, actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from payments.models import Payment, Refund

from .helpers import INSUFFICIENT, SUCCESS, cancel_system_error, pay

pytestmark = pytest.mark.django_db(transaction=True)


def test_needs_attention_filter_and_retry_action(sandbox_clock, admin_client, settings):
    settings.PAYMENTS = {**settings.PAYMENTS, "CANCEL_MAX_ATTEMPTS": 2}
    stuck = pay(cancel_system_error(3), deadline_seconds=12)
    pay(SUCCESS)
    assert stuck.state == Payment.State.NEEDS_ATTENTION
    url = reverse("admin:payments_payment_changelist")
    page = admin_client.get(url, {"state__exact": "needs_attention"})
    assert page.status_code == 200
    assert stuck.partner_trans_id in page.content.decode()
    assert page.context["cl"].result_count == 1

    detail = admin_client.get(reverse("admin:payments_payment_change", args=[stuck.pk]))
    body = detail.content.decode()
    assert detail.status_code == 200
    assert "alipay.acquire.cancel" in body and "SYSTEM_ERROR" in body
    assert "2800**********0903" in body and "280000000000000903" not in body

    answer = admin_client.post(
        url, {"action": "retry_attention", "_selected_action": [stuck.pk]}, follow=True
    )
    assert answer.status_code == 200
    stuck.refresh_from_db()
    assert stuck.state == Payment.State.CANCELLED  # the sandbox's 3rd cancel succeeds


def test_refund_action_and_error_messages(sandbox_clock, admin_client):
    paid = pay(SUCCESS)
    failed = pay(INSUFFICIENT)
    url = reverse("admin:payments_payment_changelist")
    answer = admin_client.post(
        url, {"action": "refund_in_full", "_selected_action": [paid.pk, failed.pk]}, follow=True
    )
    text = answer.content.decode()
    assert "1 refund requested." in text
    assert "cannot be refunded" in text
    paid.refresh_from_db()
    assert paid.state == Payment.State.REFUNDED
    assert Refund.objects.get(payment=paid).state == Refund.State.SUCCEEDED
    refund_page = admin_client.get(reverse("admin:payments_refund_changelist"))
    assert refund_page.status_code == 200
