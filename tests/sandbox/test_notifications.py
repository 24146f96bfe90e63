"""Async notifications: signed, POSTed to notify_url, retried with back-off until `success`."""

import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

from payments.alipay.client import AlipayClient
from payments.alipay.config import ClientConfig
from payments.alipay.results import Outcome
from payments.sandbox import notify
from payments.sandbox.models import SandboxNotification, SandboxTrade

from .helpers import EXTEND_INFO, new_id, site_notify_url


class Merchant:
    """A tiny notify endpoint: answers the scripted bodies in turn, records what it received."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.redirect_to = ""
        self.received: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                if outer.redirect_to:
                    outer.received.append({"redirected": self.path})
                    self.send_response(307)
                    self.send_header("Location", outer.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length", 0))
                outer.received.append(dict(parse_qsl(self.rfile.read(length).decode())))
                body = (outer.answers.pop(0) if outer.answers else "success").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.host}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def merchant_endpoint(request, settings):
    """A merchant on another port: another host, so the sandbox must be told to allow it."""
    endpoint = Merchant(getattr(request, "param", ["fail", "success"]))
    settings.SANDBOX_NOTIFY_HOSTS = [endpoint.host]
    yield endpoint
    endpoint.close()


def test_paid_notification_is_signed_and_retried_until_success(
    clock, pay, merchant_endpoint, alipay_gateway
):
    partner_trans_id, _ = pay("280000000000000001", notify_url=merchant_endpoint.url)
    # The first try ran right after the payment committed, and was answered "fail".
    assert len(merchant_endpoint.received) == 1
    row = SandboxNotification.objects.get()
    assert (row.attempts, row.delivered_at) == (1, None)
    assert notify.deliver_due_notifications() == 0  # not due yet: back-off
    clock.advance(120)
    assert notify.deliver_due_notifications() == 1
    assert len(merchant_endpoint.received) == 2
    row.refresh_from_db()
    assert row.delivered_at is not None and row.attempts == 2
    form = merchant_endpoint.received[-1]
    assert form["notify_action_type"] == "payByAccountAction"
    assert (form["out_trade_no"], form["trade_status"]) == (partner_trans_id, "TRADE_SUCCESS")
    assert (form["total_fee"], form["currency"]) == ("10.00", "HKD")
    ours = AlipayClient(ClientConfig.from_mapping(alipay_gateway))
    assert ours.verify_notification(form)
    assert not ours.verify_notification({**form, "total_fee": "1000.00"})
    assert ours.notify_verify(form["notify_id"]) is True
    assert ours.notify_verify("not-a-notify-id") is False


@pytest.mark.parametrize("merchant_endpoint", [["fail"] * 20], indirect=True)
def test_delivery_gives_up_after_eight_tries(clock, pay, merchant_endpoint):
    pay("280000000000000001", notify_url=merchant_endpoint.url)
    for _ in range(10):
        clock.advance(16 * 3600)
        notify.deliver_due_notifications()
    row = SandboxNotification.objects.get()
    assert (row.attempts, row.next_attempt_at, row.delivered_at) == (8, None, None)
    assert len(merchant_endpoint.received) == 8


@pytest.mark.parametrize(
    ("merchant_endpoint", "delivered"),
    [(["success\n"], True), (["OK"], False)],
    indirect=["merchant_endpoint"],
)
def test_the_body_success_acknowledges_a_notification(pay, merchant_endpoint, delivered):
    pay("280000000000000001", notify_url=merchant_endpoint.url)
    assert (SandboxNotification.objects.get().delivered_at is not None) is delivered


def test_the_every_minute_schedule_is_in_place(db):
    from django_q.models import Schedule

    notify.ensure_schedule()
    notify.ensure_schedule()
    schedule = Schedule.objects.get(func=notify.TASK)
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)


@pytest.mark.parametrize("merchant_endpoint", [["OK", "success"]], indirect=True)
def test_a_pin_confirmed_by_the_clock_is_announced_by_the_sweeper(clock, pay, merchant_endpoint):
    pay("280000000000000310", notify_url=merchant_endpoint.url)
    assert merchant_endpoint.received == []  # waiting for the PIN: nothing to announce
    clock.advance(10)
    notify.deliver_due_notifications()  # what the every-minute Schedule runs
    assert [f["trade_status"] for f in merchant_endpoint.received] == ["TRADE_SUCCESS"]


def test_refund_and_cancel_are_notified_too(clock, pay, client, merchant_endpoint):
    partner_trans_id, _ = pay("280000000000000001", "50.00", notify_url=merchant_endpoint.url)
    client.refund(
        partner_trans_id=partner_trans_id,
        partner_refund_id="RN1",
        refund_amount=Decimal("5.00"),
        currency="HKD",
        notify_url=merchant_endpoint.url,
    )
    actions = [f["notify_action_type"] for f in merchant_endpoint.received]
    assert actions == ["payByAccountAction", "refundFPAction"]
    refund_form = merchant_endpoint.received[-1]
    assert (refund_form["partner_refund_id"], refund_form["refund_amount"]) == ("RN1", "5.00")
    stamp = int(clock.now().timestamp() * 1000)
    paid_id, _ = pay("280000000000000001", notify_url=merchant_endpoint.url)
    client.cancel(out_trade_no=paid_id, timestamp_ms=stamp)
    reversed_form = merchant_endpoint.received[-1]
    assert (reversed_form["notify_action_type"], reversed_form["trade_status"]) == (
        "reverseAction",
        "TRADE_CLOSED",
    )
    waiting_id, _ = pay("280000000000000004", notify_url=merchant_endpoint.url)
    client.cancel(out_trade_no=waiting_id, timestamp_ms=stamp)
    closed = merchant_endpoint.received[-1]
    assert (closed["notify_action_type"], closed["out_trade_no"]) == (
        "closeTradeAction",
        waiting_id,
    )


def test_a_notify_url_on_another_host_is_refused_and_never_called(
    pay, client, live_server, settings
):
    """Another port of 127.0.0.1 is another host: unless listed, no trade, and no request."""
    elsewhere = Merchant(["success"])
    try:
        settings.SANDBOX_NOTIFY_HOSTS = ["127.0.0.1:1", "shop.example.com"]
        refused_id, refused = pay("280000000000000001", notify_url=elsewhere.url)
        assert (refused.outcome, refused.code) == (Outcome.CONFIG_ERROR, "INVALID_PARAMETER")
        qr = client.precreate(
            out_trade_no=new_id("Q"),
            amount=Decimal("9.00"),
            currency="HKD",
            subject="Zoo",
            notify_url=elsewhere.url,
            timestamp_ms=1_764_000_000_000,
            extend_params=EXTEND_INFO,
        )
        assert qr.code == "INVALID_PARAMETER"
        paid_id, paid = pay("280000000000000001", notify_url=site_notify_url(client))
        assert paid.ok
        refund = client.refund(
            partner_trans_id=paid_id,
            partner_refund_id="R-ELSEWHERE",
            refund_amount=Decimal("1.00"),
            currency="HKD",
            notify_url=elsewhere.url,
        )
        assert refund.code == "INVALID_PARAMETER"
        notify.deliver_due_notifications()
        assert elsewhere.received == []
        assert not SandboxTrade.objects.filter(partner_trans_id=refused_id).exists()
        assert not SandboxNotification.objects.filter(url=elsewhere.url).exists()
        # Listed, it is accepted.
        settings.SANDBOX_NOTIFY_HOSTS = [elsewhere.host]
        pay("280000000000000001", notify_url=elsewhere.url)
        assert [f["trade_status"] for f in elsewhere.received] == ["TRADE_SUCCESS"]
    finally:
        elsewhere.close()


@pytest.mark.parametrize(
    "notify_url",
    ["http://127.0.0.1:1@{host}/n", "http://{host}\\@127.0.0.1:1/n", "http://{host}:99999/n"],
)
def test_a_notify_url_that_parsers_read_differently_is_refused(pay, merchant_endpoint, notify_url):
    _, result = pay("280000000000000001", notify_url=notify_url.format(host=merchant_endpoint.host))
    assert result.code == "INVALID_PARAMETER"
    assert merchant_endpoint.received == []


def test_a_redirect_from_the_notify_url_is_not_followed(pay, merchant_endpoint, settings):
    target = Merchant(["success"])
    try:
        merchant_endpoint.redirect_to = target.url
        settings.SANDBOX_NOTIFY_HOSTS = [merchant_endpoint.host, target.host]
        pay("280000000000000001", notify_url=merchant_endpoint.url)
        assert merchant_endpoint.received == [{"redirected": "/notify"}]
        assert target.received == []
        row = SandboxNotification.objects.get()
        assert row.delivered_at is None and row.last_response.startswith("307")
    finally:
        target.close()


@pytest.mark.parametrize(
    "merchant_endpoint", [["success" + " " * (8 * 1024 * 1024)]], indirect=True
)
def test_a_huge_answer_is_not_read_and_not_an_acknowledgement(pay, merchant_endpoint):
    _, result = pay("280000000000000001", notify_url=merchant_endpoint.url)
    assert result.ok, result
    row = SandboxNotification.objects.get()
    assert row.delivered_at is None and row.attempts == 1
    assert len(row.last_response) < 300
