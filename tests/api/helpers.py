"""Helpers of the partner API tests: a cash register over real HTTP, and a token's standing."""

from __future__ import annotations

import uuid

import requests
from rest_framework.test import APIClient

PAID_BUYER = "280000000000000001"


class Register:
    """A cash register: the API over HTTP with its terminal token."""

    def __init__(self, base: str, token: str):
        self.base = base + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def post(self, path: str, body: dict | None = None, *, key: str | None = "new"):
        headers = {}
        if key is not None:
            headers["Idempotency-Key"] = str(uuid.uuid4()) if key == "new" else key
        return self.session.post(self.base + path, json=body, headers=headers, timeout=60)

    def get(self, path: str, **params):
        return self.session.get(self.base + path, params=params, timeout=60)

    def pay(self, buyer: str, amount: str = "100.00", currency: str = "HKD", key="new", **extra):
        body = {
            "amount": amount,
            "currency": currency,
            "description": "Tickets",
            "buyer_code": buyer,
        }
        return self.post("/payments/", {**body, **extra}, key=key)


def status_with(token: str) -> int:
    """What the API says to this token: 404 for an unknown payment means it authenticated."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(f"/api/v1/payments/{uuid.uuid4()}/").status_code
