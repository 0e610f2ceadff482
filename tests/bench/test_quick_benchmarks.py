"""Each benchmark's ``--quick`` run completes and reports every figure it
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


def quick(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--json", *args],
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


def positive(result: dict[str, Any], *keys: str) -> None:
    for key in keys:
        assert isinstance(result[key], (int, float)) and result[key] > 0, (key, result[key])


def test_live_gui_bench_quick() -> None:
    for args in ((), ("--tab", "traces", "--sort", "record")):  # the second in the background
        result = quick("live_gui.py", *args)
        assert (result["tab"], result["sort"]) == (args[1], args[3]) if args else ("steps", "id")
        positive(result, "written", "rate_per_min", "refreshes", "lag_ms")
        for key in ("stall_max_ms", "stall_p99_ms", "stall_median_ms"):
            assert isinstance(result[key], (int, float)) and result[key] >= 0, key


def test_canvas_bench_quick() -> None:
    result = quick("canvas.py")
    assert result["activities"] == 60 and result["repeat"] == 1
    for side in ("", "baseline_"):
        positive(result, *(f"{side}{k}" for k in ("first_frame_s", "pan_frame_ms")))
        positive(result, f"{side}pan_frame_fit_ms", f"{side}paint_100_ms")
    positive(result, "open_s", "ratio", "ratio_cpu", "first_frame_cpu_s")


def test_engine_bench_quick() -> None:
    result = quick("engine.py")
    assert result["contacts"] == result["joined"] == 500
    assert result["traces"] == 1000 and result["outcomes"] == {"processed": 1000}
    positive(result, "sync_per_s", "traces_per_s", "peak_rss_mb", "baseline_inserts_per_s")
    positive(result, "ratio")


def test_email_bench_quick() -> None:
    """The script itself fails unless every message was processed and received."""
    result = quick("email.py")
    assert result["messages"] == 100
    positive(result, "pipeline_per_s", "baseline_per_s", "ratio", "engine_per_s", "engine_ratio")


def test_every_bench_script_has_a_quick_test() -> None:
    """A new benchmark comes with its ``--quick`` run here (helpers are not scripts)."""
    scripts = {p.stem for p in (ROOT / "bench").glob("*.py") if "__main__" in p.read_text()}
    assert scripts, "no bench scripts found"
    missing = {s for s in scripts if f"test_{s}_bench_quick" not in globals()}
    assert not missing, f"bench scripts without a --quick test: {sorted(missing)}"
    for script in scripts:
        assert "--quick" in (ROOT / "bench" / f"{script}.py").read_text(), script


def test_report_bench_quick() -> None:
    result = quick("report.py")
    assert result["traces"] == 5000
    positive(result, "report_ms", "naive_ms", "refresh_ms", "dashboard_ms")
    positive(result["pages_ms"], *result["pages_ms"])
    assert len(result["pages_ms"]) == 9
    assert result["agree"] is True  # the summary tables and a raw COUNT give the same
