"""bench/startup.py still runs and prints its table and targets (a smoke run; no timing is asserted)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_startup_benchmark_prints_its_table_and_targets(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench/startup.py"), "--quick", "--json", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    assert "50 nodes" in header
    for metric in ("pods created", "start-up p50 (ms)", "start-up p99 (ms)", "create p99 (ms)", "delete p99 (ms)",
                   "mutating p99 (ms)", "pods never seen Running"):
        row = next(line for line in lines if line.startswith(metric))
        assert re.search(r"\s[0-9.]+$", row), row
    startup = next(line for line in lines if line.startswith("target: start-up p99 < 1 s at 1,000 nodes"))
    assert re.search(r": [0-9.]+ s (met|NOT met) \(measured at 50 nodes, not 1,000\)", startup), startup
    api = next(line for line in lines if line.startswith("target: mutating API p99 < 100 ms at 1,000 nodes"))
    assert re.search(r": [0-9.]+ ms (met|NOT met) \(measured at 50 nodes, not 1,000\)$", api), api
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["nodes"] == 50 and set(document["targets"]) == {"startup_p99_s", "mutating_p99_ms"}
