"""The embedded default's cache (ticketing/file_cache.py): it looks at its directory at most once
per interval, and when it must cull, expired entries go before live ones."""

from __future__ import annotations

import pytest

from ticketing import file_cache


@pytest.fixture
def small_cache(tmp_path, monkeypatch):
    # The cull is paced per process: start each test with one due.
    monkeypatch.setattr(file_cache, "_next_cull", 0.0)
    return file_cache.FileBasedCache(str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": 10}})


def entries(cache) -> int:
    return len(cache._list_cache_files())


def test_past_max_entries_expired_entries_go_first_and_live_ones_stay(small_cache, monkeypatch):
    small_cache.set("first", 1)  # the due cull: nothing to do, and the next one is paced
    for i in range(6):
        small_cache.set(f"live-{i}", i, timeout=300)
    for i in range(6):
        small_cache.set(f"expired-{i}", i, timeout=0)  # written already expired
    assert entries(small_cache) == 13  # no cull within the interval, even past MAX_ENTRIES

    monkeypatch.setattr(file_cache, "_next_cull", 0.0)  # the interval is over
    small_cache.set("last", 1)
    assert entries(small_cache) == 8
    assert [small_cache.get(f"live-{i}") for i in range(6)] == list(range(6))
    assert small_cache.get("first") == 1 and small_cache.get("last") == 1
