"""bench/store.py still runs and prints its table (a smoke run; no timing is asserted)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.etcd
@pytest.mark.skipif(shutil.which("etcd") is None, reason="the etcd binary is not installed (apt-get install etcd-server)")
def test_store_benchmark_prints_both_backends_side_by_side(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench/store.py"), "--quick", "--json", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    assert "embedded" in header and "etcd 3." in header and "embedded/etcd" in header
    for metric in ("puts/s, 1 writer", "puts/s, 16 writers", "put p99 at 16 writers", "watch latency p50", "range of"):
        row = next(line for line in lines if line.startswith(metric))
        assert row.rstrip().endswith("x"), row
    assert any(line.startswith("target: >= 5x") for line in lines)
    assert (tmp_path / "out.json").exists()
