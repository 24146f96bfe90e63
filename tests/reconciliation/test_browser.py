"""A finance user opens the day report and its chart in headless Chromium, then resolves a
difference through the differences list and its note page. Screenshots of each step go to
test-artifacts/reconciliation/ for a person to look at."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from payments.reconciliation import tasks
from payments.reconciliation.models import Difference, DifferenceEvent

from ..browser import MARKS, artifacts, chromium_context, expect
from .helpers import NEXT_MORNING, finance_member, simple_day

pytestmark = MARKS


@pytest.fixture
def browser_context(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", viewport={"width": 1280, "height": 900}) as ctx:
        yield ctx


def test_finance_reads_the_day_report_and_chart_and_resolves_a_difference(
    recon, settings, live_server, browser_context
):
    simple_day(recon)
    recon.freeze(NEXT_MORNING)
    settings.SANDBOX_FILE_KNOBS = "change_amount=1"
    tasks.daily()
    diff = Difference.objects.get(is_open=True)
    user = finance_member()
    client = Client()
    client.force_login(user)
    browser_context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    folder = artifacts("reconciliation")
    page = browser_context.new_page()

    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#recon-status")).to_contain_text("Last run")
    page.screenshot(path=str(folder / "01-index.png"), full_page=True)

    page.locator("#recon-status").get_by_role("link", name="Day report").click()
    expect(page.locator("h2").filter(has_text="Beijing day 2026-11-27")).to_be_visible()
    expect(page.locator("#recon-day")).to_contain_text("USD")
    chart = page.get_by_role("img", name="Daily net and fees in USD")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    page.screenshot(path=str(folder / "02-day-report.png"), full_page=True)

    page.locator("#recon-open a").first.click()
    row = page.locator("#result_list tbody tr").filter(has_text=diff.partner_transaction_id)
    expect(row).to_have_count(1)
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("resolve_with_note")
    page.screenshot(path=str(folder / "03-differences.png"), full_page=True)
    page.locator("button[name=index]").click()

    expect(page.locator("#recon-plan")).to_contain_text("Closed as resolved")
    page.get_by_label("Why is this resolved?").fill("Alipay corrected the amount by mail")
    page.screenshot(path=str(folder / "04-note.png"), full_page=True)
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.locator(".messagelist")).to_contain_text("1 difference resolved.")
    page.screenshot(path=str(folder / "05-resolved.png"), full_page=True)

    diff.refresh_from_db()
    assert not diff.is_open and diff.note == "Alipay corrected the amount by mail"
    assert diff.events.get(action=DifferenceEvent.Action.RESOLVED).user == user
