"""`manage.py poller_status`: how far behind the payment pollers are, per shard, and who polls.

For operators: the due backlog (steps nobody has taken yet), the oldest overdue step, in-flight
payments past their deadline, and each shard's lease holder (host:pid:token) with its expiry.
`--json` prints the same as one object; the exit status is 1 while the lag is past
PAYMENTS_POLLER_ALERT_SECONDS, so a cron job or a monitor can act on it.
"""

from __future__ import annotations

import json as jsonlib

from django.core.management.base import BaseCommand

from payments.backlog import poller_lag


class Command(BaseCommand):
    help = "Show the payment pollers' backlog, oldest overdue step and lease holders per shard."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, json: bool = False, **options):
        lag = poller_lag()
        if json:
            self.stdout.write(_json(lag))
        else:
            self.stdout.write(_table(lag))
        if lag.lagging:
            raise SystemExit(1)


def _json(lag) -> str:
    data = lag.public()
    for shard, row in zip(lag.shards, data["shards"], strict=True):
        row["holder"] = shard.holder
        row["lease_expires_at"] = (
            shard.lease_expires_at.isoformat() if shard.lease_expires_at else None
        )
    data["at"] = lag.at.isoformat()
    return jsonlib.dumps(data, indent=2)


def _table(lag) -> str:
    status = "LAGGING" if lag.lagging else "ok"
    lines = [
        f"Payment pollers at {lag.at:%Y-%m-%d %H:%M:%S} UTC: {status} "
        f"(alert past {lag.alert_after:.0f} s)",
        f"{'shard':<6} {'due':>6} {'oldest overdue':>15} {'past deadline':>14}  lease holder",
    ]
    for shard in lag.shards:
        overdue = shard.overdue_seconds(lag.at)
        holder = (
            f"{shard.holder} (for {(shard.lease_expires_at - lag.at).total_seconds():.0f} s)"
            if shard.holder
            else "nobody"
        )
        lines.append(
            f"{shard.shard:<6} {shard.due:>6} {_age(overdue, shard.due):>15} "
            f"{shard.past_deadline:>14}  {holder}"
        )
    lines.append(
        f"{'all':<6} {lag.due:>6} {_age(lag.oldest_overdue, lag.due):>15} {lag.past_deadline:>14}"
    )
    return "\n".join(lines)


def _age(seconds: float, due: int) -> str:
    return f"{seconds:.1f} s" if due else "-"
