"""Who may call the partner API (stores, their terminals, a token per terminal) and the
idempotency records that make a retried money-moving POST safe.

Tokens are stored as their SHA-256 only: a database leak must not hand out working terminal
credentials, so the plain token is shown once (admin message or `create_terminal`) and never again.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from payments import clock


def _now():
    return clock.now()


# Store and terminal ids travel to Alipay inside extend_info (JSON): keep them plain, and within
# the 32 characters the lifecycle accepts for them (payments.lifecycle.create_barcode_payment).
id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z",
    _("Use 1 to 32 letters, digits, '-', '_' or '.', starting with a letter or digit."),
)


class Store(models.Model):
    """A shop, ticket office or counter; its store_id goes into Alipay's extend_info (the
    secondary merchant fields there are the site's, settings.ALIPAY)."""

    store_id = models.CharField(
        _("store id"), max_length=32, unique=True, validators=[id_validator]
    )
    name = models.CharField(_("name"), max_length=128)
    created_at = models.DateTimeField(_("created"), default=_now, editable=False)

    class Meta:
        ordering = ["store_id"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self) -> str:
        return f"{self.store_id} ({self.name})" if self.name else self.store_id


class Terminal(models.Model):
    """A cash register, POS screen or app installation that calls the partner API."""

    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="terminals", verbose_name=_("store")
    )
    terminal_id = models.CharField(_("terminal id"), max_length=32, validators=[id_validator])
    name = models.CharField(_("name"), max_length=128, blank=True)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("An inactive terminal's token is refused.")
    )
    created_at = models.DateTimeField(_("created"), default=_now, editable=False)

    class Meta:
        ordering = ["store__store_id", "terminal_id"]
        verbose_name = _("terminal")
        verbose_name_plural = _("terminals")
        # A new token works at once and is shown to whoever issues it: not part of "change".
        permissions = [("rotate_terminal_token", "Can issue a new token for a terminal")]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "terminal_id"], name="terminal_unique_per_store"
            )
        ]

    def __str__(self) -> str:
        return f"{self.store.store_id}/{self.terminal_id}"

    # DRF's permission checks read request.user.is_authenticated; the terminal is that principal.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def idempotency_scope(self) -> str:
        return f"terminal:{self.pk}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TerminalToken(models.Model):
    """The one valid token of a terminal, kept as a hash; issuing a new one replaces the old."""

    terminal = models.OneToOneField(Terminal, on_delete=models.CASCADE, related_name="token")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so staff can tell which token a terminal holds without the secret.
    prefix = models.CharField(_("token prefix"), max_length=8, editable=False)
    created_at = models.DateTimeField(_("issued"), default=_now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("terminal token")
        verbose_name_plural = _("terminal tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.terminal})"

    @classmethod
    def issue(cls, terminal: Terminal) -> str:
        """Create or replace the terminal's token; return the plain token (its only appearance)."""
        token = secrets.token_urlsafe(32)
        cls.objects.update_or_create(
            terminal=terminal,
            defaults={
                "key_hash": hash_token(token),
                "prefix": token[:8],
                "created_at": clock.now(),
            },
        )
        return token


class IdempotencyRecord(models.Model):
    """One Idempotency-Key seen in a scope (a terminal, or any other caller), and its answer.

    The row is inserted before the work starts, so the unique (scope, key) constraint is the lock:
    a concurrent duplicate sees it in progress; a later one gets the stored answer back.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=_now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.state})"
