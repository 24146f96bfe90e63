"""A supervisor's approval typed on the spot at the counter: their username and password.

Used for refunds and for closing a shift whose drawer is off by more than the threshold. Failed
approvals are throttled per address and account like sign-ins (past the limit even the right
password waits), and a supervisor never approves for themselves: the signed-in cashier's own
password approves nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .staff import in_group
from .throttle import client_address, minutes_to_wait, sign_in_throttle

logger = logging.getLogger(__name__)

SUPERVISORS_GROUP = "Box office supervisors"  # created by migration 0006_box_office_groups


@dataclass(frozen=True)
class Approval:
    supervisor: object | None  # the approving user, or None with `error`
    error: str = ""
    status: int = 200
    retry_after: int = 0


def supervisor_approval(
    request: HttpRequest, username: str, password: str, *, what: str, refused: str = ""
) -> Approval:
    """The supervisor whose username and password were typed, or why not (an Approval).

    `what` names the action in the log; `refused` is the message for a wrong password or a user
    who is no supervisor."""
    throttle = sign_in_throttle(client_address(request), username)
    wait = throttle.retry_after()
    if wait:
        minutes = minutes_to_wait(wait)
        message = ngettext(
            "Too many unsuccessful approvals. Please wait %(minutes)d minute and try again.",
            "Too many unsuccessful approvals. Please wait %(minutes)d minutes and try again.",
            minutes,
        ) % {"minutes": minutes}
        return Approval(None, message, 429, wait)
    supervisor = authenticate(request, username=username, password=password)
    if supervisor is None or not in_group(supervisor, SUPERVISORS_GROUP):
        throttle.record_failure()
        logger.warning("box office %s: %s refused (supervisor %r)", request.user.pk, what, username)
        return Approval(
            None, refused or _("A box office supervisor's username and password are needed."), 403
        )
    if supervisor.pk == request.user.pk:
        return Approval(None, _("A supervisor cannot approve their own shift or sale."), 403)
    return Approval(supervisor)
