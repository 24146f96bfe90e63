"""Reconciliation's domain errors: a stable code and a message naming what to fix."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from payments.exceptions import PaymentError


class ReconciliationError(PaymentError):
    code = "reconciliation_error"
    default_message = _("The reconciliation request could not be processed.")


class FileRejected(ReconciliationError):
    """A file that cannot be imported as a whole; nothing of it was kept.

    `line` is the physical line (1-based) the problem was found on, 0 for the file as a whole.
    """

    code = "file_rejected"
    http_status = 422
    default_message = _("The file was refused.")

    def __init__(self, message, *, line: int = 0):
        self.line = line
        super().__init__(message, fields={"line": line} if line else {})


class SourceUnavailable(ReconciliationError):
    """A configured source (folder, SFTP, sandbox) could not be read."""

    code = "source_unavailable"
    http_status = 503
    default_message = _("The reconciliation source could not be read.")


class ActionNotPossible(ReconciliationError):
    code = "action_not_possible"
    http_status = 409
    default_message = _("This action does not apply to this difference.")
