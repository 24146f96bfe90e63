"""Long polls (`GET /api/v1/payments/{id}/?wait=N`) on the server `make run` starts: gunicorn with
an ASGI (uvicorn) worker on the test database.

The state changes here are made by this test process, as the task cluster makes them in
production: the server hears of them through Redis pub/sub when REDIS_URL is set, otherwise
through its one shared database check. CI runs this module both ways.

The server runs one worker with small caps (one wait per terminal, two per process), so that
which requests hold a wait is known: of two waits from one terminal, one is refused at once.
"""

from __future__ import annotations

import http.client
import json
import select
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests

from payments import lifecycle
from payments.api.queries import API_TRANS_ID_PREFIX
from payments.api.terminals import get_or_create_terminal, issue_token
from payments.models import Payment

from ..payments.helpers import PIN_NEVER, pay
from ..ticketing.gunicorn_server import gunicorn

pytestmark = pytest.mark.slow

# A change must reach its waiter within this: the database check runs every 0.15 s and Redis is
# at once, so this leaves a loaded CI machine room while staying far below the 30 s wait (and
# the payments poller's 3 s interval), which a wait woken only by its timeout would take.
PROMPT = 2.5
# A refused wait answers at once: a few milliseconds, a few hundred on a very busy machine.
AT_ONCE = 3.0


@pytest.fixture(scope="module")
def asgi_site(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        gunicorn(
            workers=1,
            asgi=True,
            env={"PAYMENTS_WAITS_PER_TERMINAL": "1", "PAYMENTS_WAITS_PER_PROCESS": "2"},
        ) as base,
    ):
        yield base


@pytest.fixture
def site(asgi_site, alipay_gateway, poller_elsewhere) -> str:
    """The ASGI server; the sandbox (for the payments made here) runs on the live server."""
    return asgi_site


def token_for(terminal_id: str) -> str:
    terminal, _created = get_or_create_terminal("STORE-1", terminal_id, store_name="Museum shop")
    return issue_token(terminal)


def pending_payment() -> Payment:
    # A payment taken through the partner API (its partner_trans_id says so): the only kind a
    # terminal may read.
    api_id = f"{API_TRANS_ID_PREFIX}{uuid.uuid4().hex.upper()}"
    payment = pay(PIN_NEVER, store_id="STORE-1", terminal_id="POS-1", partner_trans_id=api_id)
    assert payment.state == Payment.State.PENDING
    return payment


class LongPoll:
    """One `?wait=` request in flight on a connection of its own."""

    def __init__(self, base: str, token: str, payment: Payment, seconds: int = 30):
        url = urlparse(base)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        self.started = time.monotonic()
        self.connection.request(
            "GET",
            f"/api/v1/payments/{payment.uuid}/?wait={seconds}",
            headers={"Authorization": f"Token {token}"},
        )

    def answered_within(self, seconds: float) -> bool:
        readable, _, _ = select.select([self.connection.sock], [], [], seconds)
        return bool(readable)

    def answer(self) -> tuple[http.client.HTTPResponse, dict, float]:
        response = self.connection.getresponse()
        body = json.loads(response.read())
        answered = time.monotonic()
        self.connection.close()
        return response, body, answered

    def hang_up(self) -> None:
        self.connection.close()


def assert_refused_at_once(poll: LongPoll) -> dict:
    response, body, answered = poll.answer()
    assert response.status == 200
    assert answered - poll.started < AT_ONCE
    assert int(response.getheader("Retry-After")) >= 1
    return body


def hold_a_wait(base: str, token: str, payment: Payment) -> LongPoll:
    """Two waits from one terminal with a cap of one: one holds, the other is refused at once.

    Returns the one that holds, so the test knows the server is waiting before it acts.
    """
    first, second = LongPoll(base, token, payment), LongPoll(base, token, payment)
    readable, _, _ = select.select(
        [first.connection.sock, second.connection.sock], [], [], AT_ONCE * 4
    )
    assert len(readable) == 1, "of two waits from one terminal, exactly one is refused at once"
    refused, holding = (first, second) if first.connection.sock in readable else (second, first)
    body = assert_refused_at_once(refused)
    assert body["state"] == "pending" and body["id"] == str(payment.uuid)
    return holding


def settle(payment: Payment, *holding: LongPoll) -> None:
    """End the test's waits by a change: a wait gives its place back before it answers, so the
    next test starts with none held (a hang-up would release it a moment later)."""
    lifecycle.request_cancel(payment, actor="test")
    for poll in holding:
        response, body, _answered = poll.answer()
        assert response.getheader("Retry-After") is None
        assert body["state"] in ("cancelling", "cancelled")


def test_a_state_change_wakes_its_waiter_at_once(site):
    payment = pending_payment()
    holding = hold_a_wait(site, token_for("POS-1"), payment)
    changed = time.monotonic()
    lifecycle.request_cancel(payment, actor="test")
    response, body, answered = holding.answer()
    assert response.status == 200 and response.getheader("Retry-After") is None
    assert body["state"] in ("cancelling", "cancelled")
    assert answered - changed < PROMPT, f"told {answered - changed:.2f} s after the change"


def test_past_the_per_terminal_cap_the_current_state_comes_at_once(site):
    payment = pending_payment()
    token = token_for("POS-1")
    holding = hold_a_wait(site, token, payment)
    body = assert_refused_at_once(LongPoll(site, token, payment))
    assert body["state"] == "pending"
    # Another terminal of the store is not held back by this one's cap: it waits too.
    other = LongPoll(site, token_for("POS-2"), payment)
    assert not other.answered_within(1.0)
    settle(payment, holding, other)


def test_past_the_per_process_cap_the_current_state_comes_at_once(site):
    payment = pending_payment()
    held = [hold_a_wait(site, token_for(name), payment) for name in ("POS-1", "POS-2")]
    body = assert_refused_at_once(LongPoll(site, token_for("POS-3"), payment))
    assert body["state"] == "pending"
    settle(payment, *held)


def test_a_waiter_whose_client_hangs_up_releases_its_place(site):
    payment = pending_payment()
    token = token_for("POS-1")
    hold_a_wait(site, token, payment).hang_up()
    # The server notices the hang-up within moments; until then a new wait is refused at once.
    for _attempt in range(20):
        again = LongPoll(site, token, payment)
        if not again.answered_within(AT_ONCE):
            break
        assert_refused_at_once(again)
    else:
        pytest.fail("the terminal's place was never released after its client hung up")
    # The new wait holds the place the first one gave back: it is the one the change wakes.
    changed = time.monotonic()
    lifecycle.request_cancel(payment, actor="test")
    response, body, answered = again.answer()
    assert response.getheader("Retry-After") is None
    assert body["state"] in ("cancelling", "cancelled")
    assert answered - changed < PROMPT


def test_pages_static_files_and_the_api_schema_are_served_under_asgi(site):
    assert requests.get(site + "/", timeout=30).status_code == 200
    css = requests.get(site + "/static/shop/shop.css", timeout=30)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    assert requests.get(site + "/static/no-such-file.css", timeout=30).status_code == 404
    schema = requests.get(site + "/api/schema/", timeout=30)
    assert schema.status_code == 200 and "name: wait" in schema.text
