"""The tracking spool's group fsync: concurrent requests share fsyncs, none is lost."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from engine.tracking_server import spool as spool_mod
from engine.tracking_server.spool import Entry, Spool


def test_concurrent_adds_share_fsyncs_and_all_survive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[int] = []
    real = os.fsync
    gate = threading.Event()

    def slow_fsync(fd: int) -> None:  # a disk that takes a while: writes pile up meanwhile
        syncs.append(fd)
        gate.wait(0.05)
        real(fd)

    monkeypatch.setattr(spool_mod.os, "fsync", slow_fsync)
    first = Spool(tmp_path / "spool")
    assert first.open() == []
    threads = [
        threading.Thread(target=lambda n=n: first.add(Entry(f"e{n}", {"kind": "interact", "n": n})))
        for n in range(40)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert first.pending == 40
    assert 1 <= len(syncs) < 40  # each add returned after an fsync that covered it
    # a server that stops with everything pending leaves it all for the next one
    monkeypatch.setattr(spool_mod.os, "fsync", real)
    first.close()
    second = Spool(tmp_path / "spool")
    adopted = second.open()
    assert sorted(e.id for e in adopted) == sorted(f"e{n}" for n in range(40))
    second.close()


def test_an_entry_is_announced_safe_only_after_an_fsync_covered_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``add(..., on_safe=...)`` returns once written; the syncer thread calls back after
    the fsync that covers the entry, one fsync for all that were written meanwhile."""
    synced_sizes: list[int] = []
    real = os.fsync

    def slow_fsync(fd: int) -> None:
        size = os.fstat(fd).st_size  # what this fsync covers
        threading.Event().wait(0.02)
        real(fd)
        synced_sizes.append(size)

    monkeypatch.setattr(spool_mod.os, "fsync", slow_fsync)
    spool = Spool(tmp_path / "spool")
    assert spool.open() == []
    covered: dict[str, int] = {}
    told = threading.Semaphore(0)

    def on_safe(entry_id: str) -> None:
        covered[entry_id] = max(synced_sizes, default=0)
        told.release()

    threads = [
        threading.Thread(
            target=lambda n=n: spool.add(
                Entry(f"e{n}", {"kind": "interact", "n": n}), lambda n=n: on_safe(f"e{n}")
            )
        )
        for n in range(40)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(40):
        assert told.acquire(timeout=10), "an entry was never announced safe"
    assert spool.path is not None
    ends, offset = {}, 0
    for line in spool.path.read_bytes().splitlines(keepends=True):
        offset += len(line)
        ends[json.loads(line)["add"]] = offset
    assert all(covered[e] >= ends[e] for e in ends), (covered, ends)
    assert 1 <= len(synced_sizes) < 40  # fsyncs shared
    spool.close()  # all pending: kept for the next server
    second = Spool(tmp_path / "spool")
    assert sorted(e.id for e in second.open()) == sorted(ends)
    second.close()


def test_servers_of_one_database_take_turns_at_writing(tmp_path: Path) -> None:
    """Two servers' spools of one SQLite file queue for its write lock: the second gets
    its turn the moment the first ends its own, and the lock file goes with the last."""
    first = Spool(tmp_path / "spool", take_turns=True)
    second = Spool(tmp_path / "spool", take_turns=True)
    first.open()
    second.open()
    order: list[str] = []

    def write_second() -> None:
        with second.turn():
            order.append("second")

    with first.turn():
        waiter = threading.Thread(target=write_second)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()  # waiting for the first one's turn to end
        order.append("first")
    waiter.join(5)
    assert order == ["first", "second"]
    first.close()
    second.close()
    assert not (tmp_path / "spool").exists()
