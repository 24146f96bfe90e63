"""A whole shift at the box office on a phone-sized screen (mPOS), in headless Chromium.

The cashier signs in and opens a shift with a float, sells one sale in cash (change due shown)
and one with the buyer's Alipay code typed (the sandbox's instant-success test buyer), refunds the
cash sale with a supervisor's password, counts the drawer and closes the shift, then the Z report
PDF is read back with pypdf and its totals checked against the sales. A second test decodes a
generated QR code and a Code128 barcode of a buyer code in the browser (BarcodeDetector or the
vendored ZXing) and pays with a photo of the code. Screenshots go to
test-artifacts/box_office_shift/.
"""

from __future__ import annotations

import base64
import io
import re
from decimal import Decimal

import pytest
import segno
from django.contrib.auth.models import Group, User
from pypdf import PdfReader
from reportlab.graphics import renderSVG
from reportlab.graphics.barcode import createBarcodeDrawing

from ticketing.counter import shifts
from ticketing.models import CounterRefund, Order, Shift, Till
from ticketing.views.box_office import BOX_OFFICE_GROUP, SUPERVISORS_GROUP

from ..browser import MARKS, artifacts, chromium_context, expect
from ..payments.helpers import SUCCESS
from ..ticketing.helpers import Booking, make_attraction

pytestmark = MARKS

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "has_touch": True}


@pytest.fixture
def phone(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "profile", **PHONE) as context:
        yield context


@pytest.fixture
def counter_world(live_server, alipay_gateway, settings, clock):
    settings.ALIPAY = {**alipay_gateway, "READ_TIMEOUT": 15.0}
    settings.BOX_OFFICE_VARIANCE_THRESHOLD = "5"
    booking = Booking(make_attraction())
    Till.objects.create(name="Counter 1")
    cashiers = Group.objects.get_or_create(name=BOX_OFFICE_GROUP)[0]
    supervisors = Group.objects.get_or_create(name=SUPERVISORS_GROUP)[0]
    User.objects.create_user("cashier-mei", password="pw-mei-12345").groups.add(cashiers)
    boss = User.objects.create_user("boss-li", password="pw-li-123456")
    boss.groups.add(cashiers, supervisors)
    return booking


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/box-office/")
    page.get_by_label("Username").fill("cashier-mei")
    page.get_by_label("Password").fill("pw-mei-12345")
    page.get_by_role("button", name="Sign in").click()


def no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], f"the page scrolls sideways ({width}px)"


def test_a_whole_shift_on_a_phone(phone, live_server, counter_world):
    booking = counter_world
    slot = booking.slot(capacity=20)
    base = live_server.url
    shots = artifacts("box_office_shift")
    page = phone.new_page()

    # 1. Sign in: no shift yet, so the box office asks for one. Open it with a float.
    sign_in(page, base)
    expect(page.get_by_role("heading", name="Open a shift")).to_be_visible()
    expect(page.get_by_role("link", name="Find my tickets")).to_have_count(0)  # staff page
    page.get_by_label("Opening float (cash in the drawer)").fill("200.00")
    page.screenshot(path=str(shots / "01-open-shift.png"), full_page=True)
    page.get_by_role("button", name="Open shift").click()
    expect(page.get_by_test_id("till")).to_contain_text("Counter 1")

    # 2a. A cash sale: two adults with the + button, the total in view, change due shown.
    page.goto(f"{base}/box-office/?date={slot.local_date.isoformat()}")
    expect(page.locator(f'input[name="slot"][value="{slot.pk}"]')).to_be_checked()
    adult = booking.types["adult"].pk
    plus = page.locator(f'button[data-step="1"][data-for="id_q_{adult}"]')
    plus.click()
    plus.click()
    expect(page.get_by_test_id("running-total")).to_have_text("CNY 160.00")
    expect(page.get_by_test_id("running-total")).to_be_in_viewport()
    no_horizontal_scroll(page)
    page.screenshot(path=str(shots / "02-counter.png"), full_page=False)
    page.get_by_role("button", name="Hold places and take payment").click()
    expect(page.get_by_test_id("pay-total")).to_have_text("CNY 160.00")
    expect(page.locator("[data-hold-left]")).to_have_text(re.compile(r"^1?\d:\d\d$"))
    page.get_by_label("Cash handed over").fill("200")
    expect(page.get_by_test_id("change-due")).to_have_text("CNY 40.00")
    no_horizontal_scroll(page)
    page.screenshot(path=str(shots / "03-cash.png"), full_page=True)
    page.get_by_test_id("take-cash").click()
    expect(page.get_by_test_id("paid")).to_be_visible()
    expect(page.get_by_test_id("change")).to_contain_text("CNY 40.00")
    cash_order = Order.objects.get(counter_sale__method="cash")
    assert cash_order.state == Order.State.PAID and cash_order.buyer_name == ""
    page.screenshot(path=str(shots / "04-receipt.png"), full_page=True)
    page.get_by_test_id("print-receipt").click()
    expect(page.get_by_test_id("slip")).to_contain_text("Change")
    expect(page.get_by_test_id("slip")).to_contain_text("Walk-in")
    expect(page.get_by_test_id("slip")).not_to_contain_text("Box office")
    page.screenshot(path=str(shots / "05-sale-slip.png"), full_page=True)

    # 2b. An Alipay sale, keyboard only: + in the quantity, Enter, the code typed, Enter.
    page.goto(f"{base}/box-office/?date={slot.local_date.isoformat()}")
    page.locator(f"#id_q_{booking.types['child'].pk}").focus()
    page.keyboard.press("+")
    expect(page.get_by_test_id("running-total")).to_have_text("CNY 40.00")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Buyer's payment code")).to_be_visible()
    page.get_by_label("Buyer's payment code").focus()
    page.keyboard.type(SUCCESS)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("paid")).to_be_visible()
    alipay_order = Order.objects.get(counter_sale__method="alipay")
    expect(page.get_by_test_id("alipay-trans-id")).to_have_text(
        alipay_order.payment.alipay_trans_id
    )

    # 3. Refund the cash sale: a supervisor approves; the cash comes out of the drawer.
    page.goto(f"{base}/box-office/orders/{cash_order.code}/")
    page.get_by_label("Supervisor's username").fill("boss-li")
    page.get_by_label("Supervisor's password").fill("pw-li-123456")
    page.get_by_label("Reason").fill("wrong day")
    page.get_by_role("button", name="Refund and cancel").click()
    expect(page.get_by_text("pay the refund out of the drawer")).to_be_visible()
    assert page.url.endswith(f"/box-office/orders/{cash_order.code}/")  # redirected: PRG
    page.reload()  # re-sends nothing
    assert CounterRefund.objects.filter(order=cash_order).count() == 1
    cash_order.refresh_from_db()
    assert cash_order.state == Order.State.REFUNDED
    page.get_by_test_id("refund-slip").click()
    expect(page.get_by_test_id("slip")).to_contain_text("Refunded in cash")
    page.screenshot(path=str(shots / "06-refund-slip.png"), full_page=True)

    # 4. Close the shift with the drawer counted: 200 float + 160 - 160 = 200 expected.
    page.get_by_test_id("close-shift").click()
    expect(page.get_by_test_id("expected")).to_have_text("CNY 200.00")
    page.get_by_label("CNY 100.00").fill("1")
    page.get_by_label("CNY 50.00").fill("2")
    expect(page.get_by_test_id("variance")).to_have_text("CNY 0.00")
    no_horizontal_scroll(page)
    page.screenshot(path=str(shots / "07-close.png"), full_page=True)
    page.get_by_role("button", name="Close shift").click()
    expect(page.get_by_test_id("slip")).to_contain_text("Z report")
    page.screenshot(path=str(shots / "08-z-report.png"), full_page=True)
    shift = Shift.objects.get()
    assert shift.state == Shift.State.CLOSED and shift.variance == 0

    # 5. The Z report's PDF, read back: its totals are the sales'.
    pdf_url = page.get_by_test_id("slip-pdf").get_attribute("href")
    response = page.request.get(base + pdf_url)
    assert response.ok and response.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.body())).pages[0].extract_text()
    lines = [" ".join(line.split()) for line in text.splitlines()]

    def amount(label: str) -> Decimal:
        line = next(line for line in lines if line.startswith(label))
        return Decimal(line.rsplit("CNY", 1)[1].replace(",", "").strip())

    assert amount("Cash (1)") == cash_order.total == Decimal("160.00")
    assert amount("Alipay (1)") == alipay_order.payment.amount == Decimal("40.00")
    assert amount("Gross sales") == Decimal("200.00")
    assert "-CNY 160.00" in next(
        line for line in lines if line.startswith("Cash (1)") and "-" in line
    )
    assert amount("Net sales") == Decimal("40.00")
    assert amount("Opening float") == Decimal("200.00")
    assert amount("Expected cash") == amount("Counted cash") == Decimal("200.00")
    assert amount("Variance") == Decimal("0.00")
    assert amount("2 × Adult") == Decimal("160.00") and amount("1 × Child") == Decimal("40.00")
    assert shifts.current_shift(User.objects.get(username="cashier-mei")) is None


def _png_uri(code: str) -> str:
    return segno.make_qr(code, error="m").png_data_uri(scale=8, border=4)


def _code128_uri(code: str) -> str:
    drawing = createBarcodeDrawing(
        "Code128", value=code, barHeight=80, barWidth=2, humanReadable=False, quiet=True
    )
    svg = renderSVG.drawToString(drawing).encode()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def test_the_camera_decoder_reads_generated_codes_and_a_photo_pays(
    phone, live_server, counter_world, tmp_path
):
    booking = counter_world
    slot = booking.slot(capacity=5)
    cashier = User.objects.get(username="cashier-mei")
    shifts.open_shift(
        till=Till.objects.get(), cashier=cashier, currency="CNY", opening_float="0", actor="t"
    )
    page = phone.new_page()
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/box-office/?date={slot.local_date.isoformat()}")
    page.locator(f"#id_q_{booking.types['adult'].pk}").fill("1")
    page.get_by_role("button", name="Hold places and take payment").click()
    expect(page.get_by_test_id("pay-total")).to_have_text("CNY 80.00")

    # The scanner's script is deferred: on a busy machine the page is shown before it has run.
    page.wait_for_function("window.EntradaScan !== undefined")
    decoder = page.evaluate("window.EntradaScan.decoder()")
    assert decoder in ("BarcodeDetector", "ZXing")
    for uri in (_png_uri(SUCCESS), _code128_uri(SUCCESS)):
        decoded = page.evaluate(
            """async (uri) => {
                const image = new Image();
                image.src = uri;
                await image.decode();
                return window.EntradaScan.decode(image);
            }""",
            uri,
        )
        assert decoded == SUCCESS, (decoder, uri[:30])

    # A photo of the buyer's code (where the live camera is not allowed: plain http) pays.
    photo = tmp_path / "buyer-code.png"
    segno.make_qr(SUCCESS, error="m").save(str(photo), scale=10, border=4)
    expect(page.locator("#scan-photo-label")).to_be_visible()
    page.get_by_test_id("scan-photo").set_input_files(str(photo))
    expect(page.get_by_test_id("paid")).to_be_visible()
    order = Order.objects.get()
    assert order.state == Order.State.PAID and order.payment.buyer_code_masked
