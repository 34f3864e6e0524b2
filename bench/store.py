"""Benchmark: the embedded store beside a real etcd server, measured in the same run.

Both stores are durable (each acknowledged put is on disk) and both keep
their data in a fresh directory on the same file system. The embedded store
runs in this process; etcd (Debian's etcd-server, started here on 127.0.0.1)
is reached through its v3 JSON gateway by kitlib's EtcdStore, the way the
kit's API server would use it. So the etcd column includes an HTTP round trip
per call: that is the real cost of an out-of-process store, and it is what
the embedded store is for.

    python bench/store.py              # full run, a few minutes
    python bench/store.py --quick      # a smoke run (the test suite uses it)

Measured: durable puts per second with 1 and 16 concurrent writers, put
latency (p50/p99) at 16 writers, watch delivery latency (put to event
received, p50/p99), and the time to range over 10,000 keys. Each figure is
the median of several rounds that alternate between the two stores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import etcd_version, percentile  # noqa: E402  (bench/measure.py)

from kitlib.errors import KitError  # noqa: E402
from kitlib.store.embedded import EmbeddedStore  # noqa: E402
from kitlib.store.etcd import EtcdStore  # noqa: E402
from kitlib.store.local_etcd import LocalEtcd  # noqa: E402
from kitlib.store.types import Op  # noqa: E402


def throughput(store, writers: int, duration: float, tag: str) -> tuple[float, list[float]]:
    """Puts per second over ``duration`` with ``writers`` threads, and each put's latency."""
    latencies: list[list[float]] = [[] for _ in range(writers)]
    counts = [0] * writers
    start_line = threading.Barrier(writers + 1)
    stop = threading.Event()

    def write(worker: int) -> None:
        value = b"x" * 256  # about the size of a small Kubernetes object
        start_line.wait()
        n = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            store.put(f"/bench/{tag}/{worker}/{n % 1000}", value)
            latencies[worker].append(time.perf_counter() - t0)
            n += 1
        counts[worker] = n

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(duration)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return sum(counts) / elapsed, [x for per in latencies for x in per]


def watch_latency(store, events: int) -> list[float]:
    """Seconds from a put's start to its event reaching a watcher, one put at a time."""
    sent: dict[str, float] = {}
    got: list[float] = []
    watch = store.watch("/bench/watch/", prefix=True)
    try:
        time.sleep(0.2)  # let a remote watch register before the first put
        for i in range(events):
            key = f"/bench/watch/{i}"
            sent[key] = time.perf_counter()
            store.put(key, b"w")
            event = watch.get(timeout=10)
            if event is None:
                raise KitError(f"watch event for {key} did not arrive within 10 s")
            got.append(time.perf_counter() - sent[event.kv.key])
    finally:
        watch.cancel()
    return got


def range_time(store, keys: int, repeats: int) -> float:
    """Median seconds to read ``keys`` keys under one prefix."""
    batch = 100
    for start in range(0, keys, batch):
        store.txn([], [Op.put(f"/bench/range/{i:06d}", b"r" * 256) for i in range(start, min(keys, start + batch))])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = store.range("/bench/range/", prefix=True)
        times.append(time.perf_counter() - t0)
        assert result.count == keys, f"expected {keys} keys, read {result.count}"
    return statistics.median(times)


def measure_round(store, args, results: dict[str, list[float]]) -> None:
    """One round of every measurement on one store, appended to ``results``."""
    for writers in (1, 16):
        rate, latencies = throughput(store, writers, args.duration, f"w{writers}")
        results[f"puts/s, {writers} writer{'s' if writers > 1 else ''}"].append(rate)
        if writers == 16:
            results["put p50 at 16 writers (ms)"].append(percentile(latencies, 50) * 1e3)
            results["put p99 at 16 writers (ms)"].append(percentile(latencies, 99) * 1e3)
    watch = watch_latency(store, args.watch_events)
    results["watch latency p50 (ms)"].append(percentile(watch, 50) * 1e3)
    results["watch latency p99 (ms)"].append(percentile(watch, 99) * 1e3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per throughput run")
    parser.add_argument("--watch-events", type=int, default=500)
    parser.add_argument("--range-keys", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per store")
    parser.add_argument("--quick", action="store_true", help="a smoke run: short and small")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.watch_events, args.range_keys, args.repeats, args.rounds = 0.5, 30, 1000, 2, 1

    # Both stores run side by side and the rounds alternate between them, so
    # a machine that gets busier or quieter during the run (a shared disk, a
    # neighbour's job) shifts both columns alike; the table shows medians.
    rounds: dict[str, dict[str, list[float]]] = {"embedded": defaultdict(list), "etcd": defaultdict(list)}
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        try:
            with EmbeddedStore(Path(tmp) / "embedded", lessor=False) as embedded, LocalEtcd(base_dir=tmp) as etcd:
                remote = EtcdStore(etcd.url)
                try:
                    stores = {"embedded": embedded, "etcd": remote}
                    for _ in range(args.rounds):
                        for name, store in stores.items():
                            measure_round(store, args, rounds[name])
                            # Between rounds, drop history as kube-apiserver does
                            # every five minutes, so neither store carries an
                            # ever longer past into the next round.
                            store.compact(store.revision)
                    range_metric = f"range of {args.range_keys} keys (ms)"
                    for name, store in stores.items():
                        rounds[name][range_metric].append(range_time(store, args.range_keys, args.repeats) * 1e3)
                finally:
                    remote.close()
        except KitError as err:
            print(f"bench/store: {err}", file=sys.stderr)
            return 1
    version = etcd_version()
    ours = {metric: statistics.median(values) for metric, values in rounds["embedded"].items()}
    theirs = {metric: statistics.median(values) for metric, values in rounds["etcd"].items()}

    anchor = f"etcd {version}"
    print(f"Store benchmark: durable writes, same machine, same run (median of {args.rounds} alternating rounds)")
    print(f"{'metric':<34} {'embedded':>12} {anchor:>14} {'embedded/etcd':>14}")
    for metric in ours:
        ratio = ours[metric] / theirs[metric] if theirs[metric] else float("nan")
        print(f"{metric:<34} {ours[metric]:>12.2f} {theirs[metric]:>14.2f} {ratio:>13.2f}x")
    speedup = ours["puts/s, 16 writers"] / theirs["puts/s, 16 writers"]
    watch_ok = ours["watch latency p50 (ms)"] <= theirs["watch latency p50 (ms)"]
    print()
    print(f"target: >= 5x etcd's durable puts/s at 16 writers: {speedup:.1f}x {'met' if speedup >= 5 else 'NOT met'}")
    print(f"target: watch latency no worse than etcd's (p50): {'met' if watch_ok else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"embedded": ours, "etcd": theirs, "etcd_version": version}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
