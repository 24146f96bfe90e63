"""Alipay's six barcode validation cases (iValidate SPOT-001..006) through the real lifecycle.

Each case takes a real payment with a sandbox test buyer code via lifecycle.create_barcode_payment
and waits for its final state. The waiting is honest: the command offers to run the poller itself
(payments.poller.run), which yields to a running cluster's poller through the lease, so against
`make run` the cluster does the polling and without one the command does it, with the same code.
Prints: case, partner_trans_id, expected, observed, PASS/FAIL; exits 1 if any case fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand

from payments import clock, lifecycle, poller
from payments.alipay.services import CANCEL, QUERY, SPOT_PAY
from payments.conf import conf
from payments.exceptions import PaymentError
from payments.models import GatewayExchange, Payment

State = Payment.State


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    buyer_code: str
    expected: str
    check: Callable[[Payment, list[GatewayExchange], float], tuple[bool, str]]
    short_deadline: bool = False


def _by(rows, service):
    return [row for row in rows if row.service == service]


def _identical(rows) -> bool:
    return all(row.request_params == rows[0].request_params for row in rows)


def _check_001(payment, rows, deadline):
    pays = _by(rows, SPOT_PAY)
    extend = pays[0].request_params.get("extend_info", "") if pays else ""
    sent = '"secondary_merchant_id"' in extend and '"store_id"' in extend
    return (
        payment.state == State.PAID and sent,
        f"{payment.state}; extend_info with secondary_merchant_id and store_id: "
        f"{'yes' if sent else 'no'}",
    )


def _check_002(payment, rows, deadline):
    pays = _by(rows, SPOT_PAY)
    code = pays[0].request_params.get("buyer_identity_code", "") if pays else ""
    return payment.state == State.PAID and len(
        code
    ) == 24, f"{payment.state}; code {len(code)} digits"


def _check_003(payment, rows, deadline):
    pays, queries = _by(rows, SPOT_PAY), _by(rows, QUERY)
    first = (queries[0].created_at - pays[0].created_at).total_seconds() if queries and pays else -1
    ok = (
        payment.state == State.PAID
        and pays[0].code == "UNKNOW"
        and 3.0 <= first <= 4.5
        and any(q.believed and q.code == "SUCCESS" for q in queries)
    )
    return ok, f"{payment.state}; pay {pays[0].code if pays else '-'}; {len(queries)} queries, " + (
        f"first +{first:.1f} s"
    )


def _check_004(payment, rows, deadline):
    pays, cancels = _by(rows, SPOT_PAY), _by(rows, CANCEL)
    at = (cancels[0].created_at - pays[0].created_at).total_seconds() if cancels and pays else -1
    ok = payment.state == State.CANCELLED and at >= deadline - 1
    return ok, f"{payment.state}; cancel at +{at:.0f} s ({len(_by(rows, QUERY))} queries before)"


def _check_005(payment, rows, deadline):
    pays = _by(rows, SPOT_PAY)
    ok = (
        payment.state == State.PAID
        and pays[0].code == "SYSTEM_ERROR"
        and _identical(pays)
        and sum(1 for row in rows if row.believed and row.code == "SUCCESS") >= 1
    )
    return ok, (
        f"{payment.state}; pay {pays[0].code if pays else '-'}, {len(pays)} identical pay(s), "
        f"{len(_by(rows, QUERY))} queries"
    )


def _check_006(payment, rows, deadline):
    pays, queries = _by(rows, SPOT_PAY), _by(rows, QUERY)
    timed_out = bool(pays) and pays[0].transport == "timeout"
    settled = payment.state == State.PAID and any(q.believed for q in queries)
    settled = settled or (payment.state == State.CANCELLED and bool(_by(rows, CANCEL)))
    return timed_out and settled, (
        f"{payment.state}; pay {pays[0].transport if pays else '-'}, {len(queries)} queries"
    )


CASES = (
    Case("SPOT-001", "direct payment", "280000000000000001", "paid, store sent", _check_001),
    Case("SPOT-002", "24-digit buyer code", "280000000000000000000001", "paid", _check_002),
    Case(
        "SPOT-003",
        "PIN then success",
        "280000000000000308",
        "pending -> polled -> paid",
        _check_003,
    ),
    Case(
        "SPOT-004",
        "buyer never confirms",
        "280000000000000004",
        "cancelled at the deadline",
        _check_004,
        short_deadline=True,
    ),
    Case(
        "SPOT-005", "SYSTEM_ERROR", "280000000000000602", "paid once, identical retries", _check_005
    ),
    Case(
        "SPOT-006",
        "pay reply lost",
        "280000000000000007",
        "timeout -> query -> paid/cancelled",
        _check_006,
        short_deadline=True,
    ),
)


class Command(BaseCommand):
    help = "Run Alipay's barcode validation cases SPOT-001..006 against the configured gateway."

    def add_arguments(self, parser):
        parser.add_argument(
            "--deadline",
            type=int,
            default=None,
            help="payment deadline in seconds for SPOT-004/006 (default: PAYMENTS setting)",
        )
        parser.add_argument("--case", action="append", help="run only these cases (repeatable)")
        parser.add_argument("--store-id", default="VALIDATE")
        parser.add_argument(
            "--drive",
            choices=("auto", "always", "never"),
            default="auto",
            help="run the poller here: auto = only when no cluster takes an overdue step",
        )

    def handle(self, *args, deadline=None, case=None, store_id="VALIDATE", drive="auto", **options):
        self.drive = drive
        self.warned = False

        deadline = deadline or int(conf("DEADLINE_SECONDS"))
        chosen = [c for c in CASES if not case or c.name in case]
        results = []
        for spec in chosen:
            results.append(self._run_case(spec, deadline, store_id))
        self._print(results)
        if not all(row[-1] == "PASS" for row in results):
            raise SystemExit(1)

    def _run_case(self, spec: Case, deadline: int, store_id: str) -> tuple[str, ...]:
        try:
            payment = lifecycle.create_barcode_payment(
                amount=Decimal("10.00"),
                currency="USD",
                description=f"Alipay validation {spec.name} {spec.title}",
                buyer_code=spec.buyer_code,
                reference=spec.name,
                store_id=store_id,
                terminal_id="VALIDATE-1",
                deadline_seconds=deadline if spec.short_deadline else None,
                actor="command:alipay_validate",
            )
        except PaymentError as exc:
            return (spec.name, "-", spec.expected, f"refused: {exc.code}", "FAIL")
        payment = self._wait_final(payment)
        rows = list(payment.exchanges.order_by("created_at", "id"))
        used_deadline = (payment.deadline_at - payment.created_at).total_seconds()
        ok, observed = spec.check(payment, rows, used_deadline)
        return (
            spec.name,
            payment.partner_trans_id,
            spec.expected,
            observed,
            "PASS" if ok else "FAIL",
        )

    def _wait_final(self, payment: Payment) -> Payment:
        """Until the payment leaves the active states; bounded by its deadline plus the retries."""
        slack = conf("CANCEL_MAX_ATTEMPTS") * conf("CANCEL_RETRY_INTERVAL") + 90
        limit = payment.deadline_at.timestamp() + slack
        grace = timedelta(seconds=5)
        while clock.now().timestamp() < limit:
            payment.refresh_from_db()
            if payment.state not in Payment.ACTIVE_STATES:
                return payment
            # Against a running site the cluster polls and this only watches; the command
            # polls itself only when a step is overdue and no poller holds the lease.
            stalled = (
                payment.next_action_at is not None
                and clock.now() > payment.next_action_at + grace
                and not poller.lease_is_held(poller.shard_of(payment.pk))
            )
            if self.drive == "always" or (self.drive == "auto" and stalled):
                if self.drive == "auto" and not self.warned:
                    self.warned = True
                    self.stderr.write(
                        f"{payment.reference}: no task cluster took the overdue step "
                        f"({payment.state}); the command polls itself."
                    )
                if poller.run(window=5.0):
                    continue
            clock.sleep(0.25)
        payment.refresh_from_db()
        return payment

    def _print(self, rows) -> None:
        header = ("case", "partner_trans_id", "expected", "observed", "result")
        table = [header, *rows]
        widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
        for n, row in enumerate(table):
            line = "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True))
            if row[-1] == "FAIL":
                line = self.style.ERROR(line)
            elif row[-1] == "PASS":
                line = self.style.SUCCESS(line)
            self.stdout.write(line)
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        passed = sum(1 for r in rows if r[-1] == "PASS")
        self.stdout.write(f"\n{passed}/{len(rows)} cases passed")
