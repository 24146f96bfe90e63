"""The sales report: figures against hand-made sales, time buckets in the attraction's zone, who may
see it, its downloads, its refusals of bad parameters and its constant number of queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from tests.staff import grant_sales_report, role_member, staff_with
from ticketing.models import Order
from ticketing.reports.filters import Period, ReportQuery
from ticketing.reports.queries import Source, sales_report

from .report_helpers import (
    SHANGHAI,
    TOKYO,
    Shop,
    local,
    paid_difference,
    partner_payment,
    reverse,
    sample_sales,
)

URL = "/admin/ticketing/salesreport/"
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}

pytestmark = pytest.mark.django_db


def _rows(table) -> dict:
    return {(row[0], row[1]): row[2:] for row in table.rows}


@pytest.fixture(params=[Source.SUMMARY, Source.RAW])
def source(request) -> str:
    """The figures from the daily rows the pages read, and from the raw rows they summarise."""
    return request.param


def _report(source: str = Source.SUMMARY, **fields):
    fields.setdefault("start", dt.date(2026, 11, 1))
    fields.setdefault("end", dt.date(2026, 11, 30))
    return sales_report(ReportQuery(**fields), source=source)


def test_figures_per_currency_count_paid_refunded_box_office_partner_and_yen(source):
    sample_sales()
    report = _report(source)
    # Currency: orders, tickets sold, admitted, gross, refunds, net.
    assert _rows(report.tables["currency"]) == {
        # 200 + 80 + 160 + 40 (orders) + 55 (partner); refunds 80 + 40 + 5; the cancelled
        # order and the failed refund count for nothing.
        ("CNY", "CNY"): [5, 7, 2, Decimal("535.00"), Decimal("125.00"), Decimal("410.00")],
        ("JPY", "JPY"): [1, 2, 0, Decimal("3000"), Decimal("0"), Decimal("3000")],
    }
    assert _rows(report.tables["channel"]) == {
        ("Online", "CNY"): [3, 6, 2, Decimal("440.00"), Decimal("120.00"), Decimal("320.00")],
        ("Online", "JPY"): [1, 2, 0, Decimal("3000"), Decimal("0"), Decimal("3000")],
        ("Box office", "CNY"): [1, 1, 0, Decimal("40.00"), Decimal("0.00"), Decimal("40.00")],
        ("Partner API", "CNY"): [1, 0, 0, Decimal("55.00"), Decimal("5.00"), Decimal("50.00")],
    }
    attractions = _rows(report.tables["attraction"])
    assert attractions[("Museum", "CNY")] == [
        4,
        7,
        2,
        Decimal("480.00"),
        Decimal("120.00"),
        Decimal("360.00"),
    ]
    assert attractions[("Tower", "JPY")][3:] == [Decimal("3000"), Decimal("0"), Decimal("3000")]
    assert _rows(report.tables["ticket_type"]) == {
        ("Museum / Adult", "CNY"): [5, Decimal("400.00")],
        ("Museum / Child", "CNY"): [2, Decimal("80.00")],
        ("Tower / Adult", "JPY"): [2, Decimal("3000")],
    }


def test_days_are_each_attractions_local_days_and_refunds_count_on_their_own_day(source):
    sample_sales()
    days = _rows(_report(source, period=Period.DAY).tables["period"])
    # 10 Nov: 200 + 80 (Museum, Shanghai) and 55 - 5 (partner, UTC).
    assert days[("2026-11-10", "CNY")][3:] == [
        Decimal("335.00"),
        Decimal("5.00"),
        Decimal("330.00"),
    ]
    # 23:30 in Tokyo on the 10th is 14:30 UTC: still the 10th where the tower is.
    assert days[("2026-11-10", "JPY")][3] == Decimal("3000")
    assert days[("2026-11-12", "CNY")][3:] == [Decimal("0.00"), Decimal("80.00"), Decimal("-80.00")]
    # Gate scans count on the day of the scan.
    assert days[("2026-11-20", "CNY")][:3] == [0, 0, 2]


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        # 23:59 on Sunday 29 Nov, 00:30 on Monday 30 Nov, 00:30 on Tuesday 1 Dec (Shanghai).
        (Period.DAY, {"2026-11-29": 80, "2026-11-30": 40, "2026-12-01": 200}),
        (Period.WEEK, {"2026-W48 (2026-11-23)": 80, "2026-W49 (2026-11-30)": 240}),
        (Period.MONTH, {"2026-11": 120, "2026-12": 200}),
    ],
)
def test_day_week_and_month_boundaries_fall_at_local_midnight(period, expected, source):
    museum = Shop(
        "museum", "Museum", "Asia/Shanghai", "CNY", {"a": "80.00", "b": "40.00", "c": "200.00"}
    )
    # In UTC these are all earlier days (8 hours behind): bucketing in UTC would move each one.
    museum.order(paid_at=local(SHANGHAI, 2026, 11, 29, 23, 59), a=1)
    museum.order(paid_at=local(SHANGHAI, 2026, 11, 30, 0, 30), b=1)
    museum.order(paid_at=local(SHANGHAI, 2026, 12, 1, 0, 30), c=1)
    # Just outside the range, in local time: excluded although inside it in UTC.
    museum.order(paid_at=local(SHANGHAI, 2026, 12, 2, 0, 30), c=1)
    report = _report(source, period=period, start=dt.date(2026, 11, 23), end=dt.date(2026, 12, 1))
    gross = {row[0]: row[5] for row in report.tables["period"].rows}
    assert gross == {
        label: Decimal(amount).quantize(Decimal("0.01")) for label, amount in expected.items()
    }


def test_a_tokyo_day_starts_at_15_utc(source):
    tower = Shop("tower", "Tower", "Asia/Tokyo", "JPY", {"adult": "1500"})
    tower.order(paid_at=dt.datetime(2026, 11, 9, 14, 59, tzinfo=dt.UTC), adult=1)
    tower.order(paid_at=dt.datetime(2026, 11, 9, 15, 0, tzinfo=dt.UTC), adult=2)
    days = {row[0]: row[5] for row in _report(source).tables["period"].rows}
    assert days == {"2026-11-09": Decimal("1500"), "2026-11-10": Decimal("3000")}
    assert local(TOKYO, 2026, 11, 10) == dt.datetime(2026, 11, 9, 15, tzinfo=dt.UTC)


def test_filters_narrow_to_an_attraction_a_channel_or_a_currency(source):
    museum, _tower = sample_sales()
    only_museum = _rows(_report(source, attraction=museum.attraction).tables["currency"])
    # The partner API's sales have no attraction: an attraction's report leaves them out.
    assert only_museum == {
        ("CNY", "CNY"): [4, 7, 2, Decimal("480.00"), Decimal("120.00"), Decimal("360.00")]
    }
    box_office = _rows(_report(source, channel="box_office").tables["currency"])
    assert box_office == {
        ("CNY", "CNY"): [1, 1, 0, Decimal("40.00"), Decimal("0.00"), Decimal("40.00")]
    }
    partner = _rows(_report(source, channel="partner_api").tables["currency"])
    assert partner == {
        ("CNY", "CNY"): [1, 0, 0, Decimal("55.00"), Decimal("5.00"), Decimal("50.00")]
    }
    assert set(_rows(_report(source, currency="JPY").tables["currency"])) == {("JPY", "JPY")}


def test_the_trend_covers_30_days_per_currency_and_utilisation_reads_the_slots(source):
    museum, _tower = sample_sales()
    museum.slot.sold = 25
    museum.slot.save(update_fields=["sold"])
    report = _report(source)
    assert sorted(report.trend) == ["CNY", "JPY"]
    cny = dict(report.trend["CNY"])
    assert len(cny) == 30 and min(cny) == dt.date(2026, 11, 1)
    assert cny[dt.date(2026, 11, 10)].net == Decimal("330.00")
    assert [(d.day, d.capacity, d.sold) for d in report.utilisation] == [
        (dt.date(2026, 11, 20), 200, 25)
    ]


def test_the_page_shows_tables_and_accessible_svg_charts(admin_client):
    sample_sales()
    response = admin_client.get(URL, NOVEMBER)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'role="img"' in page and '<title id="trend-cny-title">' in page
    assert '<desc id="utilisation-desc">' in page
    assert "410.00" in page and "3000" in page
    # Yen are never added to yuan: one chart each.
    assert 'id="trend-cny"' in page and 'id="trend-jpy"' in page


def test_csv_downloads_hold_the_tables(admin_client):
    sample_sales()
    response = admin_client.get(URL, {**NOVEMBER, "format": "csv", "table": "currency"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "sales-currency-2026-11-01-2026-11-30.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["Currency", "Currency", "Orders", "Tickets sold", "Admitted", "Gross", "Refunds", "Net"],
        ["CNY", "CNY", "5", "7", "2", "535.00", "125.00", "410.00"],
        ["JPY", "JPY", "1", "2", "0", "3000", "0", "3000"],
    ]
    for table in ("period", "attraction", "ticket_type", "channel", "utilisation", "trend"):
        response = admin_client.get(URL, {**NOVEMBER, "format": "csv", "table": table})
        assert response.status_code == 200, table
        assert len(response.content.decode().splitlines()) > 1, table


def test_xlsx_download_is_a_workbook_with_the_figures(admin_client):
    sample_sales()
    response = admin_client.get(URL, {**NOVEMBER, "format": "xlsx", "table": "channel"})
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "Partner API" in strings and "<v>440</v>" in sheet


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-13-01"},
        {"start": "yesterday"},
        {"start": "2026-11-30", "end": "2026-11-01"},
        {"start": "2020-01-01", "end": "2026-11-01"},
        {"period": "year"},
        {"channel": "fax"},
        {"currency": "cny"},
        {"currency": "EURO"},
        {"attraction": "999999"},
        {"attraction": "museum"},
        {"format": "pdf"},
        {"format": "csv", "table": "nope"},
        {"format": "csv", "channel": "fax"},
    ],
)
def test_bad_parameters_answer_400_with_a_message(admin_client, params):
    response = admin_client.get(URL, params)
    assert response.status_code == 400
    body = response.content.decode()
    assert body.strip()
    if params.get("format") in (None, "html"):
        assert 'class="errornote"' in body


def test_staff_without_the_report_permission_are_refused():
    viewer = staff_with("ticketing.view_order", "payments.view_payment")
    client = Client()
    client.force_login(viewer)
    assert client.get(URL, NOVEMBER).status_code == 403
    assert client.get(URL, {**NOVEMBER, "format": "csv"}).status_code == 403
    # Not on the index either.
    assert URL not in client.get("/admin/").content.decode()


def test_anonymous_visitors_are_sent_to_sign_in():
    response = Client().get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("group", ["Finance", "Support"])
def test_finance_and_support_see_the_report_and_its_link(group):
    member = role_member(group)
    grant_sales_report()
    client = Client()
    client.force_login(member)
    assert client.get(URL, NOVEMBER).status_code == 200
    assert URL in client.get("/admin/").content.decode()


def test_post_is_not_allowed(admin_client):
    assert admin_client.post(URL, NOVEMBER).status_code == 405


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, NOVEMBER).status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_the_orders(admin_client):
    museum, tower = sample_sales()
    before = _queries(admin_client)
    for day in range(1, 29):
        museum.order(
            paid_at=local(SHANGHAI, 2026, 11, day, 12),
            channel=Order.Channel.BOX_OFFICE if day % 2 else Order.Channel.ONLINE,
            refunds=(("40.00", "succeeded", local(SHANGHAI, 2026, 11, day, 13)),),
            used_at=(local(SHANGHAI, 2026, 11, day, 14),),
            adult=1,
            child=1,
        )
        tower.order(paid_at=local(TOKYO, 2026, 11, day, 9), adult=day % 3 + 1)
        partner_payment("10.00", "CNY", dt.datetime(2026, 11, day, 3, tzinfo=dt.UTC), ("1.00",))
    assert _queries(admin_client) == before


def test_a_price_difference_paid_to_change_the_time_counts_on_its_own_day(source):
    museum = Shop("museum", "Museum", "Asia/Shanghai", "CNY", {"adult": "80.00"})
    order = museum.order(paid_at=local(SHANGHAI, 2026, 11, 10, 10), adult=2)
    paid_difference(
        order,
        "20.00",
        local(SHANGHAI, 2026, 11, 12, 9),
        refunds=(("2.00", local(SHANGHAI, 2026, 11, 14, 9)),),
    )
    # A difference paid but refunded because the change was not made counts for nothing.
    paid_difference(order, "30.00", local(SHANGHAI, 2026, 11, 13, 9), made=False)

    report = _report(source)

    # Orders, tickets sold, admitted, gross, refunds, net: one order, gross 160 + 20.
    assert _rows(report.tables["currency"]) == {
        ("CNY", "CNY"): [1, 2, 0, Decimal("180.00"), Decimal("2.00"), Decimal("178.00")]
    }
    days = {row[0]: (row[5], row[6]) for row in report.tables["period"].rows}
    assert days["2026-11-10"] == (Decimal("160.00"), Decimal("0.00"))
    assert days["2026-11-12"] == (Decimal("20.00"), Decimal("0.00"))
    assert days["2026-11-14"] == (Decimal("0.00"), Decimal("2.00"))
    assert "2026-11-13" not in days


def test_a_reversal_is_money_given_back_on_the_local_day_it_went_through(source, clock):
    # Berlin is seven hours behind Beijing: a payment reversed on its own Beijing day (as Alipay
    # allows) can be paid on one Berlin day and reversed on the next.
    berlin = dt.timezone(dt.timedelta(hours=1))  # CET, the zone of Europe/Berlin in November
    zoo = Shop("zoo", "Zoo", "Europe/Berlin", "EUR", {"adult": "10.00"})
    order = zoo.order(paid_at=dt.datetime(2026, 11, 9, 23, 0, tzinfo=berlin), adult=3)
    reverse(order.payment, dt.datetime(2026, 11, 10, 1, 0, tzinfo=berlin))
    # A price difference paid for a change of time that was made, reversed the same day.
    kept = zoo.order(paid_at=dt.datetime(2026, 11, 12, 9, 0, tzinfo=berlin), adult=1)
    change = paid_difference(kept, "5.00", dt.datetime(2026, 11, 12, 10, 0, tzinfo=berlin))
    reverse(change.payment, dt.datetime(2026, 11, 12, 11, 0, tzinfo=berlin))
    # A partner-API sale reversed, counted in the site's zone (UTC here).
    sale = partner_payment("7.00", "EUR", dt.datetime(2026, 11, 14, 8, tzinfo=dt.UTC))
    reverse(sale, dt.datetime(2026, 11, 14, 9, tzinfo=dt.UTC))
    # Found paid at Alipay after all: its reversal no longer counts, the sale still does.
    again = zoo.order(paid_at=dt.datetime(2026, 11, 16, 9, 0, tzinfo=berlin), adult=2)
    reverse(
        again.payment,
        dt.datetime(2026, 11, 16, 10, 0, tzinfo=berlin),
        undo_at=dt.datetime(2026, 11, 17, 10, 0, tzinfo=berlin),
    )

    report = _report(source)

    days = {row[0]: row[2:] for row in report.tables["period"].rows}
    # Orders, tickets sold, admitted, gross, refunds, net.
    assert days["2026-11-09"] == [1, 3, 0, Decimal("30.00"), Decimal("0.00"), Decimal("30.00")]
    assert days["2026-11-10"] == [0, 0, 0, Decimal("0.00"), Decimal("30.00"), Decimal("-30.00")]
    assert days["2026-11-12"][3:] == [Decimal("15.00"), Decimal("5.00"), Decimal("10.00")]
    assert days["2026-11-14"][3:] == [Decimal("7.00"), Decimal("7.00"), Decimal("0.00")]
    assert days["2026-11-16"][3:] == [Decimal("20.00"), Decimal("0.00"), Decimal("20.00")]
    assert "2026-11-17" not in days
    # Net: what the zoo kept, 10.00 of the changed order and the 20.00 found paid.
    assert _rows(report.tables["currency"])[("EUR", "EUR")][3:] == [
        Decimal("72.00"),
        Decimal("42.00"),
        Decimal("30.00"),
    ]


def test_days_follow_the_local_clock_across_a_dst_change(source):
    zoo = Shop("zoo", "Zoo", "Europe/Berlin", "EUR", {"a": "1.00", "b": "2.00", "c": "4.00"})
    # Summer time ends at 01:00 UTC on 25 Oct 2026: +2 hours before, +1 after.
    zoo.order(paid_at=dt.datetime(2026, 10, 24, 21, 59, tzinfo=dt.UTC), a=1)  # 24th, 23:59
    zoo.order(paid_at=dt.datetime(2026, 10, 24, 22, 30, tzinfo=dt.UTC), b=1)  # 25th, 00:30
    zoo.order(paid_at=dt.datetime(2026, 10, 25, 22, 59, tzinfo=dt.UTC), b=1)  # 25th, 23:59
    zoo.order(paid_at=dt.datetime(2026, 10, 25, 23, 30, tzinfo=dt.UTC), c=1)  # 26th, 00:30
    report = _report(source, start=dt.date(2026, 10, 20), end=dt.date(2026, 10, 31))
    days = {row[0]: row[5] for row in report.tables["period"].rows}
    assert days == {
        "2026-10-24": Decimal("1.00"),
        "2026-10-25": Decimal("4.00"),
        "2026-10-26": Decimal("4.00"),
    }


def test_the_report_speaks_chinese(admin_client):
    sample_sales()
    # The request leaves Chinese active in this thread: restored after it, or later tests'
    # messages would come out in Chinese.
    with translation.override(None):
        response = admin_client.get(URL, NOVEMBER, headers={"accept-language": "zh-hans"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "销售报表" in page and "按渠道" in page and "合作伙伴 API" in page
    assert "最近 30 天每日净销售额（CNY）" in page
