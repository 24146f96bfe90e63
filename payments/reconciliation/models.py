"""Alipay's daily files as imported, their lines, the differences found, and day summaries.

A file is immutable once imported: a corrected file for the same day and kind is a new row that
supersedes the earlier one (`superseded_by`), and matching reads only current files. Differences
are keyed by (day, kind, partner_transaction_id, line_type) so that re-running a day updates the
same rows: staff notes and resolutions survive a re-import, and a difference the new file no
longer shows is closed as cleared rather than deleted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from payments import clock
from payments.models import Payment, Refund


def _now():
    return clock.now()


class ReconciliationFile(models.Model):
    class Kind(models.TextChoices):
        TRANSACTION = "transaction", _("Transactions")
        SETTLEMENT = "settlement", _("Settlement")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Upload")
        DIR = "dir", _("Watched folder")
        SFTP = "sftp", _("SFTP")
        SANDBOX = "sandbox", _("Sandbox")
        COMMAND = "command", _("Command line")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    day = models.DateField(_("day (Beijing)"), db_index=True)
    partner = models.CharField(_("partner"), max_length=16)
    name = models.CharField(_("file name"), max_length=255, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    # sha256 of the bytes as received: the same file twice is recognised and changes nothing.
    content_hash = models.CharField(_("content hash"), max_length=64, unique=True)
    encoding = models.CharField(_("encoding"), max_length=16)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    imported_at = models.DateTimeField(_("imported at"), default=_now)
    imported_by = models.CharField(_("imported by"), max_length=150, blank=True)
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supersedes",
        verbose_name=_("superseded by"),
    )

    class Meta:
        ordering = ["-day", "kind", "-imported_at"]
        verbose_name = _("reconciliation file")
        verbose_name_plural = _("reconciliation files")
        indexes = [models.Index(fields=["kind", "day", "partner"], name="recon_file_day_idx")]
        permissions = [
            ("import_reconciliation_file", _("Can import reconciliation files")),
            ("view_reconciliation_report", _("Can view reconciliation reports")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.day} ({self.line_count})"

    @property
    def is_current(self) -> bool:
        return self.superseded_by_id is None


class FileLine(models.Model):
    """One row of a file, normalised: amounts positive, `outgoing` when money went back."""

    # Not a constraint in the database: PostgreSQL checks a foreign key once per row a COPY
    # writes, which cost as much as the COPY itself (about 3 s of server time per million
    # lines, bench/reconcile.py). Lines are written only by the importer, for the file it has
    # just created in the same transaction, and nothing deletes files but the ORM, which
    # cascades to their lines itself.
    file = models.ForeignKey(
        ReconciliationFile, on_delete=models.CASCADE, related_name="lines", db_constraint=False
    )
    line_no = models.PositiveIntegerField(_("line"))
    partner_transaction_id = models.CharField(_("partner transaction id"), max_length=64)
    transaction_id = models.CharField(_("Alipay transaction id"), max_length=64, blank=True)
    # PAYMENT, REFUND, CANCEL, REVERSAL (transaction files); P or R (settlement files).
    type = models.CharField(_("type"), max_length=10)
    outgoing = models.BooleanField(_("money back to the buyer"), default=False)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    fee = models.DecimalField(_("fee"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    paid_at = models.DateTimeField(_("payment time"), null=True, blank=True)
    # Settlement files only.
    amount_cny = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    settlement = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    settlement_cny = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, blank=True)
    remark = models.CharField(_("remark"), max_length=256, blank=True)

    class Meta:
        ordering = ["file", "line_no"]
        verbose_name = _("file line")
        verbose_name_plural = _("file lines")
        indexes = [
            models.Index(fields=["partner_transaction_id", "file"], name="recon_line_ptid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.file_id}:{self.line_no} {self.type} {self.partner_transaction_id}"

    @property
    def signed_amount(self):
        return -self.amount if self.outgoing else self.amount


class Difference(models.Model):
    class Kind(models.TextChoices):
        MISSING_HERE = "missing_here", _("Missing at Entrada")
        MISSING_AT_ALIPAY = "missing_at_alipay", _("Missing at Alipay")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amount differs")
        CURRENCY_MISMATCH = "currency_mismatch", _("Currency differs")
        STATE_MISMATCH = "state_mismatch", _("State differs")
        DUPLICATE_LINE = "duplicate_line", _("Duplicate line")
        UNSETTLED = "unsettled", _("Not settled")
        FEE_MISMATCH = "fee_mismatch", _("Fee differs")

    class Severity(models.TextChoices):
        CRITICAL = "critical", _("Critical")
        HIGH = "high", _("High")
        MEDIUM = "medium", _("Medium")

    class Resolution(models.TextChoices):
        NOTE = "note", _("Resolved with a note")
        REFUNDED = "refunded", _("Buyer refunded")
        TICKETS = "tickets", _("Order's tickets issued")
        CLEARED = "cleared", _("No longer found")

    # Severity per kind; ALERT_SEVERITIES are mailed to ADMINS after a run.
    SEVERITY = {
        Kind.MISSING_HERE: Severity.CRITICAL,
        Kind.MISSING_AT_ALIPAY: Severity.HIGH,
        Kind.AMOUNT_MISMATCH: Severity.HIGH,
        Kind.CURRENCY_MISMATCH: Severity.HIGH,
        Kind.STATE_MISMATCH: Severity.HIGH,
        Kind.DUPLICATE_LINE: Severity.HIGH,
        Kind.UNSETTLED: Severity.MEDIUM,
        Kind.FEE_MISMATCH: Severity.MEDIUM,
    }
    ALERT_SEVERITIES = (Severity.CRITICAL, Severity.HIGH)

    day = models.DateField(_("day (Beijing)"), db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    partner_transaction_id = models.CharField(_("partner transaction id"), max_length=64)
    line_type = models.CharField(_("line type"), max_length=10, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    amount_here = models.DecimalField(
        _("amount at Entrada"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    amount_alipay = models.DecimalField(
        _("amount at Alipay"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconciliation_differences",
    )
    refund = models.ForeignKey(
        Refund,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconciliation_differences",
    )
    line = models.ForeignKey(
        FileLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="differences"
    )
    is_open = models.BooleanField(_("open"), default=True, db_index=True)
    note = models.TextField(_("staff note"), blank=True)
    resolution = models.CharField(
        _("resolution"), max_length=10, choices=Resolution.choices, blank=True
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=_now)
    last_seen_at = models.DateTimeField(_("last seen"), default=_now)

    class Meta:
        ordering = ["-day", "severity", "kind", "partner_transaction_id"]
        verbose_name = _("difference")
        verbose_name_plural = _("differences")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind", "partner_transaction_id", "line_type"],
                name="recon_difference_identity",
            )
        ]
        indexes = [models.Index(fields=["is_open", "severity"], name="recon_diff_open_idx")]
        permissions = [
            ("resolve_difference", _("Can resolve a reconciliation difference with a note")),
            ("check_difference_with_alipay", _("Can check a difference with Alipay")),
            ("refund_difference", _("Can refund the buyer of a difference")),
            ("issue_difference_tickets", _("Can issue the order's tickets for a difference")),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.partner_transaction_id}"


class DifferenceEvent(models.Model):
    """What happened to a difference and who did it: found, checked, acted on, resolved."""

    class Action(models.TextChoices):
        FOUND = "found", _("Found")
        SEEN_AGAIN = "seen_again", _("Seen again")
        CHECKED = "checked", _("Checked with Alipay")
        REFUNDED = "refunded", _("Buyer refunded")
        TICKETS = "tickets", _("Order's tickets issued")
        RESOLVED = "resolved", _("Resolved")
        NOTED = "noted", _("Note written")
        CLEARED = "cleared", _("No longer found")
        REOPENED = "reopened", _("Found again")
        FAILED = "failed", _("Action failed")

    difference = models.ForeignKey(Difference, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    actor = models.CharField(_("actor"), max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    # The gateway's answer for a check (status, amount, currency, code), as recorded.
    answer = models.JSONField(_("answer"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=_now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("difference event")
        verbose_name_plural = _("difference events")

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"


class DaySummary(models.Model):
    """A reconciled Beijing day per currency, written by each run so reports read one row."""

    day = models.DateField(_("day (Beijing)"))
    currency = models.CharField(_("currency"), max_length=3)
    payments_count = models.PositiveIntegerField(default=0)
    payments_gross = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    refunds_count = models.PositiveIntegerField(default=0)
    refunds_gross = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    reversals_count = models.PositiveIntegerField(default=0)
    reversals_gross = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    fees = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    net = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    settled = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    gross_cny = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    fees_cny = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    settled_cny = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    lines = models.PositiveIntegerField(default=0)
    matched_lines = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(default=_now)

    class Meta:
        ordering = ["-day", "currency"]
        verbose_name = _("day summary")
        verbose_name_plural = _("day summaries")
        constraints = [
            models.UniqueConstraint(fields=["day", "currency"], name="recon_summary_day_currency")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency}"

    @property
    def matched_share(self) -> float:
        return self.matched_lines / self.lines if self.lines else 1.0


class ReconciliationRun(models.Model):
    """One run of the importer and matcher (the daily task, the command, an upload)."""

    started_at = models.DateTimeField(_("started"), default=_now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    trigger = models.CharField(_("trigger"), max_length=32)
    actor = models.CharField(_("actor"), max_length=150, blank=True)
    days = models.JSONField(_("days"), default=list)
    files_imported = models.PositiveIntegerField(default=0)
    lines = models.PositiveIntegerField(default=0)
    new_differences = models.PositiveIntegerField(default=0)
    errors = models.TextField(_("errors"), blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")

    def __str__(self) -> str:
        return f"{self.trigger} {self.started_at:%Y-%m-%d %H:%M}"
