"""bench/scheduler.py still runs and prints its table and target (a smoke run; no timing is asserted)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scheduler_benchmark_prints_its_table_and_target(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench/scheduler.py"), "--quick", "--json", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    assert "100 nodes" in header
    for metric in ("scheduled pods/s", "create pods/s", "cycle p50 (ms)", "cycle p99 (ms)", "bind p99 (ms)",
                   "create to bound p99 (ms)"):
        row = next(line for line in lines if line.startswith(metric))
        assert re.search(r"\s[0-9.]+$", row), row
    target = next(line for line in lines if line.startswith("target: >= 400 pods/s at 5,000 nodes: "))
    assert re.search(r": [0-9.]+ pods/s (met|NOT met) \(measured at 100 nodes, not 5,000;", target), target
    document = json.loads((tmp_path / "out.json").read_text())
    assert set(document["results"]) == {"100 nodes"}
    assert document["results"]["100 nodes"]["cycles per pod"] >= 1


def test_scheduler_benchmark_says_so_when_pods_are_not_bound_in_time():
    """A timeout is one clear line and exit 1, not a traceback."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench/scheduler.py"), "--nodes", "0", "--pods", "5", "--timeout", "1"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("bench/scheduler: only "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
