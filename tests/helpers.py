"""Helpers shared by tests of several areas."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def no_worker():
    """No django-q2 worker runs: queued tasks (a poller kicked by a payment, a refund, the
    sandbox's notifications) wait in the broker until the test runs them itself, as in production
    between a request and the cluster. Tests otherwise run django-q2 in sync mode, where a queued
    task runs inline at once.

    For a whole test, ask for the `no_worker` fixture; for a few steps, `with no_worker():`.
    django-q2 reads its sync flag at import, so this flips the loaded value.
    """
    from django_q.conf import Conf

    from payments.leases import clear_kick

    saved = Conf.SYNC
    Conf.SYNC = False
    try:
        yield
    finally:
        Conf.SYNC = saved
        # A poller kicked meanwhile waits in a broker that no test worker drains, and its
        # one-queued-poller marker would never expire under the frozen clock: free it, so the
        # next kick queues (in sync mode: runs) a poller as production's worker would have.
        # As a fixture it may end after the test's database access did: nothing to free then.
        with contextlib.suppress(RuntimeError):
            clear_kick()


def finishes_within(seconds: float, call: Callable[[], T], what: str) -> T:
    """Run `call` in a thread and fail with `what` unless it returns within `seconds`.

    For real-time behaviour the movable clock cannot drive (a long-poll holds an HTTP request
    for real seconds): the bound sits far from the expected time, so a busy machine does not fail
    the test, yet a call that waits out its own timeout instead of answering does.
    """
    from django.db import connection

    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # re-raised in the test's thread below
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"not within {seconds} s: {what}"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
