"""What a gate decides about a scanned token: genuine, and not revoked (nor already used).

A gate with a network connection calls `check_ticket` (reads the ticket's current state) and
`admit` (the same checks, then marks the ticket used: once, whoever scans it at the same moment).
A gate working offline verifies with the published public key and its copy of the revocation list
(GET /tickets/public-key, GET /tickets/revoked) via `check_offline`.

A timed-entry ticket admits only within its entry window: from its slot's start minus
TICKET_ENTRY_EARLY_MINUTES until its slot's end plus TICKET_ENTRY_LATE_MINUTES (settings). The
window is half-open, [opens, closes): at exactly `opens` the ticket is valid, at exactly `closes`
it has expired ("entry closed at 11:30" means 11:30 is too late). The window is checked after
every other refusal (invalid_token, unknown_ticket, revoked, mismatch, used), so a used ticket says
"used" whenever it is scanned again. Time comes from payments.clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from payments import clock
from ticketing import local_time
from ticketing.models import OrderEvent, Ticket
from ticketing.reports import ledger

from .keys import public_keys
from .tokens import InvalidToken, TicketClaims, verify_token


@dataclass(frozen=True)
class GateVerdict:
    """`ok` is the only thing a gate must obey; `code` is stable, `message` is for staff."""

    ok: bool
    # valid | admitted | invalid_token | unknown_ticket | revoked | mismatch | used | too_early |
    # expired
    code: str
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


def _verdict(code: str, claims=None, ticket=None, message: str = "") -> GateVerdict:
    return GateVerdict(
        code in ("valid", "admitted"), code, message or _messages()[code], claims, ticket
    )


# Offline, a gate knows a ticket's slot start but not its end (the token does not carry it).
# Without the slot's length, it assumes the longest slot there can be, a whole day's opening:
# early tickets are still refused exactly; stale ones only once nobody's slot can still be on.
OFFLINE_SLOT_LENGTH = timedelta(hours=12)


def _early() -> timedelta:
    return timedelta(minutes=settings.TICKET_ENTRY_EARLY_MINUTES)


def _late() -> timedelta:
    return timedelta(minutes=settings.TICKET_ENTRY_LATE_MINUTES)


def invalid_token_verdict() -> GateVerdict:
    """What a gate says of input that cannot even be a token (empty, far too long)."""
    return _verdict("invalid_token")


def day_text(local: datetime) -> str:
    # The one date format of the site (ticketing.local_time), as on the buyer's ticket.
    return local_time.format_date(local)


def _clock(value: datetime, tz: tzinfo) -> str:
    return local_time.format_time(value, tz)


def _window_verdict(
    now: datetime,
    starts: datetime,
    ends: datetime | None,
    tz: tzinfo,
    claims: TicketClaims | None,
    ticket: Ticket | None,
    *,
    length: timedelta = OFFLINE_SLOT_LENGTH,
) -> GateVerdict | None:
    """A too_early or expired verdict, or None inside [start - early, end + late).

    `ends` None (an offline gate not told the slot's length) stands for `starts + length`.
    """
    opens = starts - _early()
    closes = (ends or starts + length) + _late()
    if now < opens:
        local = opens.astimezone(tz)
        message = _("Too early: entry opens at %(time)s on %(day)s.") % {
            "time": _clock(local, tz),
            "day": day_text(local),
        }
        return _verdict("too_early", claims, ticket, message)
    if now >= closes:
        start_local = starts.astimezone(tz)
        values = {"start": _clock(starts, tz), "day": day_text(start_local)}
        values["closed"] = _clock(closes, tz)
        if ends is None:
            message = (
                _("This ticket was for %(start)s on %(day)s; entry closed at %(closed)s.") % values
            )
        else:
            values["end"] = _clock(ends, tz)
            message = (
                _("This ticket was for %(start)s-%(end)s on %(day)s; entry closed at %(closed)s.")
                % values
            )
        return _verdict("expired", claims, ticket, message)
    return None


def check_offline(
    token: str,
    keys: Ed25519PublicKey | Iterable[Ed25519PublicKey],
    revoked: Collection[uuid.UUID],
    *,
    now: datetime | None = None,
    slot_minutes: int | None = None,
    tz: tzinfo = UTC,
) -> GateVerdict:
    """Verdict from the signature and a revocation list alone: what a gate without network does.

    The entry window starts from the token's slot start. The token does not carry the slot's
    end: give `slot_minutes` (the attraction's slot length, which a gate at one attraction
    knows) for the exact closing time; without it the gate assumes OFFLINE_SLOT_LENGTH (12 h),
    so it refuses early tickets exactly and stale ones only the same generous way. `tz` is the
    attraction's time zone, for the times in the messages (UTC when not given).
    """
    try:
        claims = verify_token(token, keys)
    except InvalidToken:
        return _verdict("invalid_token")
    if claims.ticket_uuid in revoked:
        return _verdict("revoked", claims)
    ends = None if slot_minutes is None else claims.slot_start + timedelta(minutes=slot_minutes)
    refused = _window_verdict(now or clock.now(), claims.slot_start, ends, tz, claims, None)
    return refused or _verdict("valid", claims)


def check_ticket(token: str, *, now: datetime | None = None) -> GateVerdict:
    """Verdict for a scanned token against the site's keys, the ticket's current state and its
    slot's entry window (the slot's start and end as booked, in the attraction's time zone)."""
    try:
        claims = verify_token(token, public_keys())
    except InvalidToken:
        return _verdict("invalid_token")
    ticket = (
        Ticket.objects.select_related("order", "slot__attraction", "ticket_type")
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
    slot = ticket.slot
    refused = _window_verdict(
        now or clock.now(), slot.starts_at, slot.ends_at, slot.attraction.tz, claims, ticket
    )
    return refused or _verdict("valid", claims, ticket)


def admit(token: str, *, actor: str) -> GateVerdict:
    """Check the token and mark its ticket used; `ok` only for the one scan that admitted it.

    The change is a compare-and-set (`UPDATE ... WHERE state = 'valid'`) written with its audit
    record in one transaction, so two gates scanning the same code at once admit one visitor.
    """
    now = clock.now()
    verdict = check_ticket(token, now=now)
    if not verdict.ok:
        return verdict
    ticket = verdict.ticket
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
            # The admission counts in the sales report's day of the scan, with the scan.
            ledger.ticket_admitted(ticket.pk)
    if not admitted:
        # Another scan won, or the ticket was revoked in between: say which.
        return check_ticket(token, now=now)
    ticket.state, ticket.used_at = Ticket.State.USED, now
    return _verdict("admitted", verdict.claims, ticket)
