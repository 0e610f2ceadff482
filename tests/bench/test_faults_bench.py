"""``bench/faults.py --quick`` completes and reports every figure it promises.

Figures of time are not judged here (shared machines are noisy); the fault figures are
correctness, so they are: nothing twice, nothing stuck, unknown only what was in flight.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_faults_bench_quick() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "faults.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("click_ms", "list_ms", "list_idle_ms"):
        assert isinstance(result[key], float) and result[key] > 0
    assert result["measured_during_send"] is True
    assert result["people"] == 60
    assert result["duplicates"] == 0 and result["stuck"] == 0
    assert result["unknown"] <= 2 * 5  # one hand-off group of 5 per kill, at most
    assert result["received"] >= result["people"] - result["unknown"]
