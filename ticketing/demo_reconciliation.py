"""A reconciled past day for the demo, so the admin's reconciliation pages show a real report
the first time anyone opens them.

Made the real way: box-office orders paid with the sandbox's instant test buyer code and one
refunded in part, through the lifecycle over HTTP to the sandbox (served from a thread while
`load_demo` runs, the clock moved to that day), then the day's files fetched from the sandbox and
reconciled. The sandbox adds a stranger's trade on purpose, so the differences list has one
critical difference to try the actions on. Loaded once: later runs find the demo run and stop.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.test.utils import override_settings

from payments import alipay_client, clock, lifecycle
from payments.alipay.beijing import BEIJING, beijing
from payments.exceptions import PaymentError

from . import orders
from .models import Attraction, Order, TicketType, TimeSlot

logger = logging.getLogger(__name__)

DEMO_TRIGGER = "demo"
INSTANT_BUYER = "280000000000000001"  # the sandbox's "instant success" test buyer code
DAYS_AGO = 2


def load_demo_reconciled_day() -> bool:
    """Returns whether the day was made now (False: it exists already, or no slot to sell)."""
    # The sandbox (and reconciliation against it) may be left out of a production site:
    # loaded only when demo data is asked for.
    from payments.reconciliation.models import ReconciliationRun
    from payments.reconciliation.tasks import reconcile_sources
    from payments.sandbox.serving import site_in_thread

    if ReconciliationRun.objects.filter(trigger=DEMO_TRIGGER).exists():
        return False
    if transaction.get_connection().in_atomic_block:
        # The sandbox answers from another thread and connection: it would not see rows this
        # transaction has not committed (and SQLite would keep it waiting for the lock).
        return False
    try:
        alipay_client.client_config()
    except PaymentError:
        logger.warning("demo reconciled day skipped: the Alipay configuration is not usable")
        return False
    today = beijing(clock.now()).date()
    day = today - dt.timedelta(days=DAYS_AGO)
    attraction = Attraction.objects.filter(currency="CNY").order_by("sort_order").first()
    slot = (
        TimeSlot.objects.filter(attraction=attraction, starts_at__gt=clock.now())
        .order_by("starts_at")
        .first()
    )
    if attraction is None or slot is None:
        return False
    adult = TicketType.objects.get(attraction=attraction, code="adult")
    with site_in_thread() as base:
        alipay = {**settings.ALIPAY, "GATEWAY_URL": f"{base}/sandbox/gateway.do"}
        with override_settings(ALIPAY=alipay, SANDBOX_FILE_KNOBS="stranger=1"):
            try:
                clock.freeze(dt.datetime.combine(day, dt.time(10), tzinfo=BEIJING))
                paid = []
                for admissions in (2, 1, 3):
                    order = orders.create_order(
                        attraction=attraction,
                        slot=slot,
                        quantities={adult.pk: admissions},
                        buyer_name="",
                        email="",
                        language="en",
                        channel=Order.Channel.BOX_OFFICE,
                        actor="box-office:demo",
                    )
                    payment = orders.start_counter_payment(
                        order,
                        INSTANT_BUYER,
                        store_id="DEMO",
                        terminal_id="DEMO-1",
                        actor="box-office:demo",
                    )
                    paid.append(payment)
                    clock.advance(37 * 60)
                lifecycle.request_refund(
                    paid[-1], amount=adult.price, reason="one visitor fewer", actor="demo"
                )
                clock.freeze(dt.datetime.combine(today, dt.time(11), tzinfo=BEIJING))
                report = reconcile_sources(day, ["sandbox"], trigger=DEMO_TRIGGER)
            finally:
                clock.reset()
                alipay_client.close_client()
    logger.info("demo reconciled day %s: %d files", day, report.run.files_imported)
    return True
