"""bench/apiserver.py still runs and prints its table (a smoke run; no timing is asserted)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.etcd
@pytest.mark.skipif(shutil.which("etcd") is None, reason="the etcd binary is not installed (apt-get install etcd-server)")
def test_apiserver_benchmark_prints_both_backends_side_by_side(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench/apiserver.py"), "--quick", "--json", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    assert "embedded" in header and "etcd 3." in header and "embedded/etcd" in header
    for operation in ("create", "get", "update", "list"):
        for clients in ("1 client", "32 clients"):
            for metric in (f"{operation}/s, {clients}", f"{operation} p50 at {clients}", f"{operation} p99 at {clients}"):
                row = next(line for line in lines if line.startswith(metric))
                assert len(row.split()) >= 3, row  # a figure in each column
    for clients in ("1 client", "32 clients"):
        assert any(line.startswith(f"watch delivery p99 at {clients}") for line in lines)
    target = next(line for line in lines if line.startswith("target: mutating single-object p99 < 50 ms at 32 clients"))
    assert re.search(r"\(Kubernetes' SLO is 1 s\): [0-9.]+ ms (met|NOT met) \(over etcd: [0-9.]+ ms\)$", target), target
    document = json.loads((tmp_path / "out.json").read_text())
    assert set(document["embedded"]) == set(document["etcd"])


def test_apiserver_benchmark_without_etcd_says_so(tmp_path):
    """With no etcd on PATH: one clear line and exit 1, not a traceback."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench/apiserver.py"), "--quick"],
        capture_output=True, text=True, timeout=60, env={"PATH": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("bench/apiserver: the etcd server ('etcd') is not on PATH")
    assert "--no-etcd" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
