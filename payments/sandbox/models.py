"""The sandbox's own tables: Alipay's side of the wire. Entrada's payment tables are never touched.

Trades change state only through payments.sandbox.behaviour (compare-and-set updates); views and
the wallet call it. Time-dependent transitions (the 3-minute close, a buyer confirming after N
seconds, the end of a paid trade's refund period) are stored as instants (or derived from paid_at)
and applied lazily on access with payments.clock, so a moved clock moves the sandbox too.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SignType(models.TextChoices):
    MD5 = "MD5", "MD5"
    RSA = "RSA", "RSA (SHA1withRSA)"
    RSA2 = "RSA2", "RSA2 (SHA256withRSA)"


class SandboxMerchant(models.Model):
    """A partner (PID) known to the sandbox, with the keys both sides use."""

    partner_id = models.CharField(_("partner id"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=128)
    md5_key = models.CharField(_("MD5 key"), max_length=128, blank=True)
    # Verifies the merchant's RSA/RSA2 requests.
    merchant_public_key_pem = models.TextField(_("merchant public key (PEM)"), blank=True)
    # Signs the sandbox's replies and notifications (Alipay's private key).
    sandbox_private_key_pem = models.TextField(_("sandbox private key (PEM)"), blank=True)
    sign_type = models.CharField(
        _("reply sign type"), max_length=4, choices=SignType.choices, default=SignType.RSA2
    )
    is_demo = models.BooleanField(_("demo merchant"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox merchant")
        verbose_name_plural = _("sandbox merchants")

    def __str__(self) -> str:
        return f"{self.name} ({self.partner_id})"


class SandboxTrade(models.Model):
    class State(models.TextChoices):
        WAIT_BUYER_PAY = "WAIT_BUYER_PAY", _("waiting for the buyer")
        TRADE_SUCCESS = "TRADE_SUCCESS", _("paid")
        # Paid, and its refund period (settings.SANDBOX_REFUND_PERIOD_DAYS) is over: final.
        TRADE_FINISHED = "TRADE_FINISHED", _("finished")
        TRADE_CLOSED = "TRADE_CLOSED", _("closed")

    class Channel(models.TextChoices):
        BARCODE = "barcode", _("buyer's payment code")
        QR = "qr", _("merchant's QR (precreate)")

    class CloseReason(models.TextChoices):
        EXPIRED = "expired", _("not paid in time")
        DECLINED = "declined", _("declined by the buyer")
        PAY_FAILED = "pay_failed", _("payment failed")
        CANCELLED = "cancelled", _("cancelled before payment")
        REVERSED = "reversed", _("cancelled after payment (refunded)")
        REFUNDED = "refunded", _("fully refunded")
        # A cancel for a trade the sandbox never saw: it blocks a late pay with the same id.
        PRE_CANCELLED = "pre_cancelled", _("cancelled before it reached the sandbox")

    merchant = models.ForeignKey(SandboxMerchant, on_delete=models.CASCADE, related_name="trades")
    partner_trans_id = models.CharField(_("partner transaction id"), max_length=64)
    alipay_trans_id = models.CharField(_("Alipay transaction id"), max_length=64, unique=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    buyer_code = models.CharField(_("buyer code"), max_length=24, blank=True)
    scenario = models.CharField(_("scenario"), max_length=24, blank=True)
    scenario_n = models.PositiveIntegerField(_("scenario parameter"), default=0)
    subject = models.CharField(_("subject"), max_length=256, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    exchange_rate = models.DecimalField(max_digits=16, decimal_places=8, null=True)
    amount_cny = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    refunded_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    secondary_merchant_industry = models.CharField(max_length=8, blank=True)
    notify_url = models.URLField(_("notify URL"), max_length=512, blank=True)
    qr_token = models.CharField(max_length=40, unique=True, null=True, blank=True)

    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    error_code = models.CharField(_("failure code"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("closes unpaid at"), null=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    # Scheduled buyer actions (test buyer codes): applied when the clock passes them.
    confirm_at = models.DateTimeField(null=True, blank=True)
    decline_at = models.DateTimeField(null=True, blank=True)

    # Call counters for the SYSTEM_ERROR scenarios.
    pay_calls = models.PositiveIntegerField(default=0)
    query_calls = models.PositiveIntegerField(default=0)
    cancel_calls = models.PositiveIntegerField(default=0)
    refund_calls = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("sandbox trade")
        verbose_name_plural = _("sandbox trades")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "partner_trans_id"], name="sandbox_trade_partner_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="sandbox_trade_due"),
            models.Index(fields=["paid_at"], name="sandbox_trade_paid_at"),
            models.Index(fields=["cancelled_at"], name="sandbox_trade_cancelled_at"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_trans_id} {self.state}"

    @property
    def amount_text(self) -> str:
        """The amount in the currency's minor units (1200 JPY, 12.50 HKD) for pages."""
        if self.amount is None:
            return ""
        places = 0 if self.currency in {"JPY", "KRW"} else 2
        return f"{self.amount:.{places}f}"


class SandboxRefund(models.Model):
    class State(models.TextChoices):
        SUCCESS = "SUCCESS", _("refunded")

    merchant = models.ForeignKey(SandboxMerchant, on_delete=models.CASCADE, related_name="refunds")
    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="refunds")
    partner_refund_id = models.CharField(_("partner refund id"), max_length=64)
    alipay_refund_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    amount_cny = models.DecimalField(max_digits=16, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=128, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    created_at = models.DateTimeField(_("refunded at"))

    class Meta:
        verbose_name = _("sandbox refund")
        verbose_name_plural = _("sandbox refunds")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "partner_refund_id"], name="sandbox_refund_partner_id_unique"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="sandbox_refund_created_at")]

    def __str__(self) -> str:
        return f"{self.partner_refund_id} {self.amount} {self.currency}"


class SandboxNotification(models.Model):
    """An async notification to the merchant's notify_url, retried until it answers `success`."""

    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="notifications")
    notify_id = models.CharField(max_length=64, unique=True)
    url = models.URLField(max_length=512)
    payload = models.JSONField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_response = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("sandbox notification")
        verbose_name_plural = _("sandbox notifications")
        indexes = [models.Index(fields=["next_attempt_at"], name="sandbox_notify_due")]

    def __str__(self) -> str:
        return f"{self.notify_id} -> {self.url}"
