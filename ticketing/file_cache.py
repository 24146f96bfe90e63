"""The cache of the embedded default (no REDIS_URL): Django's file cache, culled sparingly.

Rate limits (the partner API's per terminal, the booking API's and the sign-ins' per address)
count in the default cache on every request they guard. Django's file cache lists its whole
directory on every write to decide whether to cull: with a few hundred registers, that listing was
a fifth of the web worker's time while they long-polled (bench/longpoll.py, profiled). And when
the entries pass MAX_ENTRIES it deletes a random third of them, live rate-limit counters included.

Here the directory is looked at most once per CULL_INTERVAL seconds in each process; when it is
over MAX_ENTRIES, expired entries go first, and only if that is not enough a random share of the
rest, as Django does. Settings give it a MAX_ENTRIES well above the number of counters a busy
site keeps.
"""

from __future__ import annotations

import threading
import time

from django.core.cache.backends import filebased

CULL_INTERVAL = 10.0  # seconds

_lock = threading.Lock()
# Per process, not per cache object: Django makes one cache object per thread, and under ASGI
# every request has a thread of its own.
_next_cull = 0.0


class FileBasedCache(filebased.FileBasedCache):
    def _cull(self) -> None:
        global _next_cull
        with _lock:
            now = time.monotonic()
            if now < _next_cull:
                return
            _next_cull = now + CULL_INTERVAL
        files = self._list_cache_files()
        if len(files) < self._max_entries:
            return
        for name in files:
            try:
                with open(name, "rb") as f:
                    self._is_expired(f)  # deletes the file when it has expired
            except FileNotFoundError:
                pass  # another process removed it
        super()._cull()
