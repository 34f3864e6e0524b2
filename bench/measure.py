"""What the benchmarks share: percentiles, and the version of the etcd they compare with."""

from __future__ import annotations

import subprocess


def etcd_version() -> str:
    """``3.4.23``: the etcd binary's version, for the anchor column's header."""
    out = subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout
    return out.split()[2] if out.startswith("etcd Version:") else "?"


def percentile(samples: list[float], p: float) -> float:
    """The ``p``-th percentile by the nearest rank; NaN for no samples."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
