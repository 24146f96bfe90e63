"""Admin users for the permission tests: staff holding exactly the permissions named, or members
of a staff role as its data migration builds the group.

Transactional tests flush the database, data-migration groups included, so `role_member` runs
the role's migration again (its own RunPython, on the historical models of that migration) before
adding the user: the group a test uses is the one the migration makes.
"""

from __future__ import annotations

import functools
import secrets
from types import SimpleNamespace

from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython
from django.test import Client

# group name -> (app label, migration name) of the data migration that makes it, or a list of
# them when later migrations add to the role, in the order `migrate` runs them
ROLE_MIGRATIONS = {
    "Finance": [("payments", "0006_staff_roles"), ("payments", "0007_attention_actions")],
    "Partner API admins": ("partner_api", "0003_staff_roles"),
    "Support": ("ticketing", "0008_staff_roles"),
}


@functools.cache
def _historical_apps(app_label: str, name: str):
    return MigrationLoader(connection).project_state((app_label, name)).apps


def run_role_migration(group: str) -> Group:
    """Run the forward data steps of the migrations that make `group`, as `migrate` would."""
    made_by = ROLE_MIGRATIONS[group]
    loader = MigrationLoader(connection)
    for app_label, name in [made_by] if isinstance(made_by, tuple) else made_by:
        migration = loader.get_migration(app_label, name)
        steps = [op for op in migration.operations if isinstance(op, RunPython)]
        assert steps, f"{app_label}.{name} has no data step"
        apps = _historical_apps(app_label, name)
        # The data steps read only the connection of their schema editor; a real one cannot
        # open inside the test's transaction on SQLite.
        editor = SimpleNamespace(connection=connection)
        for step in steps:
            step.code(apps, editor)
    return Group.objects.get(name=group)


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


def role_member(group: str) -> User:
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
