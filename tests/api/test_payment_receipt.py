"""GET /api/v1/payments/{id}/receipt.pdf: a terminal prints a payment's 80 mm receipt, read back
with pypdf; another store's terminal never gets it, and errors stay JSON."""

from __future__ import annotations

import io

from pypdf import PdfReader
from reportlab.lib.units import mm

from payments.models import Payment

from .helpers import PAID_BUYER


def pdf_text(content: bytes) -> tuple[str, PdfReader]:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages), reader


def test_a_paid_payments_receipt_shows_alipays_ids_and_amounts(register):
    created = register.pay(PAID_BUYER, amount="12.50", description="Garden tickets").json()
    payment = Payment.objects.get(uuid=created["id"])
    response = register.session.get(
        f"{register.base}/payments/{created['id']}/receipt.pdf",
        headers={"Accept": "application/pdf"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    text, reader = pdf_text(response.content)
    assert len(reader.pages) == 1
    assert round(float(reader.pages[0].mediabox.width)) == round(80 * mm)
    assert payment.alipay_trans_id and payment.alipay_trans_id in text
    assert "HKD 12.50" in text and "Garden tickets" in text
    if payment.amount_cny is not None:
        assert f"CNY {payment.amount_cny:,.2f}" in text


def test_the_receipt_in_chinese(register):
    created = register.pay(PAID_BUYER, amount="30.00").json()
    response = register.get(f"/payments/{created['id']}/receipt.pdf", language="zh-hans")
    assert response.status_code == 200
    text, _reader = pdf_text(response.content)
    assert "收据" in text


def test_another_stores_terminal_gets_a_json_404_and_bad_input_a_400(register, other_register):
    created = register.pay(PAID_BUYER).json()
    refused = other_register.get(f"/payments/{created['id']}/receipt.pdf")
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found"
    assert register.get("/payments/not-a-uuid/receipt.pdf").status_code == 404
    bad = register.get(f"/payments/{created['id']}/receipt.pdf", language="fr")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
