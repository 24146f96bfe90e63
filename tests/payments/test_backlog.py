"""The lag made visible: `manage.py poller_status`, the public health endpoint, the staff alert.

Payments are left pending with no poller running (no worker), and the movable clock makes their
steps overdue; then a real poller run clears the backlog.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from payments import poller
from payments.backlog import check_lag
from payments.models import Payment

from .helpers import PIN_NEVER, pay

pytestmark = pytest.mark.django_db(transaction=True)


def status(*args: str) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("poller_status", *args, stdout=out)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return out.getvalue(), code


def test_status_shows_the_backlog_the_oldest_overdue_step_and_the_lease_holder(
    sandbox_clock, no_worker, settings
):
    settings.PAYMENTS = {**settings.PAYMENTS, "POLLER_ALERT_SECONDS": 20}
    pay(PIN_NEVER, deadline_seconds=300)
    pay(PIN_NEVER, deadline_seconds=300)
    output, code = status()
    assert code == 0 and "ok" in output and "nobody" in output
    sandbox_clock.advance(3 + 25)  # both steps due since +3: 25 s overdue
    assert poller.acquire_lease("web-1:4242:cafe")
    output, code = status()
    assert code == 1
    assert "LAGGING" in output and "25.0 s" in output and "web-1:4242:cafe" in output
    data = json.loads(status("--json")[0])
    assert data["status"] == "lagging"
    assert data["due"] == 2 and data["oldest_overdue_seconds"] == 25.0
    assert data["shards"][0]["holder"] == "web-1:4242:cafe"


def test_the_health_endpoint_shows_counts_and_ages_only(
    sandbox_clock, no_worker, settings, client, caplog
):
    settings.PAYMENTS = {**settings.PAYMENTS, "POLLER_ALERT_SECONDS": 20}
    payment = pay(PIN_NEVER, deadline_seconds=30)
    response = client.get("/payments/health/poller")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["due"] == 0
    assert "no-cache" in response["Cache-Control"]
    sandbox_clock.advance(40)  # 37 s overdue, and 10 s past the deadline
    assert poller.acquire_lease("web-1:4242:cafe")
    caplog.clear()
    response = client.get("/payments/health/poller")
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "lagging" and data["due"] == 1 and data["past_deadline"] == 1
    assert data["oldest_overdue_seconds"] == 37.0
    assert data["shards"] == [
        {"shard": 0, "due": 1, "oldest_overdue_seconds": 37.0, "past_deadline": 1, "polling": True}
    ]
    assert not caplog.records  # a monitor's every poll is not an ERROR mailed to the admins
    body = response.content.decode()
    assert "web-1" not in body and payment.partner_trans_id not in body
    assert client.post("/payments/health/poller").status_code == 405


def test_staff_are_alerted_once_per_incident(sandbox_clock, no_worker, settings, mailoutbox):
    settings.PAYMENTS = {**settings.PAYMENTS, "POLLER_ALERT_SECONDS": 20}
    pay(PIN_NEVER, deadline_seconds=300)
    sandbox_clock.advance(3 + 15)
    assert not check_lag() and not mailoutbox  # 15 s overdue: under the threshold
    sandbox_clock.advance(10)
    assert check_lag()
    assert len(mailoutbox) == 1
    assert "poller lagging" in mailoutbox[0].subject and "25" in mailoutbox[0].subject
    sandbox_clock.advance(30)
    assert check_lag()
    assert len(mailoutbox) == 1  # the same incident: no second mail
    poller.run(window=1)  # a poller catches up: the step is no longer overdue
    assert not check_lag()
    sandbox_clock.advance(3 + 25)  # lagging again: a new incident
    assert check_lag()
    assert len(mailoutbox) == 2
    assert Payment.objects.get().state == Payment.State.PENDING


def test_the_sweeper_alerts_when_no_poller_runs(sandbox_clock, no_worker, settings, mailoutbox):
    from payments import tasks

    settings.PAYMENTS = {**settings.PAYMENTS, "POLLER_ALERT_SECONDS": 20}
    pay(PIN_NEVER, deadline_seconds=300)
    assert poller.acquire_lease("dead-worker:1:beef")  # held, but its poller is gone
    sandbox_clock.advance(3 + 25)
    tasks.sweep()
    assert len(mailoutbox) == 1
