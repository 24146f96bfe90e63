"""The partner API over real HTTP (live_server + requests) against the sandbox gateway: what a
cash register sees for each buyer, and what it may do next."""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal

import pytest
import requests

from payments import tasks
from payments.models import Payment, Refund
from payments.sandbox.models import SandboxRefund, SandboxTrade

from ..helpers import finishes_within
from .helpers import PAID_BUYER, Register

BROKE_BUYER = "280000000000000002"
PIN_NEVER_BUYER = "280000000000000004"
SLOW_REPLY_BUYER = "280000000000000007"  # the sandbox answers the pay after the client gave up


def pin_buyer(seconds: int) -> str:
    """A buyer who confirms with the PIN `seconds` after the pay (README: test buyer codes)."""
    return f"2800000000000003{seconds:02d}"


def test_instant_payment_is_paid(register):
    response = register.pay(PAID_BUYER, amount="12.50", reference="ORDER-1")
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["state"] == "paid"
    assert payment["amount"] == "12.50" and payment["currency"] == "HKD"
    assert payment["reference"] == "ORDER-1"
    assert (payment["store_id"], payment["terminal_id"]) == ("S1", "R1")
    assert payment["alipay_trans_id"]
    assert PAID_BUYER not in response.text  # only the masked code comes back
    trade = SandboxTrade.objects.get(partner_trans_id=payment["partner_trans_id"])
    assert trade.amount == Decimal("12.50") and trade.state == "TRADE_SUCCESS"

    again = register.get(f"/payments/{payment['id']}/")
    assert again.status_code == 200
    assert again.json()["state"] == "paid"
    assert again.json()["id"] == payment["id"]


def test_insufficient_balance_is_failed_with_a_reason(register):
    response = register.pay(BROKE_BUYER)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["state"] == "failed"
    assert payment["failure_code"] == "BUYER_BALANCE_NOT_ENOUGH"
    assert payment["failure_message"]


def test_zero_decimal_currency(register):
    response = register.pay(PAID_BUYER, amount="1200", currency="JPY")
    assert response.status_code == 201, response.text
    assert response.json()["amount"] == "1200"
    assert response.json()["state"] == "paid"


def test_pending_payment_then_wait_returns_paid(register, poller_elsewhere):
    response = register.pay(pin_buyer(12))
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["state"] == "pending"
    assert register.get(f"/payments/{payment['id']}/", wait=0).json()["state"] == "pending"

    answers = {}
    long_poll = threading.Thread(
        target=lambda: answers.update(response=register.get(f"/payments/{payment['id']}/", wait=30))
    )
    long_poll.start()
    # The worker comes back, polls the sandbox (the frozen clock runs through the buyer's PIN
    # delay) and the held request answers as soon as the state changes, long before its 30 s.
    poller_elsewhere.release()
    tasks.run_poller()
    long_poll.join(timeout=20)
    assert not long_poll.is_alive(), "the long poll did not answer when the payment was paid"
    assert answers["response"].status_code == 200
    assert answers["response"].json()["state"] == "paid"
    row = Payment.objects.get(uuid=payment["id"])
    assert row.state == Payment.State.PAID and row.query_count >= 1


def test_wait_on_a_settled_payment_holds_at_most_n_seconds(register):
    payment = register.pay(PAID_BUYER).json()
    started = time.monotonic()
    response = finishes_within(
        20,
        lambda: register.get(f"/payments/{payment['id']}/", wait=1),
        "a 1 s wait on a paid payment held the request longer",
    )
    assert response.json()["state"] == "paid"  # paid may still change (a refund): it waits
    assert time.monotonic() - started >= 0.9  # a lower bound: a busy machine only adds time


def test_wait_from_a_state_already_left_answers_at_once(register):
    """A register that saw `pending` and asks again just after the buyer paid is told now, not
    after its whole wait for a change from `paid`."""
    payment = register.pay(PAID_BUYER).json()
    response = finishes_within(
        10,
        lambda: register.get(f"/payments/{payment['id']}/", wait=30, state="pending"),
        "a wait from a state the payment had already left held the request",
    )
    assert response.json()["state"] == "paid"


def test_wait_on_a_final_payment_answers_at_once(register):
    payment = register.pay(BROKE_BUYER).json()
    response = finishes_within(
        20,
        lambda: register.get(f"/payments/{payment['id']}/", wait=30),
        "a wait on a failed payment (final) held the request instead of answering",
    )
    assert response.json()["state"] == "failed"


def test_cancel_a_pending_payment(register, poller_elsewhere):
    payment = register.pay(PIN_NEVER_BUYER).json()
    assert payment["state"] == "pending"
    response = register.post(f"/payments/{payment['id']}/cancel/")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    trade = SandboxTrade.objects.get(partner_trans_id=payment["partner_trans_id"])
    assert trade.state == "TRADE_CLOSED"
    # Nothing left to cancel.
    again = register.post(f"/payments/{payment['id']}/cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "not_cancellable"


def test_cancel_a_paid_payment_gives_the_money_back(register):
    payment = register.pay(PAID_BUYER).json()
    response = register.post(f"/payments/{payment['id']}/cancel/")
    assert response.status_code == 200, response.text
    assert response.json()["state"] in ("cancelled", "refunded")
    assert SandboxTrade.objects.get(partner_trans_id=payment["partner_trans_id"]).state == (
        "TRADE_CLOSED"
    )


def test_failed_payment_cannot_be_cancelled_or_refunded(register):
    payment = register.pay(BROKE_BUYER).json()
    cancel = register.post(f"/payments/{payment['id']}/cancel/")
    assert (cancel.status_code, cancel.json()["code"]) == (409, "not_cancellable")
    refund = register.post(f"/payments/{payment['id']}/refunds/", {"amount": "1.00"})
    assert (refund.status_code, refund.json()["code"]) == (409, "not_refundable")
    assert not Refund.objects.exists()


def test_partial_refunds_up_to_the_total(register):
    payment = register.pay(PAID_BUYER, amount="100.00").json()
    url = f"/payments/{payment['id']}/refunds/"
    first = register.post(url, {"amount": "30.00", "reason": "one ticket unused"})
    assert first.status_code == 201, first.text
    refund = first.json()
    assert refund["state"] == "succeeded"
    assert (refund["amount"], refund["currency"], refund["payment"]) == (
        "30.00",
        "HKD",
        payment["id"],
    )

    too_large = register.post(url, {"amount": "70.01"})
    assert too_large.status_code == 422
    assert too_large.json()["code"] == "refund_too_large"
    assert too_large.json()["message"]

    rest = register.post(url, {"amount": "70.00"})
    assert rest.status_code == 201 and rest.json()["state"] == "succeeded"
    assert register.get(f"/payments/{payment['id']}/").json()["state"] == "refunded"

    listed = register.get(url).json()
    assert sorted(r["amount"] for r in listed) == ["30.00", "70.00"]
    detail = register.get(f"{url}{refund['id']}/")
    assert detail.status_code == 200 and detail.json() == {**refund, **detail.json()}
    assert detail.json()["id"] == refund["id"]
    assert SandboxRefund.objects.count() == 2

    more = register.post(url, {"amount": "0.01"})
    assert (more.status_code, more.json()["code"]) == (409, "not_refundable")


def test_refund_amount_is_validated_against_the_payments_currency(register):
    payment = register.pay(PAID_BUYER, amount="1000", currency="JPY").json()
    url = f"/payments/{payment['id']}/refunds/"
    for amount in ["1.5", "", "-1", "1e2", "0"]:
        response = register.post(url, {"amount": amount})
        assert (response.status_code, response.json()["code"]) == (400, "invalid_amount"), amount
    assert register.post(url, {"amount": "500"}).status_code == 201
    assert not SandboxRefund.objects.filter(amount__lt=500).exists()


def test_same_key_and_body_gives_the_same_payment_and_one_trade(register):
    first = register.pay(PAID_BUYER, key="till-7-sale-1")
    again = register.pay(PAID_BUYER, key="till-7-sale-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1
    assert SandboxTrade.objects.count() == 1

    other = register.pay(PAID_BUYER, amount="99.00", key="till-7-sale-1")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert Payment.objects.count() == 1 and SandboxTrade.objects.count() == 1


def test_a_refund_retried_with_its_key_is_not_executed_twice(register):
    payment = register.pay(PAID_BUYER).json()
    url = f"/payments/{payment['id']}/refunds/"
    first = register.post(url, {"amount": "10.00"}, key="refund-1")
    again = register.post(url, {"amount": "10.00"}, key="refund-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Refund.objects.count() == 1 and SandboxRefund.objects.count() == 1
    # The same key on another payment is another request: refused, not replayed.
    second_payment = register.pay(PAID_BUYER).json()
    reused = register.post(
        f"/payments/{second_payment['id']}/refunds/", {"amount": "10.00"}, key="refund-1"
    )
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")


def test_a_stored_refusal_is_replayed(register):
    payment = register.pay(PAID_BUYER, amount="10.00").json()
    url = f"/payments/{payment['id']}/refunds/"
    first = register.post(url, {"amount": "20.00"}, key="k-too-much")
    again = register.post(url, {"amount": "20.00"}, key="k-too-much")
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_missing_key_moves_no_money(register):
    response = register.post(
        "/payments/",
        {"amount": "1.00", "currency": "HKD", "description": "x", "buyer_code": PAID_BUYER},
        key=None,
    )
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")
    assert not SandboxTrade.objects.exists()


def test_other_stores_payments_are_not_found(register, other_register):
    payment = register.pay(PAID_BUYER).json()
    pid = payment["id"]
    for response in [
        other_register.get(f"/payments/{pid}/"),
        other_register.get(f"/payments/{pid}/refunds/"),
        other_register.post(f"/payments/{pid}/cancel/"),
        other_register.post(f"/payments/{pid}/refunds/", {"amount": "1.00"}),
    ]:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert Payment.objects.get(uuid=pid).state == Payment.State.PAID
    assert not Refund.objects.exists()
    refund = register.post(f"/payments/{pid}/refunds/", {"amount": "1.00"}).json()
    assert other_register.get(f"/payments/{pid}/refunds/{refund['id']}/").status_code == 404


def test_no_or_wrong_token_is_401(register, live_server):
    payment = register.pay(PAID_BUYER).json()
    url = f"{live_server.url}/api/v1/payments/{payment['id']}/"
    for headers in [{}, {"Authorization": "Token nope"}, {"Authorization": "Bearer x"}]:
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_bad_input_over_http_is_json_4xx(register, live_server):
    url = f"{live_server.url}/api/v1/payments/"
    headers = {"Authorization": register.session.headers["Authorization"], "Idempotency-Key": "k"}
    cases = [
        (
            requests.post(
                url,
                data="{bad",
                headers={**headers, "Content-Type": "application/json"},
                timeout=10,
            ),
            400,
            "malformed_json",
        ),
        (
            requests.post(url, data={"amount": "1"}, headers=headers, timeout=10),
            415,
            "unsupported_media_type",
        ),
        (register.pay(PAID_BUYER, amount="1e2"), 400, "invalid_amount"),
        (register.pay(PAID_BUYER, currency="XYZ"), 400, "unsupported_currency"),
        (register.pay("123"), 400, "invalid_buyer_code"),
    ]
    for response, status, code in cases:
        assert response.status_code == status
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["code"] == code
    assert not SandboxTrade.objects.exists()


@pytest.fixture
def held_reply(alipay_gateway, settings):
    """The sandbox behind a relay that keeps each reply until the test lets it go, then drops it.

    The reply is lost as a read timeout loses it, but when the test says so rather than after a
    fixed second, so a request sent meanwhile surely finds the first one still running however
    slow the machine. `.arrived` is set once the sandbox has the request and has done its work.
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    sandbox = alipay_gateway["GATEWAY_URL"].split("/sandbox/")[0]

    class Relay(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            # The sandbox holds this reply too (SANDBOX_SLOW_REPLY_SECONDS): its work is done then.
            requests.post(
                sandbox + self.path,
                data=body,
                headers={"Content-Type": self.headers["Content-Type"]},
                timeout=60,
            )
            held.arrived.set()
            held.release.wait(60)
            self.close_connection = True  # no reply at all: the client's read fails

        def log_message(self, *args):
            pass

    class Held:
        arrived = threading.Event()
        release = threading.Event()

    held = Held()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    settings.ALIPAY = {
        **alipay_gateway,
        "GATEWAY_URL": f"http://127.0.0.1:{server.server_port}/sandbox/gateway.do",
        "READ_TIMEOUT": 60.0,
    }
    yield held
    held.release.set()
    server.shutdown()
    server.server_close()


def test_a_duplicate_sent_while_the_first_runs_is_told_to_wait(
    register, poller_elsewhere, held_reply
):
    """A register that times out and resends at once: the resend must not start a second sale."""
    from payments.api.models import IdempotencyRecord

    answers = {}
    first = threading.Thread(
        target=lambda: answers.update(first=register.pay(SLOW_REPLY_BUYER, key="sale-42"))
    )
    first.start()
    # The first request has taken the key and is waiting on the gateway, which holds its reply.
    assert held_reply.arrived.wait(60), "the first request never reached the gateway"
    assert IdempotencyRecord.objects.filter(key="sale-42").exists()
    duplicate = register.pay(SLOW_REPLY_BUYER, key="sale-42")
    held_reply.release.set()
    first.join(timeout=60)
    assert not first.is_alive(), "the first request never answered"
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "idempotency_in_progress"
    assert answers["first"].status_code == 201
    assert answers["first"].json()["state"] == "pending"  # the pay reply was lost: query next
    replay = register.pay(SLOW_REPLY_BUYER, key="sale-42")
    assert replay.json()["id"] == answers["first"].json()["id"]
    assert Payment.objects.count() == 1 and SandboxTrade.objects.count() == 1


# --- a request that died mid-way (IdempotencyRecord left in progress) ---------------------------
def sale_body(buyer: str, amount: str = "100.00") -> dict:
    """What Register.pay sends."""
    return {"amount": amount, "currency": "HKD", "description": "Tickets", "buyer_code": buyer}


def test_the_payment_id_at_alipay_derives_from_the_terminal_key_and_request(
    register, other_register, terminal_token
):
    from payments.api.idempotency import request_fingerprint
    from payments.api.views import derive_partner_trans_id

    paid = register.pay(PAID_BUYER, key="sale-7").json()
    fingerprint = request_fingerprint("POST", "/api/v1/payments/", sale_body(PAID_BUYER))
    expected = derive_partner_trans_id(terminal_token[0].idempotency_scope, "sale-7", fingerprint)
    assert paid["partner_trans_id"] == expected
    assert re.fullmatch(r"EK[0-9A-F]{40}", expected)  # docs/alipay.md: <= 64, plain characters
    others = [
        register.pay(PAID_BUYER, key="sale-8").json(),  # another key
        register.pay(PAID_BUYER, amount="99.00", key="sale-7b").json(),
        other_register.pay(PAID_BUYER, key="sale-7").json(),  # the same key at another terminal
    ]
    ids = {paid["partner_trans_id"]} | {payment["partner_trans_id"] for payment in others}
    assert len(ids) == 4
    assert SandboxTrade.objects.count() == 4


def test_a_sale_left_in_progress_by_a_crash_is_answered_once_stale(register, clock):
    """The process died after the pay, before the answer was stored: the register's retries are
    told to wait until the stale age, then answered with that payment, never charged again."""
    from payments.api.idempotency import stale_after
    from payments.api.models import IdempotencyRecord
    from payments.models import GatewayExchange

    first = register.pay(PAID_BUYER, key="sale-crash")
    assert first.status_code == 201 and first.json()["state"] == "paid"
    # What the crash leaves: the payment (made by the real request) and the key in progress.
    IdempotencyRecord.objects.filter(key="sale-crash").update(
        state=IdempotencyRecord.State.IN_PROGRESS, response_status=None, response_body=None
    )

    for seconds in (0, stale_after().total_seconds() - 1):
        clock.advance(seconds)
        waiting = register.pay(PAID_BUYER, key="sale-crash")
        assert (waiting.status_code, waiting.json()["code"]) == (409, "idempotency_in_progress")
    clock.advance(2)
    other = register.pay(PAID_BUYER, amount="99.00", key="sale-crash")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")

    retry = register.pay(PAID_BUYER, key="sale-crash")
    assert retry.status_code == 201, retry.text
    assert "Idempotent-Replayed" not in retry.headers  # run again, and found the payment
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["state"] == "paid"
    assert retry.json()["partner_trans_id"] == first.json()["partner_trans_id"]
    assert Payment.objects.count() == 1
    assert SandboxTrade.objects.count() == 1
    assert GatewayExchange.objects.filter(service__endswith="spot.pay").count() == 1

    replay = register.pay(PAID_BUYER, key="sale-crash")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert IdempotencyRecord.objects.get(key="sale-crash").state == IdempotencyRecord.State.DONE


def test_two_retries_of_a_sale_that_died_before_paying_pay_it_once(
    register, terminal_token, live_server, clock, poller_elsewhere
):
    """The process died before the payment existed. Two retries arrive together once the key is
    stale: one takes it over and pays (slowly: the sandbox holds the reply), the other is told
    to wait (or, if it came after, gets the answer replayed)."""
    from payments.api.idempotency import IDEMPOTENCY_TTL, request_fingerprint, stale_after
    from payments.api.models import IdempotencyRecord

    body = sale_body(SLOW_REPLY_BUYER)
    now = clock.now()
    IdempotencyRecord.objects.create(
        scope=terminal_token[0].idempotency_scope,
        key="sale-9",
        fingerprint=request_fingerprint("POST", "/api/v1/payments/", body),
        created_at=now,
        expires_at=now + IDEMPOTENCY_TTL,
    )
    assert register.pay(SLOW_REPLY_BUYER, key="sale-9").status_code == 409
    clock.advance(stale_after().total_seconds() + 1)

    registers = [Register(live_server.url, terminal_token[1]) for _ in range(2)]
    together = threading.Barrier(2)
    answers = {}

    def retry(index: int) -> None:
        together.wait(10)
        answers[index] = registers[index].pay(SLOW_REPLY_BUYER, key="sale-9")

    threads = [threading.Thread(target=retry, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    ran = [
        a
        for a in answers.values()
        if a.status_code == 201 and "Idempotent-Replayed" not in a.headers
    ]
    assert len(ran) == 1, [(a.status_code, a.text) for a in answers.values()]
    paid = ran[0].json()
    (other,) = [a for a in answers.values() if a is not ran[0]]
    if other.status_code == 409:
        assert other.json()["code"] == "idempotency_in_progress"
    else:
        assert other.headers["Idempotent-Replayed"] == "true"
        assert other.json()["id"] == paid["id"]
    assert Payment.objects.count() == 1 and SandboxTrade.objects.count() == 1
    assert register.pay(SLOW_REPLY_BUYER, key="sale-9").json()["id"] == paid["id"]
