"""Helpers of the box office tests: staff accounts, a shift to sell in, a client address.

Each test signs in from its own client address and with its own account names: the sign-in
throttle counts failures in the shared cache, per address and per account.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.models import Group, User

from ticketing.counter import shifts
from ticketing.models import Till


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def member(*groups: str, password: str = "pw-box-1234") -> User:
    user = User.objects.create_user(unique("bo"), password=password)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def on_shift(user: User, till: str = "") -> User:
    """`user` with a shift open on a till of their own (no sale happens outside a shift)."""
    shifts.open_shift(
        till=Till.objects.create(name=till or unique("till")),
        cashier=user,
        currency="CNY",
        opening_float="100",
        actor=user.username,
    )
    return user
