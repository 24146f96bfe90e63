"""Every admin page, as a new administrator meets it: the site says whose it is, every registered
model's list and page open for a superuser and for staff who may only view it, a page where
nothing can be changed offers no SAVE button, and times say which zone they are in.

One row of every registered model is made the real way where there is one (payments in the
sandbox over HTTP, a reconciliation import, partner-API terminals, a box-office shift); a model
registered later without a row here fails the coverage test, so no page goes unchecked.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django_q.models import OrmQ, Schedule, Task
from rest_framework.test import APIClient

from payments import lifecycle
from payments.api.terminals import get_or_create_terminal, issue_token
from payments.reconciliation.runs import run
from payments.reconciliation.sources import uploaded
from payments.sandbox.models import SandboxNotification, SandboxRefund, SandboxTrade
from tests.payments.helpers import SUCCESS, pay
from tests.reconciliation.helpers import transaction_file
from tests.staff import signed_in, staff_with
from tests.ticketing.helpers import Booking, make_attraction, paid_order
from ticketing.counter import shifts
from ticketing.models import NeedsAttention, Order, SalesReport, Till
from ticketing.orders import slot_cancelling

pytestmark = pytest.mark.django_db(transaction=True)

SAVE_BUTTONS = re.compile(r'name="(_save|_continue|_addanother|_saveasnew)"')
# Models whose admin is a page of its own rather than rows (the sales report, needs attention).
NO_ROWS = {SalesReport, NeedsAttention}


def _registered():
    return sorted(
        (pair for pair in admin.site._registry.items() if pair[0] not in NO_ROWS),
        key=lambda pair: pair[0]._meta.label,
    )


@pytest.fixture
def world(alipay_gateway, clock, mailoutbox, settings):
    """One row of every registered model, each made the way the site makes it."""
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    paid = pay(SUCCESS, "30.00", "CNY")
    lifecycle.request_refund(paid, amount=paid.amount, reason="admin pages", actor="test")
    assert SandboxTrade.objects.exists() and SandboxRefund.objects.exists()
    if not SandboxNotification.objects.exists():
        SandboxNotification.objects.create(
            trade=SandboxTrade.objects.first(),
            notify_id=uuid.uuid4().hex,
            url="http://127.0.0.1/payments/alipay/notify/",
            payload={},
            created_at=clock.now(),
        )
    terminal, _created = get_or_create_terminal("S1", "R1")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(terminal)}")
    sold = api.post(
        "/api/v1/payments/",
        {"amount": "12.00", "currency": "CNY", "description": "Shop", "buyer_code": SUCCESS},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert sold.status_code == 201
    data = io.BytesIO(transaction_file().encode())
    data.name = "2088000000000001_transactions_20261127.csv"
    run(uploaded([data]), trigger="upload", actor="staff:test")
    booking = Booking(make_attraction(slug="pages", timezone="Asia/Shanghai"))
    order = paid_order(booking, adult=1)
    slot_cancelling.start(booking.slot(), actor="admin:test", reason="storm")
    shifts.open_shift(
        till=Till.objects.create(name="Front"),
        cashier=staff_with(),
        currency="CNY",
        opening_float="100.00",
        actor="test",
    )
    Group.objects.get_or_create(name="Support")
    now = clock.now()
    for success in (True, False):
        Task.objects.create(
            id=uuid.uuid4().hex,
            name=f"task-{success}",
            func="ticketing.tasks.sweep",
            started=now,
            stopped=now,
            success=success,
        )
    OrmQ.objects.create(key="default", payload="not a package", lock=now)
    # Migrations make the schedules, but a transactional test empties the tables after itself.
    Schedule.objects.get_or_create(name="admin pages", func="ticketing.tasks.sweep")
    return {"order": order, "payment": paid}


def _first(model):
    return model._default_manager.order_by("pk").first()


def _change_url(model, obj) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def _changelist_url(model) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")


def _editable(response) -> bool:
    """Whether the change form has a field one could change (on the page or in an inline)."""
    if any(not field.is_hidden for field in response.context["adminform"].form):
        return True
    return any(
        (inline.has_add_permission or inline.has_change_permission)
        and any(
            not form[name].is_hidden and name not in ("id", "DELETE")
            for form in inline.formset.forms
            for name in form.fields
        )
        for inline in response.context["inline_admin_formsets"]
    )


def test_every_registered_model_has_a_row_here(world):
    missing = [model._meta.label for model, _admin in _registered() if _first(model) is None]
    assert not missing, f"make a row of these in the world fixture: {missing}"


def test_a_page_nothing_can_be_changed_on_offers_no_save_button(world, admin_user):
    client = signed_in(admin_user)
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model, model_admin in _registered():
        obj = _first(model)
        assert client.get(_changelist_url(model)).status_code == 200, model._meta.label
        page = client.get(_change_url(model, obj))
        assert page.status_code == 200, model._meta.label
        buttons = SAVE_BUTTONS.findall(page.content.decode())
        if not model_admin.has_change_permission(request, obj):
            assert not buttons, f"{model._meta.label}: read-only page offers {buttons}"
            assert "closelink" in page.content.decode(), model._meta.label
        if buttons:
            assert _editable(page), f"{model._meta.label}: SAVE beside no changeable field"


def test_staff_who_may_only_view_see_every_page_without_save_buttons(world):
    for model, _model_admin in _registered():
        opts = model._meta
        viewer = signed_in(staff_with(f"{opts.app_label}.view_{opts.model_name}"))
        assert viewer.get(_changelist_url(model)).status_code == 200, opts.label
        page = viewer.get(_change_url(model, _first(model)))
        assert page.status_code == 200, opts.label
        assert not SAVE_BUTTONS.findall(page.content.decode()), opts.label
        assert "closelink" in page.content.decode(), opts.label


def test_the_site_is_branded_and_explains_itself_in_english_and_chinese(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "<title>Tickets, payments and reports | Entrada admin</title>" in page
    assert ">Entrada administration</a>" in page
    assert "only through the actions of their lists" in page and "(UTC)" in page
    with translation.override(None):  # the request leaves its language active in this thread
        chinese = admin_client.get("/admin/", headers={"accept-language": "zh-hans"})
    text = chinese.content.decode()
    assert "Entrada 管理后台" in text and "门票、支付与报表" in text
    assert "使用站点时区（UTC）" in text


def test_drfs_user_tokens_are_not_in_the_admin(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "authtoken" not in page and "Auth Token" not in page
    # The partner API's own terminal tokens are.
    assert reverse("admin:partner_api_terminaltoken_changelist") in page


def test_anonymous_visitors_of_any_admin_page_are_sent_to_sign_in(db):
    for model, _model_admin in _registered():
        answer = Client().get(_changelist_url(model))
        assert answer.status_code == 302 and "/admin/login/" in answer["Location"]


def test_gateway_exchanges_read_to_the_second_with_their_zone(world, admin_client):
    page = admin_client.get(_change_url(type(world["payment"]), world["payment"]))
    body = page.content.decode()
    times = re.findall(r'<td class="field-created_at">\s*<p>(.*?)</p>', body)
    assert len(times) >= 2
    for shown in times:
        assert re.fullmatch(r"\w{3,4}\.? \d{1,2}, \d{4}, \d{2}:\d{2}:\d{2} UTC", shown), shown


def test_an_orders_page_shows_its_times_in_the_attractions_zone(world, admin_client):
    order = world["order"]
    page = admin_client.get(_change_url(Order, order)).content.decode()
    paid = order.paid_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert paid.strftime("%H:%M:%S CST") in page
    # Lists and other pages stay in the site's zone, and say so.
    listed = admin_client.get(_changelist_url(Order)).content.decode()
    assert "CST" in listed  # the list's created column is the attraction's, named
    refunds = admin_client.get(reverse("admin:payments_refund_changelist")).content.decode()
    assert re.search(r"\d{2}:\d{2}:\d{2} UTC", refunds)
