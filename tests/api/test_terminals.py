"""Terminals and their tokens: `create_terminal`, hashed storage, rotation, the admin."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from payments.api.models import Store, Terminal, TerminalToken, hash_token

from .helpers import status_with


def create_terminal(*args) -> str:
    out = io.StringIO()
    call_command("create_terminal", *args, stdout=out)
    return out.getvalue()


def token_from(output: str) -> str:
    lines = output.splitlines()
    return lines[lines.index("Token (shown only now; store it in the terminal):") + 1]


@pytest.mark.django_db
def test_create_terminal_prints_a_working_token_stored_only_hashed():
    output = create_terminal("MUSEUM-1", "POS-1", "--store-name", "Museum shop")
    token = token_from(output)
    terminal = Terminal.objects.select_related("store").get()
    assert (terminal.store.store_id, terminal.store.name, terminal.terminal_id) == (
        "MUSEUM-1",
        "Museum shop",
        "POS-1",
    )
    stored = TerminalToken.objects.get(terminal=terminal)
    assert stored.key_hash == hash_token(token) != token
    assert token not in (stored.key_hash, stored.prefix)
    assert status_with(token) == 404


@pytest.mark.django_db
def test_create_terminal_refuses_to_reissue_without_rotate():
    first = token_from(create_terminal("S1", "R1"))
    with pytest.raises(CommandError, match="--rotate"):
        create_terminal("S1", "R1")
    assert status_with(first) == 404  # the existing token still works

    second = token_from(create_terminal("S1", "R1", "--rotate"))
    assert second != first
    assert status_with(first) == 401
    assert status_with(second) == 404
    assert Terminal.objects.count() == 1 and Store.objects.count() == 1


@pytest.mark.django_db
def test_create_terminal_adds_terminals_to_an_existing_store():
    create_terminal("S1", "R1", "--store-name", "First name")
    create_terminal("S1", "R2", "--store-name", "Ignored")
    assert Store.objects.get().name == "First name"
    assert list(Terminal.objects.values_list("terminal_id", flat=True)) == ["R1", "R2"]


@pytest.mark.django_db
@pytest.mark.parametrize("args", [("bad id", "R1"), ("S1", ""), ("S1", "x" * 33), ("S1", '"q"')])
def test_create_terminal_refuses_bad_ids(args):
    with pytest.raises(CommandError):
        create_terminal(*args)
    assert not Terminal.objects.exists()


@pytest.mark.django_db
def test_inactive_terminal_is_refused(terminal_token):
    terminal, token = terminal_token
    assert status_with(token) == 404
    Terminal.objects.filter(pk=terminal.pk).update(active=False)
    assert status_with(token) == 401


def test_admin_shows_a_new_terminals_token_once(admin_client):
    store = Store.objects.create(store_id="S1", name="Shop")
    response = admin_client.post(
        "/admin/partner_api/terminal/add/",
        {"store": store.pk, "terminal_id": "R1", "name": "Front desk", "active": "on"},
        follow=True,
    )  # fmt: skip
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"] if "shown only now" in str(m)]
    assert len(shown) == 1
    token = shown[0].rsplit(": ", 1)[1]
    assert status_with(token) == 404
    # The change page never shows it again.
    page = admin_client.get(f"/admin/partner_api/terminal/{Terminal.objects.get().pk}/change/")
    assert token not in page.content.decode()
