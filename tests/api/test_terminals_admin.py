"""Who may see a terminal's token in the admin: creating a terminal and rotating its token show a
working partner-API token, so they need their own permissions; viewing terminals shows none."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from payments.api.models import Terminal, TerminalToken
from tests.staff import (
    codenames,
    messages_of,
    offered_actions,
    role_member,
    run_role_migration,
    signed_in,
    staff_with,
)

from .helpers import status_with

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/partner_api/terminal/"
ADD = "/admin/partner_api/terminal/add/"


def shown_tokens(response) -> list[str]:
    return [m.rsplit(": ", 1)[1] for m in messages_of(response) if "shown only now" in m]


def rotate(client, terminal: Terminal):
    return client.post(
        CHANGELIST, {"action": "rotate_tokens", "_selected_action": [terminal.pk]}, follow=True
    )


def test_view_only_staff_cannot_rotate_a_token(terminal_token):
    terminal, token = terminal_token
    before = TerminalToken.objects.get(terminal=terminal).key_hash
    viewer = signed_in(staff_with("partner_api.view_terminal"))

    assert "rotate_tokens" not in offered_actions(viewer, CHANGELIST)
    response = rotate(viewer, terminal)  # a forged POST of the action

    assert response.status_code == 200
    assert shown_tokens(response) == []
    assert TerminalToken.objects.get(terminal=terminal).key_hash == before
    assert status_with(token) == 404  # the old token still authenticates


def test_changing_terminals_is_not_enough_to_rotate_their_tokens(terminal_token):
    terminal, _token = terminal_token
    editor = signed_in(staff_with("partner_api.view_terminal", "partner_api.change_terminal"))
    assert "rotate_tokens" not in offered_actions(editor, CHANGELIST)
    assert shown_tokens(rotate(editor, terminal)) == []


def test_view_only_staff_cannot_create_a_terminal_and_see_its_token(terminal_token):
    terminal, _token = terminal_token
    viewer = signed_in(staff_with("partner_api.view_terminal", "partner_api.view_store"))
    response = viewer.post(
        ADD, {"store": terminal.store.pk, "terminal_id": "R2", "name": "", "active": "on"}
    )
    assert response.status_code == 403
    assert list(Terminal.objects.values_list("terminal_id", flat=True)) == ["R1"]


def test_view_only_staff_cannot_change_a_terminal(terminal_token):
    terminal, token = terminal_token
    viewer = signed_in(staff_with("partner_api.view_terminal"))
    response = viewer.post(
        f"/admin/partner_api/terminal/{terminal.pk}/change/",
        {"store": terminal.store.pk, "terminal_id": "R1", "name": "renamed"},
    )
    assert response.status_code == 403
    terminal.refresh_from_db()
    assert terminal.active and terminal.name != "renamed"
    assert status_with(token) == 404


def test_partner_api_admins_rotate_tokens_and_create_terminals(terminal_token):
    terminal, old = terminal_token
    manager = signed_in(role_member("Partner API admins"))

    assert "rotate_tokens" in offered_actions(manager, CHANGELIST)
    [new] = shown_tokens(rotate(manager, terminal))
    assert status_with(old) == 401 and status_with(new) == 404

    response = manager.post(
        ADD,
        {"store": terminal.store.pk, "terminal_id": "R2", "name": "Side door", "active": "on"},
        follow=True,
    )
    [created] = shown_tokens(response)
    assert status_with(created) == 404
    assert Terminal.objects.filter(terminal_id="R2").exists()


def test_partner_api_admins_may_deactivate_a_terminal_but_not_edit_tokens(terminal_token):
    terminal, token = terminal_token
    manager = signed_in(role_member("Partner API admins"))
    response = manager.post(
        f"/admin/partner_api/terminal/{terminal.pk}/change/",
        {"store": terminal.store.pk, "terminal_id": "R1", "name": terminal.name},
    )
    assert response.status_code == 302
    assert status_with(token) == 401  # an inactive terminal's token is refused
    stored = TerminalToken.objects.get(terminal=terminal)
    page = manager.post(f"/admin/partner_api/terminaltoken/{stored.pk}/change/", {})
    assert page.status_code == 403


TERMINAL_ADMINS = {
    "partner_api.view_store",
    "partner_api.add_store",
    "partner_api.view_terminal",
    "partner_api.add_terminal",
    "partner_api.change_terminal",
    "partner_api.rotate_terminal_token",
    "partner_api.view_terminaltoken",
}


def test_migrate_makes_the_partner_api_admins_group_with_exactly_its_permissions(db):
    assert codenames(Group.objects.get(name="Partner API admins")) == TERMINAL_ADMINS


def test_the_group_gets_permissions_that_do_not_exist_yet_when_it_migrates(db):
    # As on a fresh database, where Django adds permissions only after all migrations ran.
    Permission.objects.filter(codename="rotate_terminal_token").delete()
    Group.objects.filter(name="Partner API admins").delete()
    assert codenames(run_role_migration("Partner API admins")) == TERMINAL_ADMINS
