"""Fixtures of the partner API tests (payments/api): a store with two terminals, their tokens, API
clients. The booking API tests (ticketing/api) use the shared `booking` fixture instead."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from payments.api.terminals import get_or_create_terminal, issue_token

from .helpers import Register


@pytest.fixture
def terminal_token(db) -> tuple:
    """(terminal, token) of register R1 in store S1."""
    terminal, _created = get_or_create_terminal("S1", "R1", store_name="Museum shop")
    return terminal, issue_token(terminal)


@pytest.fixture
def other_store_token(db) -> tuple:
    """(terminal, token) of a register in another store."""
    terminal, _created = get_or_create_terminal("S2", "R9", store_name="Zoo gate")
    return terminal, issue_token(terminal)


@pytest.fixture
def api(terminal_token) -> APIClient:
    """DRF's test client authenticated as S1/R1, sending JSON."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {terminal_token[1]}")
    client.default_format = "json"
    return client


@pytest.fixture
def register(alipay_gateway, live_server, terminal_token, clock) -> Register:
    """S1/R1's register, paying through the sandbox on the live server."""
    return Register(live_server.url, terminal_token[1])


@pytest.fixture
def other_register(alipay_gateway, live_server, other_store_token) -> Register:
    """A register of another store."""
    return Register(live_server.url, other_store_token[1])
