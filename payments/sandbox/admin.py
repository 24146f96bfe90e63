"""The sandbox's tables in the admin, read-only: state changes go through the gateway and wallet."""

from django.contrib import admin
from django.db import models

from .models import SandboxMerchant, SandboxNotification, SandboxRefund, SandboxTrade


class ReadOnly(admin.ModelAdmin):
    # Django 6 makes https the scheme a URL typed without one is given; say it now (and so
    # without Django 5.2's deprecation warning on every form these pages build).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Alipay's side of a payment: deleting it here would leave Entrada's record with no
        # trade behind it.
        return False


@admin.register(SandboxMerchant)
class SandboxMerchantAdmin(ReadOnly):
    list_display = ("partner_id", "name", "sign_type", "is_demo")
    exclude = ("md5_key", "sandbox_private_key_pem")


@admin.register(SandboxTrade)
class SandboxTradeAdmin(ReadOnly):
    list_display = ("partner_trans_id", "state", "amount", "currency", "channel", "created_at")
    list_filter = ("state", "channel", "merchant")
    search_fields = ("partner_trans_id", "alipay_trans_id")
    list_select_related = ("merchant",)


@admin.register(SandboxRefund)
class SandboxRefundAdmin(ReadOnly):
    list_display = ("partner_refund_id", "amount", "currency", "state", "created_at")
    search_fields = ("partner_refund_id",)


@admin.register(SandboxNotification)
class SandboxNotificationAdmin(ReadOnly):
    list_display = ("notify_id", "trade", "attempts", "delivered_at", "next_attempt_at")
    list_select_related = ("trade",)
