"""The tracking spool's group fsync: concurrent requests share fsyncs, none is lost."""

from __future__ import annotations

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
