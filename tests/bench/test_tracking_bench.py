"""``bench/tracking.py --quick`` completes and reports every figure it promises.

Speeds are not judged (shared machines are noisy); losing an answered click is a defect.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tracking_bench_quick() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "tracking.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("clicks_per_s", "p50_ms", "p99_ms"):
        assert isinstance(result[key], float) and result[key] > 0
    assert result["answered"] > 0 and result["errors"] == 0
    assert result["recorded"] == result["answered"] and result["lost"] == 0
    assert result["slow_held"] == result["slow"] == 50  # the slow clients were really held
