"""Every staff sign-in (gate, box office, admin) shares one throttle keyed on the real client
address: failures slow a guesser down per account and address, a high cap stops one address
guessing many accounts, and nobody can lock an owner out from elsewhere."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from ticketing.views.gate import GATE_STAFF_GROUP

pytestmark = pytest.mark.django_db

PASSWORD = "pw-anna-1234"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def gate_member(name: str) -> User:
    user = User.objects.create_user(name, password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name=GATE_STAFF_GROUP)[0])
    return user


def gate_sign_in(client: Client, username: str, password: str, **headers):
    return client.post(
        reverse("gate:login"), {"username": username, "password": password}, **headers
    )


def admin_sign_in(client: Client, username: str, password: str):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"}
    )


def test_the_admin_sign_in_is_throttled_like_the_staff_pages(clock):
    User.objects.create_superuser("root", password=PASSWORD)
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.STAFF_SIGN_IN_FAILURES_PER_ACCOUNT):
        assert admin_sign_in(client, "root", "wrong").status_code == 200
    limited = admin_sign_in(client, "root", PASSWORD)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "Too many unsuccessful sign-ins" in limited.content.decode()
    assert "_auth_user_id" not in client.session
    clock.advance(int(limited["Retry-After"]) + 1)
    assert admin_sign_in(client, "root", PASSWORD).status_code == 302


def test_failures_from_elsewhere_never_lock_the_owner_out():
    gate_member("anna")
    attacker = Client(REMOTE_ADDR="198.51.100.66")
    for _ in range(settings.STAFF_SIGN_IN_FAILURES_PER_ACCOUNT + 2):
        gate_sign_in(attacker, "anna", "guess")
    assert gate_sign_in(attacker, "anna", PASSWORD).status_code == 429
    owner = Client(REMOTE_ADDR="10.1.2.3")
    assert gate_sign_in(owner, "anna", PASSWORD).status_code == 302


def test_colleagues_behind_one_address_do_not_lock_each_other_out():
    """A box office behind one NAT: a few mistyped passwords on several accounts leave the
    others free to sign in, while one address guessing many accounts meets the address cap."""
    desk = Client(REMOTE_ADDR="192.0.2.10")
    for n in range(12):
        gate_sign_in(desk, f"colleague-{n}", "mistyped")
    gate_member("bo")
    assert gate_sign_in(desk, "bo", PASSWORD).status_code == 302

    guesser = Client(REMOTE_ADDR="192.0.2.99")
    for n in range(settings.STAFF_SIGN_IN_FAILURES_PER_ADDRESS):
        gate_sign_in(guesser, f"account-{n}", "guess")
    assert gate_sign_in(guesser, "bo", PASSWORD).status_code == 429


def test_a_forged_x_forwarded_for_does_not_reset_the_count():
    gate_member("anna")
    client = Client(REMOTE_ADDR="198.51.100.66")
    for n in range(settings.STAFF_SIGN_IN_FAILURES_PER_ACCOUNT):
        gate_sign_in(client, "anna", "guess", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}")
    forged = gate_sign_in(client, "anna", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.200")
    assert forged.status_code == 429


def test_behind_a_trusted_proxy_each_client_is_counted_by_the_address_the_proxy_saw(settings):
    settings.TRUSTED_PROXIES = 1
    gate_member("anna")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    attacker = Client(**proxy)
    for n in range(settings.STAFF_SIGN_IN_FAILURES_PER_ACCOUNT):
        # The attacker's own X-Forwarded-For entries come first; the proxy appends the real one.
        gate_sign_in(attacker, "anna", "guess", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.66")
    forged = gate_sign_in(
        attacker, "anna", PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.99, 198.51.100.66"
    )
    assert forged.status_code == 429
    owner = Client(**proxy)
    assert (
        gate_sign_in(owner, "anna", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 302
    )
