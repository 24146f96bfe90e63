"""Reconciliation in the admin: upload, the reports and their CSV, the chart, the differences
list and its actions, each page and action with and without its permission."""

from __future__ import annotations

import csv
import importlib
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments.models import Payment, Refund
from payments.reconciliation.models import (
    Difference,
    DifferenceEvent,
    FileLine,
    ReconciliationFile,
)
from payments.reconciliation.runs import run
from payments.reconciliation.sources import uploaded
from tests.staff import codenames, messages_of, offered_actions, signed_in, staff_with

from .helpers import DAY, NEXT_MORNING, PARTNER, finance_member, simple_day, transaction_file

UPLOAD = reverse("admin:reconciliation_reconciliationfile_add")
REPORT = reverse("admin:reconciliation_day_report")
RANGE = reverse("admin:reconciliation_range_report")
DIFFERENCES = reverse("admin:reconciliation_difference_changelist")
VIEW_ONLY = (
    "reconciliation.view_reconciliationfile",
    "reconciliation.view_difference",
    "reconciliation.view_fileline",
)
ALL_ACTIONS = {
    "check_with_alipay",
    "refund_buyer",
    "issue_tickets",
    "resolve_with_note",
    "add_note",
}
TX_NAME = f"{PARTNER}_transactions_20261127.csv"


def upload_file(text: str, name: str = TX_NAME) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def imported_day():
    """The day's transaction file imported as an upload: Entrada knows none of its trades."""
    data = io.BytesIO(transaction_file().encode())
    data.name = TX_NAME
    return run(uploaded([data]), trigger="upload", actor="staff:auditor")


# --- permissions of the Finance group ---------------------------------------------------------


@pytest.mark.django_db
def test_the_finance_group_from_the_migrations_may_import_report_and_act():
    migration = "payments.reconciliation.migrations.0003_finance_permissions"
    granted = importlib.import_module(migration).PERMISSIONS
    perms = codenames(Group.objects.get(name="Finance"))
    assert {p for p in perms if p.startswith("reconciliation.")} == {
        f"{label}.{codename}" for label, codename in granted
    }
    assert {
        "reconciliation.import_reconciliation_file",
        "reconciliation.view_reconciliation_report",
        "reconciliation.check_difference_with_alipay",
        "reconciliation.refund_difference",
        "reconciliation.issue_difference_tickets",
        "reconciliation.resolve_difference",
    } <= perms
    # payments' own Finance permissions are kept
    assert "payments.refund_payment" in perms


# --- upload ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_uploading_a_transaction_file_imports_it_and_shows_the_day_report():
    client = signed_in(
        staff_with(
            "reconciliation.import_reconciliation_file", "reconciliation.view_reconciliation_report"
        )
    )
    answer = client.post(UPLOAD, {"transaction_file": upload_file(transaction_file())}, follow=True)
    assert answer.status_code == 200
    assert answer.redirect_chain[-1][0] == f"{REPORT}?day=2026-11-27"
    assert any("3 lines for 2026-11-27" in m for m in messages_of(answer))
    [imported] = ReconciliationFile.objects.all()
    assert (imported.source, imported.imported_by) == (
        "upload",
        f"staff:{answer.wsgi_request.user}",
    )
    assert imported.line_count == 3


@pytest.mark.django_db
def test_a_refused_upload_names_the_line_and_imports_nothing():
    client = signed_in(staff_with("reconciliation.import_reconciliation_file"))
    answer = client.post(UPLOAD, {"transaction_file": upload_file(transaction_file(count=9))})
    assert answer.status_code == 422
    body = answer.content.decode()
    assert "nothing of it was imported" in body
    assert "Line 2: Total_count says 9 lines but the file has 3" in body
    assert ReconciliationFile.objects.count() == 0 and FileLine.objects.count() == 0


@pytest.mark.django_db
def test_uploading_nothing_asks_for_a_file():
    client = signed_in(staff_with("reconciliation.import_reconciliation_file"))
    answer = client.post(UPLOAD, {})
    assert answer.status_code == 400
    assert "Choose a transaction file, a settlement file, or both." in answer.content.decode()


@pytest.mark.django_db
def test_staff_without_the_import_permission_cannot_upload():
    client = signed_in(staff_with(*VIEW_ONLY))
    assert client.get(UPLOAD).status_code == 403
    answer = client.post(UPLOAD, {"transaction_file": upload_file(transaction_file())})
    assert answer.status_code == 403
    assert ReconciliationFile.objects.count() == 0
    changelist = client.get(reverse("admin:reconciliation_reconciliationfile_changelist"))
    assert UPLOAD not in changelist.content.decode()


# --- reports -----------------------------------------------------------------------------------


@pytest.fixture
def reporter(db):
    return signed_in(staff_with("reconciliation.view_reconciliation_report"))


@pytest.mark.django_db
def test_the_day_report_shows_each_currency_the_match_share_and_open_differences(reporter):
    imported_day()
    page = reporter.get(REPORT, {"day": "2026-11-27"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Beijing day 2026-11-27" in body
    [row] = page.context["rows"]
    assert row[:5] == ["USD", 2, Decimal("130.00"), 1, Decimal("40.00")]
    open_kinds = {kind: n for _label, kind, n in page.context["open_kinds"]}
    assert sum(open_kinds.values()) == Difference.objects.filter(is_open=True, day=DAY).count()
    assert open_kinds  # Entrada knows none of these trades
    assert "matched: 0.00% of them" in body


@pytest.mark.django_db
def test_the_day_report_speaks_chinese_in_its_column_headers(reporter):
    imported_day()
    reporter.cookies["django_language"] = "zh-hans"
    body = reporter.get(REPORT, {"day": "2026-11-27"}).content.decode()
    assert '<th scope="col">手续费</th>' in body
    assert '<th scope="col">已结算（人民币）</th>' in body


@pytest.mark.django_db
def test_the_day_report_exports_csv(reporter):
    imported_day()
    answer = reporter.get(REPORT, {"day": "2026-11-27", "format": "csv"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert "reconciliation-2026-11-27.csv" in answer["Content-Disposition"]
    [row] = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert (row["day"], row["currency"], row["payments_count"], row["payments_gross"]) == (
        "2026-11-27",
        "USD",
        "2",
        "130.00",
    )
    assert (row["refunds_count"], row["refunds_gross"], row["fees"]) == ("1", "40.00", "1.62")
    assert row["lines"] == "3" and row["open_differences"] == str(
        Difference.objects.filter(is_open=True, day=DAY).count()
    )


@pytest.mark.django_db
def test_the_chart_is_an_accessible_svg_of_thirty_days(reporter):
    imported_day()
    page = reporter.get(REPORT, {"day": "2026-11-27"})
    body = page.content.decode()
    assert 'role="img"' in body and 'aria-labelledby="chart-usd-title chart-usd-desc"' in body
    assert '<title id="chart-usd-title">Daily net and fees in USD, 2026-10-29 to 2026-11-27' in body
    assert '<desc id="chart-usd-desc">' in body
    [svg] = [svg for _currency, svg in page.context["charts"]]
    net_points = svg.split('class="net"')[1].split('points="')[1].split('"')[0].split()
    assert len(net_points) == 30


@pytest.mark.django_db
def test_the_range_report_sums_days_weeks_and_months_and_exports_csv(reporter):
    imported_day()
    for period, first in (("day", "2026-11-27"), ("week", "2026-11-23"), ("month", "2026-11-01")):
        params = {"start": "2026-11-01", "end": "2026-11-30", "period": period}
        page = reporter.get(RANGE, params)
        assert page.status_code == 200
        [row] = page.context["rows"]
        assert str(row[0]) == first and row[1] == "USD"
        answer = reporter.get(RANGE, {**params, "format": "csv"})
        rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
        assert [(r["period"], r["currency"], r["payments_gross"]) for r in rows] == [
            (first, "USD", "130.00")
        ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "params", "message"),
    [
        (REPORT, {"day": "yesterday"}, "Enter a valid date."),
        (REPORT, {"day": "2026-13-45"}, "Enter a valid date."),
        (RANGE, {"start": "2026-11-30", "end": "2026-11-01"}, "The end comes before the start."),
        (RANGE, {"start": "2020-01-01", "end": "2026-11-01"}, "Choose at most 366 days."),
        (RANGE, {"start": "2026-11-01", "end": "2026-11-30", "period": "year"}, "valid choice"),
        (RANGE, {"start": "x", "end": "2026-11-30"}, "Enter a valid date."),
    ],
)
def test_bad_report_parameters_get_400_and_a_clear_message(reporter, url, params, message):
    for extra in ({}, {"format": "csv"}):
        answer = reporter.get(url, {**params, **extra})
        assert answer.status_code == 400
        assert message in answer.content.decode()


@pytest.mark.django_db
def test_staff_without_the_report_permission_see_no_report():
    client = signed_in(staff_with(*VIEW_ONLY))
    assert client.get(REPORT).status_code == 403
    assert client.get(RANGE).status_code == 403
    assert client.get(REPORT, {"day": "2026-11-27", "format": "csv"}).status_code == 403


# --- the admin index ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_index_shows_the_last_run_and_open_critical_differences(reporter):
    report = imported_day()
    critical = Difference.objects.filter(is_open=True, severity="critical").count()
    assert critical
    body = reporter.get(reverse("admin:index")).content.decode()
    assert f"Last run: {report.run.finished_at:%Y-%m-%d %H:%M}" in body
    assert f"{critical} open critical difference" in body


@pytest.mark.django_db
def test_the_admin_index_says_nothing_of_reconciliation_to_other_staff():
    client = signed_in(staff_with("payments.view_payment"))
    body = client.get(reverse("admin:index")).content.decode()
    assert 'id="recon-status"' not in body


# --- the differences list ----------------------------------------------------------------------


def _payment(n: int) -> Payment:
    return Payment.objects.create(
        partner_trans_id=f"P{n}",
        amount=Decimal("10.00"),
        currency="USD",
        description="test",
        channel=Payment.Channel.QR,
        state=Payment.State.PAID,
    )


def _differences(count: int, start: int = 0) -> None:
    """Differences each with a payment, a refund and a file line, to count queries against."""
    imported = imported_day() if not FileLine.objects.exists() else None
    del imported
    line = FileLine.objects.first()
    for n in range(start, start + count):
        payment = _payment(n)
        refund = Refund.objects.create(
            payment=payment, partner_refund_id=f"R{n}", amount=Decimal("1.00")
        )
        Difference.objects.create(
            day=DAY,
            kind="amount_mismatch",
            severity="high",
            partner_transaction_id=f"X{n}",
            line_type="PAYMENT",
            currency="USD",
            payment=payment,
            refund=refund,
            line=line,
        )


@pytest.mark.django_db
def test_the_differences_list_links_each_difference_and_makes_no_query_per_row():
    client = signed_in(staff_with(*VIEW_ONLY))
    _differences(2)
    client.get(DIFFERENCES)
    with CaptureQueriesContext(connection) as few:
        page = client.get(DIFFERENCES)
    assert page.status_code == 200
    _differences(8, start=2)
    with CaptureQueriesContext(connection) as many:
        page = client.get(DIFFERENCES)
    assert len(many) == len(few)
    body = page.content.decode()
    diff = Difference.objects.get(partner_transaction_id="X3")
    assert reverse("admin:payments_payment_change", args=[diff.payment_id]) in body
    assert reverse("admin:payments_refund_change", args=[diff.refund_id]) in body
    assert reverse("admin:reconciliation_fileline_change", args=[diff.line_id]) in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"kind__exact": "missing_here"},
        {"severity__exact": "critical"},
        {"day": "2026-11-27"},
        {"is_open__exact": "1"},
        {"is_open__exact": "0"},
    ],
)
def test_the_differences_list_filters(params):
    client = signed_in(staff_with(*VIEW_ONLY))
    imported_day()
    page = client.get(DIFFERENCES, params)
    assert page.status_code == 200
    lookup = {k.removesuffix("__exact"): v for k, v in params.items()}
    if "is_open" in lookup:
        lookup["is_open"] = lookup["is_open"] == "1"
    assert page.context["cl"].result_count == Difference.objects.filter(**lookup).count()


@pytest.mark.django_db
def test_a_bad_filter_on_the_differences_list_is_not_an_error():
    client = signed_in(staff_with(*VIEW_ONLY))
    for params in ({"day": "not-a-day"}, {"severity__exact": "x"}, {"nonsense": "1"}):
        assert client.get(DIFFERENCES, params).status_code in (200, 302)


# --- actions and their permissions -------------------------------------------------------------


@pytest.mark.django_db
def test_view_only_staff_are_offered_no_action_and_a_posted_one_is_refused():
    user = staff_with(*VIEW_ONLY)
    client = signed_in(user)
    imported_day()
    diff = Difference.objects.filter(is_open=True).first()
    assert offered_actions(client, DIFFERENCES) == set()
    for action in ALL_ACTIONS:
        client.post(
            DIFFERENCES,
            {"action": action, "_selected_action": [diff.pk], "confirmed": "yes", "note": "sneaky"},
        )
    diff.refresh_from_db()
    assert diff.is_open and diff.note == ""
    assert not DifferenceEvent.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_each_action_is_offered_only_with_its_own_permission():
    for perm, action in (
        ("check_difference_with_alipay", {"check_with_alipay"}),
        ("refund_difference", {"refund_buyer"}),
        ("issue_difference_tickets", {"issue_tickets"}),
        ("resolve_difference", {"resolve_with_note", "add_note"}),
    ):
        client = signed_in(staff_with(*VIEW_ONLY, f"reconciliation.{perm}"))
        assert offered_actions(client, DIFFERENCES) == action


@pytest.mark.django_db(transaction=True)
def test_finance_is_offered_every_action():
    assert offered_actions(signed_in(finance_member()), DIFFERENCES) == ALL_ACTIONS


@pytest.mark.django_db
def test_resolving_asks_for_a_note_then_closes_the_difference_with_its_event():
    user = staff_with(*VIEW_ONLY, "reconciliation.resolve_difference")
    client = signed_in(user)
    imported_day()
    diff = Difference.objects.filter(is_open=True).first()
    chosen = {"action": "resolve_with_note", "_selected_action": [diff.pk]}
    page = client.post(DIFFERENCES, chosen)
    assert page.status_code == 200
    assert "Closed as resolved, with your note." in page.content.decode()
    empty = client.post(DIFFERENCES, {**chosen, "confirmed": "yes", "note": "  "})
    assert "This field is required." in empty.content.decode()
    diff.refresh_from_db()
    assert diff.is_open
    done = client.post(
        DIFFERENCES, {**chosen, "confirmed": "yes", "note": "Test trade, agreed"}, follow=True
    )
    assert "1 difference resolved." in messages_of(done)
    diff.refresh_from_db()
    assert not diff.is_open and diff.note == "Test trade, agreed" and diff.resolved_by == user
    event = diff.events.get(action=DifferenceEvent.Action.RESOLVED)
    assert (event.user, event.actor) == (user, f"staff:{user.username}")


@pytest.mark.django_db
def test_writing_a_note_keeps_the_difference_open():
    user = staff_with(*VIEW_ONLY, "reconciliation.resolve_difference")
    client = signed_in(user)
    imported_day()
    diff = Difference.objects.filter(is_open=True).first()
    client.post(
        DIFFERENCES,
        {
            "action": "add_note",
            "_selected_action": [diff.pk],
            "confirmed": "yes",
            "note": "Asked Alipay",
        },
    )
    diff.refresh_from_db()
    assert diff.is_open and diff.note == "Asked Alipay"
    assert diff.events.filter(action=DifferenceEvent.Action.NOTED, user=user).exists()


@pytest.mark.django_db(transaction=True)
def test_refunding_a_strangers_trade_shows_what_will_happen_then_refunds(
    recon, settings, mailoutbox
):
    from payments.reconciliation import tasks

    simple_day(recon)
    recon.freeze(NEXT_MORNING)
    settings.SANDBOX_FILE_KNOBS = "stranger=1"
    tasks.daily()
    diff = Difference.objects.get(is_open=True)
    assert diff.kind == Difference.Kind.MISSING_HERE
    user = finance_member()
    client = signed_in(user)

    checked = client.post(
        DIFFERENCES, {"action": "check_with_alipay", "_selected_action": [diff.pk]}, follow=True
    )
    assert any("Alipay answers TRADE_SUCCESS 88.00" in m for m in messages_of(checked))
    assert diff.events.get(action=DifferenceEvent.Action.CHECKED).user == user

    chosen = {"action": "refund_buyer", "_selected_action": [diff.pk]}
    plan = client.post(DIFFERENCES, chosen).content.decode()
    assert "STRANGER-20261127" in plan and "88.00 HKD" in plan and "refunded to the buyer" in plan
    assert not Refund.objects.filter(payment__partner_trans_id="STRANGER-20261127").exists()
    done = client.post(
        DIFFERENCES, {**chosen, "confirmed": "yes", "note": "no such order"}, follow=True
    )
    assert "1 refund requested." in messages_of(done)
    diff.refresh_from_db()
    assert not diff.is_open and diff.resolution == Difference.Resolution.REFUNDED
    refund = Refund.objects.get(payment__partner_trans_id="STRANGER-20261127")
    assert refund.amount == Decimal("88.00") and refund.state == Refund.State.SUCCEEDED
    assert diff.events.filter(action=DifferenceEvent.Action.REFUNDED, user=user).exists()


# A box-office payment Entrada gave up on while the buyer paid (see test_missing_here).


def test_issuing_the_orders_tickets_from_the_admin_shows_the_plan_then_pays_the_order(
    lost_payment,
):
    order, payment, diff = lost_payment
    user = staff_with(*VIEW_ONLY, "reconciliation.issue_difference_tickets")
    client = signed_in(user)
    chosen = {"action": "issue_tickets", "_selected_action": [diff.pk]}
    plan = client.post(DIFFERENCES, chosen).content.decode()
    assert f"Payment {payment.partner_trans_id}" in plan and payment.reference in plan
    payment.refresh_from_db()
    assert payment.state == Payment.State.NEEDS_ATTENTION  # nothing happened yet
    done = client.post(DIFFERENCES, {**chosen, "confirmed": "yes"}, follow=True)
    assert "1 order paid." in messages_of(done)
    order.refresh_from_db()
    assert order.state == order.State.PAID and order.tickets.count() == 2
    diff.refresh_from_db()
    assert not diff.is_open and diff.resolution == Difference.Resolution.TICKETS
    assert diff.events.filter(action=DifferenceEvent.Action.TICKETS, user=user).exists()
