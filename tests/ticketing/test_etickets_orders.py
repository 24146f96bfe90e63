"""E-tickets of real orders: the PDF from the database, the gate's verdicts, delivery by e-mail,
and what gates fetch (public key, revocation list).

Orders are booked through ticketing.orders; `paid_order` then marks one paid and issues its
tickets with the same function the payment receiver uses, so these tests need no gateway. The
end-to-end test at the bottom pays through the sandbox wallet over HTTP instead.
"""

from __future__ import annotations

import datetime as dt
import io
import socket
import threading
import uuid

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core import mail
from django.db import connection
from django.urls import reverse
from pypdf import PdfReader

from payments import clock as entrada_clock
from ticketing import orders
from ticketing.etickets import checkin, delivery, faces, keys
from ticketing.etickets.exceptions import NoTickets
from ticketing.etickets.faces import format_price, order_faces, order_pdf
from ticketing.etickets.tokens import TicketClaims, issue_token, verify_token
from ticketing.models import Order, OrderEvent, Ticket

from ..helpers import no_worker
from .helpers import Booking, make_attraction, paid_order, tokens_of
from .pdf_helpers import decode_qr_codes, needs_poppler_and_zbar, pdf_text


@pytest.fixture
def tokyo(db) -> Booking:
    return Booking(
        make_attraction(
            slug="tokyo-garden",
            name="Tokyo Garden",
            name_zh="东京花园",
            timezone="Asia/Tokyo",
            currency="JPY",
            address="1-1 Chiyoda, Tokyo",
        )
    )


def local_slot_text(order: Order) -> str:
    tz = order.attraction.tz
    return f"{order.slot.starts_at.astimezone(tz):%H:%M}–{order.slot.ends_at.astimezone(tz):%H:%M}"


# --- The order's PDF ----------------------------------------------------------------------------


def test_the_order_pdf_has_a_page_per_admission_in_local_time_and_currency(
    tokyo, django_assert_num_queries
):
    order = paid_order(tokyo, adult=1, family=1)
    keys.key_ring()  # load (or make) the key outside the counted queries: it is not a query
    with django_assert_num_queries(1):
        order_faces(order.pk)
    pages = pdf_text(order_pdf(order))
    assert len(pages) == 5  # an adult, and a family ticket's four admissions
    slot_text = local_slot_text(order)
    assert slot_text == (
        f"{order.slot.starts_at + dt.timedelta(hours=9):%H:%M}–"
        f"{order.slot.ends_at + dt.timedelta(hours=9):%H:%M}"
    )
    for number, text in enumerate(pages, start=1):
        assert order.code in text
        assert slot_text in text and "Asia/Tokyo" in text
        assert "Tokyo Garden" in text and "Ada Buyer" in text
        assert f"Ticket {number} of 5" in text
    assert "JPY 80" in pages[0] and "JPY 80.00" not in pages[0]
    assert "JPY 200" in pages[1] and "Admission 1 of 4" in pages[1]
    assert "Admission 4 of 4" in pages[4]


def test_a_chinese_order_is_printed_in_chinese(booking):
    order = paid_order(booking, language="zh-hans", adult=1)
    text = pdf_text(order_pdf(order.pk))[0]
    for expected in ("测试花园", "adult-zh", "日期", "票价", "CNY 80.00", order.code, "年", "星期"):
        assert expected in text, (expected, text)


def test_prices_use_the_currencys_decimals():
    from decimal import Decimal

    assert format_price(Decimal("3000"), "JPY") == "JPY 3,000"
    assert format_price(Decimal("1234.5"), "CNY") == "CNY 1,234.50"
    assert format_price(Decimal("0"), "KRW") == "KRW 0"


def test_unpaid_and_cancelled_orders_have_no_pdf(booking):
    held = booking.order(booking.slot(), adult=1)
    with pytest.raises(NoTickets) as caught:
        order_pdf(held)
    assert caught.value.code == "no_tickets" and caught.value.http_status == 409
    paid = paid_order(booking, adult=2)
    orders.cancel_order(paid, actor="test")
    with pytest.raises(NoTickets):
        order_pdf(paid)


# --- What the gate decides ---------------------------------------------------------------------


def at_entry(order: Order):
    """A moment inside the order's entry window (the gate refuses tickets outside it)."""
    return order.slot.starts_at


def test_a_valid_ticket_passes_and_a_revoked_one_is_refused(booking, clock):
    order = paid_order(booking, adult=2)
    first, second = tokens_of(order)
    clock.freeze(at_entry(order))
    verdict = checkin.check_ticket(first)
    assert verdict.ok and verdict.code == "valid"
    assert verdict.ticket.order_id == order.pk and verdict.ticket.number == 1
    orders.cancel_order(order, actor="test")
    for token in (first, second):
        verdict = checkin.check_ticket(token)
        assert not verdict.ok and verdict.code == "revoked"
        assert verdict.message == "This ticket was cancelled or refunded."


def test_used_unknown_mismatched_and_forged_tickets_are_refused(booking, clock):
    order = paid_order(booking, adult=2)
    used, other = order.tickets.order_by("number")
    Ticket.objects.filter(pk=used.pk).update(state=Ticket.State.USED, used_at=entrada_clock.now())
    assert checkin.check_ticket(faces.ticket_token(used)).code == "used"

    signing = keys.signing_key()
    unknown = TicketClaims(uuid.uuid4(), order.slot.starts_at, order.attraction_id, 1, 1)
    assert checkin.check_ticket(issue_token(unknown, signing)).code == "unknown_ticket"
    moved = faces.ticket_claims(other)
    moved = TicketClaims(
        moved.ticket_uuid,
        moved.slot_start + dt.timedelta(days=1),
        moved.attraction_id,
        moved.ticket_type_id,
        1,
    )
    assert checkin.check_ticket(issue_token(moved, signing)).code == "mismatch"

    genuine = faces.ticket_token(other)
    forged = genuine[:40] + ("A" if genuine[40] != "A" else "B") + genuine[41:]
    for bad in (forged, genuine[:-1], "", "not a ticket"):
        verdict = checkin.check_ticket(bad)
        assert not verdict.ok and verdict.code == "invalid_token"
    clock.freeze(at_entry(order))
    assert checkin.check_ticket(genuine).ok


def test_offline_check_uses_the_public_key_and_revocation_list_only(booking, clock):
    order = paid_order(booking, adult=1)
    token = tokens_of(order)[0]
    ticket_uuid = order.tickets.get().uuid
    public = keys.public_keys()
    clock.freeze(at_entry(order))
    assert checkin.check_offline(token, public, revoked=set()).ok
    assert checkin.check_offline(token, public, revoked={ticket_uuid}).code == "revoked"
    assert checkin.check_offline(token[::-1], public, revoked=set()).code == "invalid_token"


def test_admitting_marks_the_ticket_used_once_with_an_audit_record(booking, clock):
    order = paid_order(booking, adult=2)
    first, second = tokens_of(order)
    clock.freeze(at_entry(order))
    verdict = checkin.admit(first, actor="gate-1")
    assert verdict.ok and verdict.code == "admitted" and verdict.ticket.number == 1
    again = checkin.admit(first, actor="gate-2")
    assert not again.ok and again.code == "used"
    assert checkin.check_ticket(first).code == "used"
    assert checkin.check_ticket(second).code == "valid"  # the other admission is untouched
    events = list(OrderEvent.objects.filter(order=order, kind="ticket_used"))
    assert len(events) == 1 and events[0].actor == "gate-1"
    assert events[0].detail == {"ticket": 1, "uuid": str(verdict.ticket.uuid)}


def test_a_revoked_or_forged_ticket_is_not_admitted(booking):
    order = paid_order(booking, adult=1)
    token = tokens_of(order)[0]
    orders.cancel_order(order, actor="test")
    assert checkin.admit(token, actor="gate").code == "revoked"
    # Alter one signature character to a value it certainly does not already hold.
    position = len(token) - 10
    forged = token[:position] + ("B" if token[position] == "A" else "A") + token[position + 1 :]
    assert checkin.admit(forged, actor="gate").code == "invalid_token"
    assert order.tickets.get().state == Ticket.State.REVOKED
    assert not OrderEvent.objects.filter(kind="ticket_used").exists()


@pytest.mark.django_db(transaction=True)
def test_two_gates_scanning_the_same_code_at_once_admit_one_visitor(booking, clock):
    order = paid_order(booking, adult=1)
    token = tokens_of(order)[0]
    clock.freeze(at_entry(order))
    gates = 6
    barrier = threading.Barrier(gates)
    verdicts, errors = [], []

    def scan(number: int) -> None:
        try:
            barrier.wait()
            verdicts.append(checkin.admit(token, actor=f"gate-{number}").code)
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(gates)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(verdicts) == ["admitted"] + ["used"] * (gates - 1)
    assert OrderEvent.objects.filter(order=order, kind="ticket_used").count() == 1


# --- Public key and revocation list over HTTP ---------------------------------------------------


def test_the_published_public_key_verifies_ticket_tokens(booking, client):
    order = paid_order(booking, adult=1)
    token = tokens_of(order)[0]
    response = client.get(reverse("etickets:public-key"))
    assert response.status_code == 200
    body = response.json()
    assert body["algorithm"] == "Ed25519" and body["token"]["length"] == 154
    key = load_pem_public_key(body["public_key_pem"].encode())
    assert verify_token(token, key).ticket_uuid == order.tickets.get().uuid
    assert body["keys"][0]["key_id"] == body["key_id"]
    pem = client.get(reverse("etickets:public-key-pem"))
    assert pem.content.decode() == body["public_key_pem"]
    assert (
        client.get(reverse("etickets:public-key"), HTTP_IF_NONE_MATCH=response["ETag"]).status_code
        == 304
    )
    assert client.post(reverse("etickets:public-key")).status_code == 405


def test_the_revocation_list_is_incremental_and_cacheable(booking, client, clock):
    url = reverse("etickets:revoked")
    first = paid_order(booking, adult=2)
    kept = paid_order(booking, adult=1)
    empty = client.get(url)
    assert empty.status_code == 200 and empty.json()["revoked"] == []

    orders.cancel_order(first, actor="test")
    revoked_at = entrada_clock.now()
    listed = client.get(url)
    body = listed.json()
    assert {entry["uuid"] for entry in body["revoked"]} == {
        str(t.uuid) for t in first.tickets.all()
    }
    assert str(kept.tickets.get().uuid) not in listed.content.decode()
    assert listed["ETag"].startswith('W/"')
    assert client.get(url, HTTP_IF_NONE_MATCH=listed["ETag"]).status_code == 304
    assert client.get(url, HTTP_IF_NONE_MATCH=empty["ETag"]).status_code == 200

    clock.advance(60)
    later = client.get(url, {"since": (revoked_at + dt.timedelta(seconds=1)).isoformat()})
    assert later.json()["revoked"] == []
    again = client.get(url, {"since": body["next_since"]})
    assert len(again.json()["revoked"]) == 2  # entries at exactly `since` come again


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45T00:00:00Z", "x" * 500, "1700000000"])
def test_a_bad_since_is_a_clear_400(db, client, since):
    response = client.get(reverse("etickets:revoked"), {"since": since})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_since"
    assert "since" in response.json()["fields"]


# --- Delivery by e-mail ---------------------------------------------------------------------------


def test_the_tickets_are_mailed_once_with_the_pdf_attached(booking):
    order = paid_order(booking, adult=1, child=1)
    assert delivery.send_order_tickets(order.pk) == "sent"
    assert delivery.send_order_tickets(order.pk) == "already_sent"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert order.code in message.subject and "Test Garden" in message.subject
    assert "Ada Buyer" in message.body and local_slot_text(order) in message.body
    name, content, mimetype = message.attachments[0]
    assert name == f"entrada-tickets-{order.code}.pdf" and mimetype == "application/pdf"
    assert len(PdfReader(io.BytesIO(content)).pages) == 2
    order.refresh_from_db()
    assert order.tickets_sent_at is not None


def test_a_chinese_buyer_gets_a_chinese_e_mail(booking):
    order = paid_order(booking, language="zh-hans", adult=1)
    delivery.send_order_tickets(order.pk)
    message = mail.outbox[0]
    assert "您的测试花园门票" in message.subject
    assert "电子门票" in message.body and "Ada Buyer，您好" in message.body


def test_an_unpaid_order_is_not_mailed(booking):
    order = booking.order(booking.slot(), adult=1)
    assert delivery.send_order_tickets(order.pk) == "not_paid"
    assert delivery.send_order_tickets(999_999) == "not_paid"
    assert mail.outbox == []


def test_a_failed_send_gives_the_claim_back_so_a_retry_can_send(booking, settings):
    order = paid_order(booking, adult=1)
    with socket.socket() as probe:  # a port nothing listens on: the SMTP connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    with pytest.raises(OSError):
        delivery.send_order_tickets(order.pk)
    order.refresh_from_db()
    assert order.tickets_sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert delivery.send_order_tickets(order.pk) == "sent"
    assert len(mail.outbox) == 1


# --- End to end: paid through the sandbox wallet ------------------------------------------------


@needs_poppler_and_zbar
@pytest.mark.django_db(transaction=True)
def test_paid_through_the_sandbox_the_mailed_pdf_scans_and_a_refund_revokes_it(
    alipay_gateway, clock, booking, client, tmp_path
):
    from payments.sandbox.models import SandboxTrade
    from payments.sandbox.notify import deliver_due_notifications
    from payments.sandbox.trades import buyer_confirms

    order = booking.order(booking.slot(), adult=1, family=1)
    with no_worker():
        payment = orders.start_payment(order)
    assert buyer_confirms(SandboxTrade.objects.get(partner_trans_id=payment.partner_trans_id))
    deliver_due_notifications()
    order.refresh_from_db()
    assert order.state == Order.State.PAID and order.tickets_sent_at is not None

    sent = [m for m in mail.outbox if m.attachments and order.code in m.subject]
    assert len(sent) == 1
    pdf = sent[0].attachments[0][1]
    pages = pdf_text(pdf)
    assert len(pages) == 5 and all(order.code in p and local_slot_text(order) in p for p in pages)
    scanned = decode_qr_codes(pdf, tmp_path)
    public = load_pem_public_key(
        client.get(reverse("etickets:public-key")).json()["public_key_pem"].encode()
    )
    uuids = {str(verify_token(token, public).ticket_uuid) for token in scanned}
    assert uuids == {str(t.uuid) for t in order.tickets.all()}
    assert all(checkin.check_ticket(token, now=at_entry(order)).ok for token in scanned)

    orders.cancel_order(order, actor="test")
    assert {checkin.check_ticket(token).code for token in scanned} == {"revoked"}
    listed = {e["uuid"] for e in client.get(reverse("etickets:revoked")).json()["revoked"]}
    assert listed == uuids
