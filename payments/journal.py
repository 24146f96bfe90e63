"""The poller's quiet queries, gathered from its threads and written a batch at a time.

Most of what a poller sends is a query of a pending payment that brings no news: its write is an
audit row, the query count and the next query's time (transitions.record_quiet_queries). Written
by each thread in a transaction of its own, that write cost the poller more CPU than the query's
exchange with Alipay (bench/polling.py --pinned); the flow loop instead writes what its threads
gathered once per tick, in one transaction.

Nothing is late for waiting for the tick: a claimed payment is due again only at its claim's
expiry (CLAIM_SECONDS), long after the tick, and a query that brought news (paid, closed, an
error to act on) never comes here: it is written by its own thread at once. A poller killed
before the tick loses the record of its last quiet queries (as a kill during a query always
lost that one's): their payments are queried again when their claims expire.
"""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError

from payments.transitions import QuietQuery, record_quiet_queries

logger = logging.getLogger(__name__)


class QueryJournal:
    """Quiet queries added by any thread, written by `flush()`."""

    def __init__(self) -> None:
        self._queries: list[QuietQuery] = []
        self._lock = threading.Lock()

    def add(self, query: QuietQuery) -> None:
        with self._lock:
            self._queries.append(query)

    def flush(self) -> int:
        """Write what was gathered; the number of queries written.

        A batch that fails is written again one query at a time, so that one row the database
        refuses costs only itself; a query still refused is logged and left out (its payment
        stays claimed until the claim expires, and is then queried again).
        """
        with self._lock:
            queries, self._queries = self._queries, []
        if not queries:
            return 0
        try:
            record_quiet_queries(queries)
            return len(queries)
        except DatabaseError:
            logger.warning("a batch of %d quiet queries failed; writing them one by one",
                           len(queries), exc_info=True)  # fmt: skip
        written = 0
        for query in queries:
            try:
                record_quiet_queries([query])
                written += 1
            except DatabaseError:
                logger.exception(
                    "payment %s: the record of a query that changed nothing was lost",
                    query.exchange.payment_id,
                )
        return written
