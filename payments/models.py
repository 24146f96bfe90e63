"""Payments, refunds and their audit trail.

State fields are written only by payments.lifecycle (and payments.refunds) with compare-and-set
updates; everything else reads them. Every gateway call leaves a GatewayExchange row and every
transition a PaymentEvent row, written in the same transaction as the update it records.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from payments import clock


def _now():
    return clock.now()


class Payment(models.Model):
    class State(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Pending")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        CANCELLING = "cancelling", _("Cancelling")
        CANCELLED = "cancelled", _("Cancelled")
        NEEDS_ATTENTION = "needs_attention", _("Needs attention")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")

    class Channel(models.TextChoices):
        BARCODE = "barcode", _("Barcode (buyer's payment code)")
        QR = "qr", _("QR (buyer scans)")

    # Still waiting for the buyer to pay (or for Alipay to say whether they did): a cancel sent
    # now stops the payment before any money moves.
    IN_FLIGHT_STATES = (State.CREATED, State.PENDING)
    # States in which the lifecycle still owes the payment a next step (the sweeper looks here):
    # its outcome is undecided, so pages showing it keep polling.
    ACTIVE_STATES = (*IN_FLIGHT_STATES, State.CANCELLING)
    FINAL_STATES = (State.FAILED, State.CANCELLED, State.REFUNDED)
    REFUNDABLE_STATES = (State.PAID, State.PARTIALLY_REFUNDED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    description = models.CharField(_("description"), max_length=256)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # Only the masked code is kept for display. The full code is sealed (encrypted with a key
    # derived from SECRET_KEY) solely so that a pay Alipay never received can be re-sent with
    # identical parameters; it is wiped as soon as the pay outcome is known or the deadline passes.
    buyer_code_masked = models.CharField(_("buyer code"), max_length=32, blank=True)
    buyer_code_sealed = models.TextField(blank=True, editable=False)
    store_id = models.CharField(_("store"), max_length=64, blank=True)
    terminal_id = models.CharField(_("terminal"), max_length=64, blank=True)
    partner_trans_id = models.CharField(max_length=64, unique=True)
    # trans_create_time as first sent (yyyyMMddHHmmss), so a re-sent pay is byte-identical.
    trans_create_time = models.CharField(max_length=14, blank=True)
    alipay_trans_id = models.CharField(max_length=64, blank=True, db_index=True)
    buyer_login_masked = models.CharField(_("buyer login"), max_length=100, blank=True)
    exchange_rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    amount_cny = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    qr_code = models.TextField(blank=True)

    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.CREATED, db_index=True
    )
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    attention_reason = models.CharField(max_length=500, blank=True)

    created_at = models.DateTimeField(default=_now, db_index=True)
    updated_at = models.DateTimeField(default=_now)
    paid_at = models.DateTimeField(null=True, blank=True)
    # When a paid payment's reversal went through (cancelled on its Beijing day, all the money
    # back, no Refund row): the sales report counts it as given back then. Cleared if Alipay
    # later shows the trade paid after all.
    reversed_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    # When the lifecycle owes this payment its next step; null when nothing is owed.
    next_action_at = models.DateTimeField(null=True, blank=True)

    # Bumped whenever a new polling/cancel chain takes over; a task from an older chain no-ops.
    chain_generation = models.PositiveIntegerField(default=0)
    pay_attempts = models.PositiveSmallIntegerField(default=0)
    query_count = models.PositiveIntegerField(default=0)
    cancel_attempts = models.PositiveSmallIntegerField(default=0)
    # cancel's `timestamp`, fixed at the first cancel so every retry sends identical parameters.
    cancel_timestamp_ms = models.BigIntegerField(null=True, blank=True)
    cancel_action = models.CharField(max_length=16, blank=True)  # Alipay's close / refund

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_action_at"], name="payment_due_idx"),
            # A day's payments, by time paid: reconciliation's side of a day, the sales report.
            models.Index(fields=["paid_at"], name="payment_paid_at_idx"),
        ]
        # Beyond view: each admin action that moves money or state has its own permission.
        permissions = [
            ("cancel_payment", "Can cancel payments"),
            ("refund_payment", "Can refund payments"),
            ("resolve_payment", "Can retry payments needing attention"),
            # Without it, one action gives back at most SUPPORT_REFUND_LIMIT (refund_limits).
            ("refund_without_limit", "Can refund without the support limit"),
            # A payment needing attention (payments/attention.py), each decision on its own.
            ("check_payment_with_alipay", "Can check payments needing attention with Alipay"),
            ("refund_payment_instead", "Can refund payments needing attention instead"),
            ("mark_payment_failed", "Can mark payments needing attention failed"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_trans_id} {self.amount} {self.currency} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def refundable_amount(self) -> Decimal:
        """Paid amount minus refunds that succeeded or may still succeed."""
        taken = self.refunds.exclude(state=Refund.State.FAILED).aggregate(
            total=models.Sum("amount")
        )["total"]
        return self.amount - (taken or Decimal("0"))


class Refund(models.Model):
    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        NEEDS_ATTENTION = "needs_attention", _("Needs attention")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    # Reused on every retry: partner + partner_refund_id identifies one refund at Alipay.
    partner_refund_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=128, blank=True)
    actor = models.CharField(max_length=150, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.REQUESTED, db_index=True
    )
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    amount_cny = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=_now)
    updated_at = models.DateTimeField(default=_now)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    next_action_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_action_at"], name="refund_due_idx"),
            # A day's refunds, by time they succeeded (reconciliation, the sales report).
            models.Index(fields=["succeeded_at"], name="refund_succeeded_at_idx"),
        ]
        permissions = [
            ("retry_refund", "Can retry refunds needing attention"),
            ("check_refund_with_alipay", "Can check refunds needing attention with Alipay"),
            ("mark_refund_failed", "Can mark refunds needing attention failed"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_refund_id} {self.amount} ({self.state})"


class GatewayExchange(models.Model):
    """One call to the gateway, as sent and as answered: the audit trail staff read in the admin."""

    payment = models.ForeignKey(
        Payment, on_delete=models.CASCADE, related_name="exchanges", null=True, blank=True
    )
    refund = models.ForeignKey(
        Refund, on_delete=models.CASCADE, related_name="exchanges", null=True, blank=True
    )
    service = models.CharField(max_length=64)
    request_params = models.JSONField(default=dict)  # without sign, keys or the full buyer code
    raw_reply = models.TextField(blank=True)
    signature = models.CharField(max_length=16, blank=True)
    transport = models.CharField(max_length=20, blank=True)
    outcome = models.CharField(max_length=20)
    code = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=500, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=1)
    # Who made the call: system:pay, system:poller, system:notify, a staff user, an API terminal.
    actor = models.CharField(max_length=150, blank=True)
    # True when the reply passed our checks (signature, ids, amount, currency) and was acted on.
    believed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=_now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.service} {self.outcome} {self.code}"


class PaymentEvent(models.Model):
    """One state transition of a payment or one of its refunds (written with the transition)."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    refund = models.ForeignKey(
        Refund, on_delete=models.CASCADE, related_name="events", null=True, blank=True
    )
    # A payment state, or "refund:<state>" for a refund's transition.
    from_state = models.CharField(max_length=32)
    to_state = models.CharField(max_length=32)
    actor = models.CharField(max_length=150)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=_now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state} -> {self.to_state} by {self.actor}"


class WorkerLease(models.Model):
    """Who runs the poller right now: one holder at a time, renewed every round, expiring.

    A killed poller's lease simply expires and the next sweep takes over; rows are claimed one by
    one with compare-and-set anyway, so two pollers by accident would only share the work.
    """

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=128, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at}"
