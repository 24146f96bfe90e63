"""Admin for stores and terminals. A terminal's token is shown once, in a message, when the
terminal is created (add permission) or its token rotated (partner_api.rotate_terminal_token);
only its hash is kept."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from payments.api.models import IdempotencyRecord, Store, Terminal, TerminalToken
from payments.api.terminals import issue_token


class TerminalInline(admin.TabularInline):
    model = Terminal
    extra = 0
    fields = ("terminal_id", "name", "active", "created_at")
    readonly_fields = ("created_at",)
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        # Terminals are added on their own page, which shows the new token.
        return False


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("store_id", "name", "created_at")
    search_fields = ("store_id", "name")
    readonly_fields = ("created_at",)
    inlines = [TerminalInline]


def _show_token(request, terminal: Terminal, token: str) -> None:
    messages.warning(
        request,
        _("Token for terminal %(terminal)s (shown only now; store it in the terminal): %(token)s")
        % {"terminal": terminal, "token": token},
    )


@admin.register(Terminal)
class TerminalAdmin(admin.ModelAdmin):
    list_display = ("__str__", "name", "active", "token_prefix", "token_last_used", "created_at")
    list_filter = ("active", "store")
    list_select_related = ("store", "token")
    search_fields = ("terminal_id", "name", "store__store_id")
    readonly_fields = ("created_at", "token_prefix", "token_last_used")
    actions = ["rotate_tokens"]

    @admin.display(description=_("token"))
    def token_prefix(self, obj: Terminal) -> str:
        token = getattr(obj, "token", None) if obj.pk else None
        return f"{token.prefix}…" if token else "-"

    @admin.display(description=_("token last used"))
    def token_last_used(self, obj: Terminal):
        token = getattr(obj, "token", None) if obj.pk else None
        return token.last_used_at if token else None

    def has_rotate_token_permission(self, request) -> bool:
        return request.user.has_perm("partner_api.rotate_terminal_token")

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            _show_token(request, obj, issue_token(obj))

    @admin.action(
        description=_("Issue new tokens (the old ones stop working)"), permissions=["rotate_token"]
    )
    def rotate_tokens(self, request, queryset) -> None:
        terminals = list(queryset.select_related("store"))
        for terminal in terminals:
            _show_token(request, terminal, issue_token(terminal))
        self.message_user(
            request,
            ngettext("Rotated %d token.", "Rotated %d tokens.", len(terminals)) % len(terminals),
        )


@admin.register(TerminalToken)
class TerminalTokenAdmin(admin.ModelAdmin):
    """Read-only: tokens are issued from the terminal page; deleting one revokes it."""

    list_display = ("prefix", "terminal", "created_at", "last_used_at")
    list_select_related = ("terminal__store",)
    readonly_fields = ("terminal", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("scope", "key", "state", "response_status", "created_at", "expires_at")
    list_filter = ("state",)
    search_fields = ("scope", "key")
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
