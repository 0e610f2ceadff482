"""Each process-level benchmark's ``--quick`` run completes and reports every figure it
promises. Speeds are not judged (shared machines are noisy); the fault figures are
correctness, so they are: nothing twice, nothing stuck, no answered click lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def quick(script: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_faults_bench_quick() -> None:
    result = quick("faults.py")
    for key in ("click_ms", "list_ms", "list_idle_ms"):
        assert isinstance(result[key], float) and result[key] > 0
    assert result["measured_during_send"] is True
    assert result["people"] == 60
    assert result["duplicates"] == 0 and result["stuck"] == 0
    assert result["unknown"] <= 2 * 5  # one hand-off group of 5 per kill, at most
    assert result["received"] >= result["people"] - result["unknown"]


def test_tracking_bench_quick() -> None:
    result = quick("tracking.py")
    for key in ("clicks_per_s", "p50_ms", "p99_ms"):
        assert isinstance(result[key], float) and result[key] > 0
    assert result["answered"] > 0 and result["errors"] == 0
    assert result["recorded"] == result["answered"] and result["lost"] == 0
    assert result["slow_held"] == result["slow"] == 50  # the slow clients were really held
