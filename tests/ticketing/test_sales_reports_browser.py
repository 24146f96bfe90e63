"""A Finance administrator opens the sales report from the admin index in headless Chromium, sees
its 30-day chart and heat map, narrows it to the box office, and downloads a CSV. Screenshots go
to test-artifacts/sales-report/.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.staff import grant_sales_report, run_role_migration
from ticketing.models import Order

from ..browser import MARKS, artifacts, chromium_context, expect
from .report_helpers import SHANGHAI, local, sample_sales

pytestmark = MARKS


@pytest.fixture
def desktop(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(
        tmp_path / "profile", viewport={"width": 1280, "height": 900}, accept_downloads=True
    ) as context:
        yield context


def test_finance_opens_the_sales_report_with_its_chart(
    desktop, live_server, transactional_db, clock
):
    from django.contrib.auth.models import User

    clock.freeze(dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC))
    museum, _tower = sample_sales()
    for day in range(1, 30, 3):
        museum.order(
            paid_at=local(SHANGHAI, 2026, 11, day, 11),
            channel=Order.Channel.BOX_OFFICE if day % 2 else Order.Channel.ONLINE,
            adult=1 + day % 3,
        )
    museum.slot.sold = 60
    museum.slot.save(update_fields=["sold"])
    # A transactional test starts from an empty database: run the roles' data steps again, in
    # migration order (the role, then this branch's grant of the report permission).
    finance = run_role_migration("Finance")
    grant_sales_report()
    user = User.objects.create_user("fin-wu", password="pw-wu-123456", is_staff=True)
    user.groups.add(finance)
    shots = artifacts("sales-report")

    page = desktop.new_page()
    # The admin's first page load compiles templates and serves its static files one by one:
    # on a busy shared machine that outlasts the default 15 s.
    page.set_default_timeout(60_000)
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Username").fill("fin-wu")
    page.get_by_label("Password").fill("pw-wu-123456")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Sales reports").click()

    chart = page.locator("svg#trend-cny")
    expect(chart).to_be_visible()
    expect(page.locator("#trend-cny-title")).to_have_text("Net sales per day in CNY, last 30 days")
    # One bar per day of the window, drawn with a size people can see.
    assert chart.locator("rect").count() == 30
    box = chart.bounding_box()
    assert box["width"] > 600 and box["height"] > 150
    expect(page.locator("svg#trend-jpy")).to_be_visible()
    expect(page.locator("svg#utilisation rect[data-day='2026-11-20']")).to_be_visible()
    expect(page.get_by_role("heading", name="By channel")).to_be_visible()
    page.screenshot(path=str(shots / "01-report.png"), full_page=True)

    page.get_by_label("Channel", exact=True).select_option("box_office")
    page.get_by_role("button", name="Show report").click()
    expect(page).to_have_url(re.compile(r"channel=box_office"))
    channel_table = page.locator("section:has(#table-channel) tbody")
    expect(channel_table).to_contain_text("Box office")
    expect(channel_table).not_to_contain_text("Online")
    page.screenshot(path=str(shots / "02-box-office.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("section:has(#table-currency) a", has_text="CSV").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    # The download keeps the page's filters: only box-office sales, all in yuan.
    assert lines[0].startswith("Currency,Currency,Orders")
    assert [line.split(",")[0] for line in lines[1:]] == ["CNY"]
