"""The only code that writes payment and refund state: compare-and-set plus audit rows.

A transition is `UPDATE ... WHERE pk = id AND state = old` inside one transaction together with its
PaymentEvent; it returns whether it happened, so two workers or two requests can never both make
it. Every transition also bumps `chain_generation`: whoever holds the old generation (a poller
round, a duplicate task) finds its follow-up writes refused and stops. Signals and follow-up work
are queued with transaction.on_commit, so they fire once and only for what was committed.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple

from django.db import connections, router, transaction
from django.db.models import F

from payments import clock, rows, signals, waiters
from payments.alipay.results import GatewayResult
from payments.alipay.services import QUERY, mask
from payments.conf import conf, later
from payments.models import GatewayExchange, Payment, PaymentEvent, Refund
from payments.wakeup import kick_poller_after_commit

logger = logging.getLogger(__name__)

# Alipay echoes the request in its reply (<request><param name="buyer_identity_code">): a live
# buyer code must not be stored whole anywhere, so the audit copy masks it like the request.
_ECHOED_CODE = re.compile(r'(buyer_identity_code"?\s*>\s*)(\d{8,32})')


def exchange_row(
    result: GatewayResult,
    *,
    sent_at: datetime,
    attempt: int,
    believed: bool,
    payment: Payment | None = None,
    refund: Refund | None = None,
    actor: str = "",
) -> GatewayExchange:
    """The audit row of one gateway call, unsaved (the client already left out `sign` and
    masked codes; the reply's echo of a buyer code is masked here)."""
    return GatewayExchange(
        payment=payment,
        refund=refund,
        service=result.service,
        request_params=dict(result.request_params),
        raw_reply=_ECHOED_CODE.sub(lambda m: m.group(1) + mask(m.group(2)), result.raw[:20000]),
        signature=str(result.signature),
        transport=str(result.transport),
        outcome=str(result.outcome),
        code=result.code[:64],
        message=str(result.message)[:500],
        http_status=result.http_status,
        latency_ms=max(int(result.latency_ms), 0),
        attempt=attempt,
        believed=believed,
        actor=actor[:150],
        created_at=sent_at,
    )


def record_exchange(result: GatewayResult, **row) -> GatewayExchange:
    """Record one gateway call (the arguments of exchange_row).

    One INSERT whose SQL is made once (payments.rows): the poller writes a row per query, and
    compiling the ORM's INSERT each time cost more CPU than the rest of the write. A trade query
    also counts in its payment's `query_count`, here and in record_quiet_queries and nowhere
    else, whoever sent it (the poller, a notification's check, staff, reconciliation) and
    whatever it answered: the count staff read beside the listed exchanges is the number of them.
    """
    exchange = exchange_row(result, **row)
    rows.insert(exchange, router.db_for_write(GatewayExchange))
    if exchange.payment_id is not None and result.service == QUERY:
        connection = connections[router.db_for_write(Payment)]
        with connection.cursor() as cursor:
            cursor.execute(_count_query_sql(connection.vendor), [exchange.payment_id])
    return exchange


class QuietQuery(NamedTuple):
    """A query of a pending payment that brought no news: its audit row (exchange_row) and the
    payment's next query, due at `next_action_at` if chain `generation` still owns it."""

    exchange: GatewayExchange
    generation: int
    next_action_at: datetime


def record_quiet_queries(queries: list[QuietQuery]) -> None:
    """Record queries that changed nothing, in one transaction: their audit rows, their counts
    and each payment's next query (compare-and-set on its chain, as reschedule_payment).

    The poller's usual write, a few times per payment per 3 s: a batch is three executemany
    (payments.journal gathers them), where a transaction per query spent more CPU on the
    transaction than on the rows. Payments are locked in id order, so that two batches sharing
    rows (two pollers of one shard, for a moment) wait for each other instead of deadlocking.
    """
    if not queries:
        return
    queries = sorted(queries, key=lambda q: q.exchange.payment_id)
    alias = router.db_for_write(Payment)
    connection = connections[alias]
    updated_at = clock.now()
    sql, fields = _update_sql(("next_action_at", "updated_at"), connection.vendor)
    with transaction.atomic(using=alias):
        rows.insert_many([q.exchange for q in queries], router.db_for_write(GatewayExchange))
        with connection.cursor() as cursor:
            cursor.executemany(
                _count_query_sql(connection.vendor), [[q.exchange.payment_id] for q in queries]
            )
            cursor.executemany(
                sql,
                [
                    [
                        *_prepared(fields, [q.next_action_at, updated_at], connection),
                        q.exchange.payment_id,
                        q.generation,
                        Payment.State.PENDING,
                    ]
                    for q in queries
                ],
            )


def _prepared(fields: list, values: list, connection) -> list:
    return [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]


@cache
def _count_query_sql(vendor: str) -> str:
    """`query_count = query_count + 1`, made once: the poller counts every query it sends."""
    quote = connections[router.db_for_write(Payment)].ops.quote_name
    count = quote(Payment._meta.get_field("query_count").column)
    key = quote(Payment._meta.pk.column)
    return f"UPDATE {quote(Payment._meta.db_table)} SET {count} = {count} + 1 WHERE {key} = %s"  # noqa: S608


_PAYMENT_SIGNALS = {
    Payment.State.PAID: signals.payment_paid,
    Payment.State.FAILED: signals.payment_failed,
    Payment.State.CANCELLED: signals.payment_cancelled,
    Payment.State.NEEDS_ATTENTION: signals.payment_needs_attention,
}


def _send(signal, **kwargs) -> None:
    for receiver, response in signal.send_robust(sender=Payment, **kwargs):
        if isinstance(response, Exception):
            logger.error("payment signal receiver %r failed: %r", receiver, response)


def announce_money_returning(
    payment: Payment, *, refund: Refund | None, amount, in_full: bool
) -> None:
    """Tell receivers, inside the caller's transaction, that money is going back to the buyer.

    Sent with `send`, not `send_robust`: a receiver that fails rolls the caller's transaction
    back, so no money movement is recorded while what it paid for is still honoured.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("money_returning must be sent inside the transaction recording it")
    signals.money_returning.send(
        sender=Payment, payment=payment, refund=refund, amount=amount, in_full=in_full
    )


def transition_payment(
    payment_id: int,
    *,
    to: str,
    from_states: Iterable[str],
    actor: str,
    note: str = "",
    generation: int | None = None,
    fields: dict | None = None,
    refund: Refund | None = None,
    kick: bool = True,
    announce: bool = True,
) -> int | None:
    """Move a payment from one of `from_states` to `to`; the new chain generation, or None.

    With `generation`, the move happens only if nobody else moved the payment since that
    generation was claimed. `fields` are written in the same UPDATE. `kick=False` when the
    caller makes the next gateway call itself (the poller takes over only if that one fails).
    `announce=False` keeps the outcome signal back: reconciliation marks a payment Entrada had
    given up on as paid only to refund it at once, and nobody must deliver tickets for it.
    """
    now = clock.now()
    with transaction.atomic():
        base = Payment.objects.filter(pk=payment_id)
        if generation is not None:
            base = base.filter(chain_generation=generation)
        row = (
            base.filter(state__in=list(from_states))
            .values_list("state", "paid_at", "reversed_at")
            .first()
        )
        if row is None:
            return None
        current, paid_at, reversed_at = row
        fields = dict(fields or {})
        # A paid payment ending cancelled was reversed: all its money went back now. One that
        # leaves `cancelled` (Alipay shows it paid after all) was not: the reversal is undone.
        reversal = None
        if to == Payment.State.CANCELLED and paid_at is not None:
            fields["reversed_at"] = reversal = now
        elif reversed_at is not None:
            fields["reversed_at"] = None
            reversal = reversed_at
        updated = base.filter(state=current).update(
            state=to, updated_at=now, chain_generation=F("chain_generation") + 1, **fields
        )
        if updated != 1:
            return None
        PaymentEvent.objects.create(
            payment_id=payment_id,
            refund=refund,
            from_state=current,
            to_state=to,
            actor=actor[:150],
            note=note[:500],
            at=now,
        )
        new_generation = Payment.objects.filter(pk=payment_id).values_list(
            "chain_generation", flat=True
        )[0]
        if fields.get("paid_at") is not None:
            signals.money_recorded.send(sender=Payment, payment_id=payment_id, refund_id=None)
        if reversal is not None:
            signals.money_recorded.send(
                sender=Payment,
                payment_id=payment_id,
                refund_id=None,
                reversed_at=reversal,
                undone=to != Payment.State.CANCELLED,
            )
        signal = _PAYMENT_SIGNALS.get(to)
        if signal is not None and announce:
            transaction.on_commit(
                lambda: _send(signal, payment=Payment.objects.get(pk=payment_id), actor=actor)
            )
        if kick and to in Payment.ACTIVE_STATES:
            kick_poller_after_commit()
        # Registers long-polling this payment hear of it now, not at their next check.
        transaction.on_commit(lambda: waiters.announce_change(payment_id))
    logger.info("payment %s: %s -> %s by %s", payment_id, current, to, actor)
    return new_generation


def reschedule_payment(
    payment_id: int, *, generation: int, state: str, next_action_at: datetime | None, **fields
) -> bool:
    """Set the next step of a payment that stays in `state`, if this chain still owns it.

    One UPDATE whose SQL is made once per set of fields (_update_sql): the poller reschedules
    after every query, and compiling the ORM's UPDATE each time cost more than running it.
    """
    values = {"next_action_at": next_action_at, "updated_at": clock.now(), **fields}
    connection = connections[router.db_for_write(Payment)]
    sql, model_fields = _update_sql(tuple(values), connection.vendor)
    params = _prepared(model_fields, list(values.values()), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, payment_id, generation, state])
        return cursor.rowcount == 1


@cache
def _update_sql(names: tuple[str, ...], vendor: str) -> tuple[str, list]:
    """UPDATE of the named payment fields, compare-and-set on id, chain generation and state."""
    quote = connections[router.db_for_write(Payment)].ops.quote_name
    fields = [Payment._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    key, generation, state = (
        quote(Payment._meta.get_field(name).column) for name in ("id", "chain_generation", "state")
    )
    # Names from the model's metadata only; every value is a bound parameter.
    sql = (
        f"UPDATE {quote(Payment._meta.db_table)} SET {assignments} "  # noqa: S608
        f"WHERE {key} = %s AND {generation} = %s AND {state} = %s"
    )
    return sql, fields


def transition_refund(
    refund_id: int,
    *,
    to: str,
    from_states: Iterable[str],
    actor: str,
    note: str = "",
    fields: dict | None = None,
) -> bool:
    """Move a refund; when it succeeds, move its payment to partially_refunded or refunded.

    Both moves and both audit rows share one transaction; the payment's new state is computed
    from the sum of succeeded refunds while its row is locked (PostgreSQL) or the database is
    (SQLite's IMMEDIATE transactions), so two refunds finishing together cannot miscount.
    """
    now = clock.now()
    with transaction.atomic():
        refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
        if refund is None:
            return False
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        current = refund.state
        if current not in set(from_states):
            return False
        if (
            Refund.objects.filter(pk=refund_id, state=current).update(
                state=to, updated_at=now, **(fields or {})
            )
            != 1
        ):
            return False
        PaymentEvent.objects.create(
            payment_id=payment.pk,
            refund_id=refund_id,
            from_state=f"refund:{current}",
            to_state=f"refund:{to}",
            actor=actor[:150],
            note=note[:500],
            at=now,
        )
        if to == Refund.State.SUCCEEDED:
            signals.money_recorded.send(sender=Payment, payment_id=payment.pk, refund_id=refund_id)
            succeeded = sum(
                payment.refunds.filter(state=Refund.State.SUCCEEDED).values_list(
                    "amount", flat=True
                )
            )
            target = (
                Payment.State.REFUNDED
                if succeeded >= payment.amount
                else Payment.State.PARTIALLY_REFUNDED
            )
            if payment.state != target:
                transition_payment(
                    payment.pk,
                    to=target,
                    from_states=Payment.REFUNDABLE_STATES,
                    actor=actor,
                    note=f"refund {refund.partner_refund_id} of {refund.amount}",
                )

            def announce() -> None:
                fresh = Refund.objects.select_related("payment").get(pk=refund_id)
                _send(signals.payment_refunded, payment=fresh.payment, refund=fresh, actor=actor)

            transaction.on_commit(announce)
        if to == Refund.State.REQUESTED:
            kick_poller_after_commit()
    logger.info("refund %s: %s -> %s by %s", refund_id, current, to, actor)
    return True


# --- claims: owning a row's next step before doing it -----------------------------------------
def claim_payment(payment: Payment) -> int | None:
    """Own a due payment's next step with one compare-and-set on the row as it was read.

    Returns the new chain generation, or None when someone moved or claimed it meanwhile.
    """
    now = clock.now()
    generation = payment.chain_generation + 1
    claimed = Payment.objects.filter(
        pk=payment.pk,
        state=payment.state,
        chain_generation=payment.chain_generation,
        next_action_at=payment.next_action_at,
    ).update(
        chain_generation=generation,
        next_action_at=now + timedelta(seconds=conf("CLAIM_SECONDS")),
    )
    if claimed != 1:
        return None
    payment.chain_generation = generation
    return generation


def claim_payments(ids: list[int]) -> list[Payment]:
    """Own the next step of many due payments at once: one UPDATE and one SELECT for a batch.

    `ids` are due payments as just read. A row is claimed if it is still active and due (a
    transition or another claim since then moved its `next_action_at` away, or made it final).
    The claim bumps the chain generation and sets `next_action_at` to a mark of this batch (the
    claim's expiry plus random microseconds), by which the claimed rows are read back, fresh, in
    the order given.
    """
    if not ids:
        return []
    now = clock.now()
    mark = now + timedelta(seconds=conf("CLAIM_SECONDS"), microseconds=secrets.randbelow(10**6))
    alias = router.db_for_write(Payment)
    connection = connections[alias]
    field = Payment._meta.get_field("next_action_at")
    # Statements made once (the poller claims several times a second), values bound per call.
    sql = _claim_sql(connection.vendor) + f"({', '.join(['%s'] * len(ids))})"
    states = list(Payment.ACTIVE_STATES)
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    field.get_db_prep_save(mark, connection),
                    *states,
                    field.get_db_prep_save(now, connection),
                    *[int(pk) for pk in ids],
                ],
            )
        found = rows.select(Payment, {"next_action_at": mark}, pks=ids, using=alias)
    claimed = {p.pk: p for p in found}
    return [claimed[pk] for pk in ids if pk in claimed]


@cache
def _claim_sql(vendor: str) -> str:
    """The batch claim's UPDATE up to its id list, which the caller appends: a row still active
    and due gets the next chain generation and the batch's mark."""
    quote = connections[router.db_for_write(Payment)].ops.quote_name
    column = {name: quote(Payment._meta.get_field(name).column) for name in
              ("id", "chain_generation", "next_action_at", "state")}  # fmt: skip
    states = ", ".join(["%s"] * len(Payment.ACTIVE_STATES))
    return (
        f"UPDATE {quote(Payment._meta.db_table)} SET {column['chain_generation']} = "  # noqa: S608
        f"{column['chain_generation']} + 1, {column['next_action_at']} = %s "
        f"WHERE {column['state']} IN ({states}) AND {column['next_action_at']} <= %s "
        f"AND {column['id']} IN "
    )


def claim_refund(refund_id: int) -> int | None:
    """Take a due refund for one attempt; returns the attempts count it was claimed at."""
    row = (
        Refund.objects.filter(
            pk=refund_id, state=Refund.State.REQUESTED, next_action_at__lte=clock.now()
        )
        .values("attempts", "next_action_at")
        .first()
    )
    if row is None:
        return None
    claimed = Refund.objects.filter(
        pk=refund_id,
        state=Refund.State.REQUESTED,
        attempts=row["attempts"],
        next_action_at=row["next_action_at"],
    ).update(next_action_at=later(conf("CLAIM_SECONDS")))
    return row["attempts"] if claimed == 1 else None
