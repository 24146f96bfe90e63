"""Admin users for the permission tests: staff holding exactly the permissions named, or members
of a staff role as its data migration builds the group.

Transactional tests flush the database, data-migration groups included, so `role_member` runs
the role's migration again (its own RunPython, on the historical models of that migration) before
adding the user: the group a test uses is the one the migration makes.
"""

from __future__ import annotations

import functools
import importlib
import secrets
from types import SimpleNamespace

from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython
from django.test import Client

# group name -> (app label, migration name) of each data migration that builds the group, in the
# order `migrate` runs them: the one that makes it, then those that give it more.
ROLE_MIGRATIONS = {
    "Finance": [
        ("payments", "0006_staff_roles"),
        ("ticketing", "0017_staff_refunds"),
        ("payments", "0008_attention_actions"),
    ],
    "Partner API admins": [("partner_api", "0003_staff_roles")],
    "Support": [("ticketing", "0008_staff_roles"), ("ticketing", "0017_staff_refunds")],
}


@functools.cache
def _historical_apps(app_label: str, name: str):
    return MigrationLoader(connection).project_state((app_label, name)).apps


def run_role_migration(group: str) -> Group:
    """Run the forward data steps of the migrations that build `group`, as `migrate` would."""
    for app_label, name in ROLE_MIGRATIONS[group]:
        _run_data_steps(app_label, name)
    return Group.objects.get(name=group)


def _run_data_steps(app_label: str, name: str) -> None:
    loader = MigrationLoader(connection)
    migration = loader.get_migration(app_label, name)
    steps = [op for op in migration.operations if isinstance(op, RunPython)]
    assert steps, f"{app_label}.{name} has no data step"
    apps = _historical_apps(app_label, name)
    # The data steps read only the connection of their schema editor; a real one cannot open
    # inside the test's transaction on SQLite.
    editor = SimpleNamespace(connection=connection)
    for step in steps:
        step.code(apps, editor)


def codenames(group: Group) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def _new_staff() -> User:
    return User.objects.create_user(
        f"staff-{secrets.token_hex(4)}", password="pw-staff-1234", is_staff=True
    )


def staff_with(*perms: str) -> User:
    """A staff user (not a superuser) holding exactly these "app_label.codename" permissions."""
    user = _new_staff()
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def grant_sales_report() -> None:
    """Run ticketing 0015's data step (the sales report to Finance and Support) as `migrate` runs
    it after the roles' own: the roles' permission tests count without it."""
    migration = importlib.import_module("ticketing.migrations.0015_sales_report_permission")
    migration.grant(django_apps, SimpleNamespace(connection=connection))


def role_member(group: str) -> User:
    """A staff user in `group` as every migration that builds it leaves it."""
    user = _new_staff()
    user.groups.add(run_role_migration(group))
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def offered_actions(client: Client, changelist_url: str) -> set[str]:
    """The action names the changelist's action menu offers this user."""
    page = client.get(changelist_url)
    assert page.status_code == 200
    form = page.context.get("action_form")
    return {name for name, _label in form.fields["action"].choices if name} if form else set()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def confirmation_fields(page) -> dict[str, list[str]]:
    """What the confirmation page's form posts back: its hidden fields (the action, the objects
    chosen, the plan's digest) and its form's initial values, as a browser would send them."""
    assert page.status_code == 200, page.status_code
    assert "digest" in page.context, "not a confirmation page"
    fields: dict[str, list[str]] = {}
    for name, value in page.context["carry"]:
        fields.setdefault(name, []).append(value)
    form = page.context.get("form")
    if form is not None and page.context["can_confirm"]:
        for field in form:
            value = field.value()
            if value is not None:
                fields[field.name] = [str(value)]
    fields["confirmed"] = ["yes"]
    fields["plan_digest"] = [page.context["digest"]]
    return fields


def confirmed(client: Client, url: str, data: dict, **answers):
    """Post `data` (an action, or a refund form), then confirm the page it answers with,
    filling `answers` into its form; returns the answer to the confirmation, followed."""
    page = client.post(url, data)
    return client.post(url, {**confirmation_fields(page), **answers}, follow=True)


def run_confirmed(client: Client, changelist_url: str, action: str, *objects, **answers):
    """An admin action on `objects`, confirmed on its intermediate page."""
    data = {"action": action, "_selected_action": [o.pk for o in objects]}
    return confirmed(client, changelist_url, data, **answers)


def run_action(client: Client, changelist_url: str, action: str, *objects):
    """An admin action posted from the changelist (its confirmation page, for a money action)."""
    return client.post(
        changelist_url, {"action": action, "_selected_action": [o.pk for o in objects]}
    )
