"""What a gate decides about a scanned token: genuine, and not revoked (nor already used).

A gate with a network connection calls `check_ticket` (reads the ticket's current state) and
`admit` (the same checks, then marks the ticket used: once, whoever scans it at the same moment).
A gate working offline verifies with the published public key and its copy of the revocation list
(GET /tickets/public-key, GET /tickets/revoked) via `check_offline`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock
from ticketing.models import OrderEvent, Ticket

from .keys import public_keys
from .tokens import InvalidToken, TicketClaims, verify_token


@dataclass(frozen=True)
class GateVerdict:
    """`ok` is the only thing a gate must obey; `code` is stable, `message` is for staff."""

    ok: bool
    code: str  # valid | admitted | invalid_token | unknown_ticket | revoked | used | mismatch
    message: str
    claims: TicketClaims | None = None
    ticket: Ticket | None = None


def _messages() -> dict[str, str]:
    return {
        "valid": _("Valid ticket."),
        "admitted": _("Admitted."),
        "invalid_token": _("Not a valid Entrada ticket: the code is forged, damaged or foreign."),
        "unknown_ticket": _("This ticket does not exist."),
        "revoked": _("This ticket was cancelled or refunded."),
        "used": _("This ticket has already been used."),
        "mismatch": _("This ticket's code does not match its booking."),
    }


def _verdict(code: str, claims=None, ticket=None) -> GateVerdict:
    return GateVerdict(code in ("valid", "admitted"), code, _messages()[code], claims, ticket)


def check_offline(
    token: str,
    keys: Ed25519PublicKey | Iterable[Ed25519PublicKey],
    revoked: Collection[uuid.UUID],
) -> GateVerdict:
    """Verdict from the signature and a revocation list alone: what a gate without network does."""
    try:
        claims = verify_token(token, keys)
    except InvalidToken:
        return _verdict("invalid_token")
    if claims.ticket_uuid in revoked:
        return _verdict("revoked", claims)
    return _verdict("valid", claims)


def check_ticket(token: str) -> GateVerdict:
    """Verdict for a scanned token against the site's keys and the ticket's current state."""
    try:
        claims = verify_token(token, public_keys())
    except InvalidToken:
        return _verdict("invalid_token")
    ticket = (
        Ticket.objects.select_related("order", "slot", "ticket_type")
        .filter(uuid=claims.ticket_uuid)
        .first()
    )
    if ticket is None:
        return _verdict("unknown_ticket", claims)
    if ticket.state == Ticket.State.REVOKED:
        return _verdict("revoked", claims, ticket)
    # The signature is ours, so a difference means the booking changed after the ticket was
    # issued (a moved slot): the printed ticket is stale.
    slot_start = ticket.slot.starts_at.replace(second=0, microsecond=0)
    if (
        abs(slot_start - claims.slot_start) >= timedelta(minutes=1)
        or ticket.ticket_type_id != claims.ticket_type_id
        or ticket.slot.attraction_id != claims.attraction_id
    ):
        return _verdict("mismatch", claims, ticket)
    if ticket.state == Ticket.State.USED:
        return _verdict("used", claims, ticket)
    return _verdict("valid", claims, ticket)


def admit(token: str, *, actor: str) -> GateVerdict:
    """Check the token and mark its ticket used; `ok` only for the one scan that admitted it.

    The change is a compare-and-set (`UPDATE ... WHERE state = 'valid'`) written with its audit
    record in one transaction, so two gates scanning the same code at once admit one visitor.
    """
    verdict = check_ticket(token)
    if not verdict.ok:
        return verdict
    ticket = verdict.ticket
    now = clock.now()
    with transaction.atomic():
        admitted = Ticket.objects.filter(pk=ticket.pk, state=Ticket.State.VALID).update(
            state=Ticket.State.USED, used_at=now
        )
        if admitted:
            OrderEvent.objects.create(
                order_id=ticket.order_id,
                at=now,
                kind="ticket_used",
                actor=actor[:120],
                detail={"ticket": ticket.number, "uuid": str(ticket.uuid)},
            )
    if not admitted:
        # Another scan won, or the ticket was revoked in between: say which.
        return check_ticket(token)
    ticket.state, ticket.used_at = Ticket.State.USED, now
    return _verdict("admitted", verdict.claims, ticket)
