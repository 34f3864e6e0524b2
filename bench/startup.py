"""Benchmark: Pod start-up latency and mutating API latency under churn, on a whole simulated cluster.

What a user of a busy cluster feels: how long from ``kubectl create`` of a
Pod to seeing it Running, while Pods come and go around it, and how long
each create or delete call takes meanwhile. Kubernetes measures the same
with ClusterLoader2's density/load tests against two SLOs: Pod start-up
latency p99 <= 5 s (for stateless Pods, images pre-pulled) and mutating API
call latency p99 <= 1 s. The kit's targets are tighter (1 s and 100 ms),
since its nodes are hollow and its Pods start at once.

The cluster is :func:`kitlib.cluster.local.up`: the control plane over the
in-memory store, the scheduler, the controller manager, and ``--nodes``
hollow kubelets on one timer loop, each started with ``start_delay=0`` (a
container runs as soon as its kubelet hears of the Pod), heartbeating as
a kubelet does (a Lease renewed every 10 s; the Node read every 10 s and its
status written when it changes or every 5 minutes) so the control plane
carries a cluster's background load.

The churn is open-loop: one thread creates a Pod every ``1/--rate`` seconds
for ``--duration`` seconds (whether or not the previous ones are up), and
another deletes each Pod ``--lifetime`` seconds after its create was sent,
so about ``rate`` creates and ``rate`` deletes per second reach the API
server. Both go over HTTPS with the admin kubeconfig, as kubectl's would
(``--in-process`` to use the in-process client instead). A watch on the
namespace notes when each Pod is first seen with ``status.phase: Running``.

Measured:

- start-up latency: from just before the create call is sent (the
  client's clock; ``creationTimestamp`` has one-second resolution) to the
  Running version reaching the watch, p50/p99/max; Pods deleted before they
  were seen Running are counted apart (and fail the target);
- create and delete call latency, each call timed on the client,
  p50/p99; the mutating p99 is over both together;
- the rate achieved (if calls are slow, the open loop falls behind).

    python bench/startup.py                 # 1,000 nodes, 60 s at 20 Pods/s
    python bench/startup.py --quick         # a smoke run: 50 nodes, 10 s at 5 Pods/s
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import percentile  # noqa: E402  (bench/measure.py)

from kitlib.cluster.local import LocalCluster  # noqa: E402
from kitlib.errors import KitError  # noqa: E402

STARTUP_TARGET_S = 1.0  # Kubernetes' SLO: 5 s
MUTATING_TARGET_MS = 100.0  # Kubernetes' SLO: 1 s
TARGET_NODES = 1000
NAMESPACE = "default"
IMAGE = "registry.k8s.io/pause:3.9"


def pod(index: int) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"churn-{index:06d}", "namespace": NAMESPACE, "labels": {"app": "bench-startup"}},
        "spec": {"containers": [{"name": "pause", "image": IMAGE,
                                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    }


class RunningWatch:
    """When each Pod of the namespace was first seen Running (or deleted) through a watch."""

    def __init__(self, client: Any) -> None:
        listed = client.pods(NAMESPACE).list()
        self.watch = client.pods(NAMESPACE).watch(resource_version=listed["metadata"]["resourceVersion"])
        self.running: dict[str, float] = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="bench-running-watch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for kind, obj in self.watch:
                name = obj.get("metadata", {}).get("name", "")
                if kind in ("ADDED", "MODIFIED") and name not in self.running \
                        and (obj.get("status") or {}).get("phase") == "Running":
                    self.running[name] = time.perf_counter()
        except BaseException as err:  # noqa: BLE001  (reported by the main thread)
            self.error = err

    def close(self) -> None:
        self.watch.close()


def churn(cluster: LocalCluster, args: argparse.Namespace) -> dict[str, float]:
    """Create at ``rate`` for ``duration``, delete each after ``lifetime``; the figures of the table."""
    def client() -> Any:
        return cluster.client(in_process=True) if args.in_process else cluster.client()

    watcher = RunningWatch(cluster.client(in_process=True))
    sent: dict[str, float] = {}
    create_ms: list[float] = []
    delete_ms: list[float] = []
    errors: list[str] = []
    pending: list[tuple[float, str]] = []  # (delete at, name), a heap
    cond = threading.Condition()
    creating_done = threading.Event()
    total = int(args.duration * args.rate)

    def creator() -> None:
        pods = client().pods(NAMESPACE)
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            obj = pod(i)
            name = obj["metadata"]["name"]
            t = time.perf_counter()
            sent[name] = t
            try:
                pods.create(obj)
            except KitError as err:
                errors.append(f"create {name}: {err}")
                continue
            create_ms.append((time.perf_counter() - t) * 1e3)
            with cond:
                heapq.heappush(pending, (t + args.lifetime, name))
                cond.notify()
        creating_done.set()
        with cond:
            cond.notify()

    def deleter() -> None:
        pods = client().pods(NAMESPACE)
        while True:
            with cond:
                while not pending and not creating_done.is_set():
                    cond.wait()
                if not pending:
                    return
                due, name = pending[0]
                wait = due - time.perf_counter()
                if wait > 0:
                    cond.wait(wait)
                    continue
                heapq.heappop(pending)
            t = time.perf_counter()
            try:
                pods.delete(name)
            except KitError as err:
                errors.append(f"delete {name}: {err}")
                continue
            delete_ms.append((time.perf_counter() - t) * 1e3)

    threads = [threading.Thread(target=creator, name="bench-creator"),
               threading.Thread(target=deleter, name="bench-deleter")]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    time.sleep(0.2)  # the last Running events
    watcher.close()
    if watcher.error is not None:
        raise KitError(f"the watch on the Pods failed: {watcher.error!r}")
    if errors and len(errors) > total // 10:
        raise KitError(f"{len(errors)} of {2 * total} calls failed, the first: {errors[0]}")

    startup = [watcher.running[name] - sent[name] for name in sent if name in watcher.running]
    mutating = create_ms + delete_ms
    return {
        "pods created": len(create_ms),
        "creates/s achieved": len(create_ms) / (max(sent.values()) - t0) if len(sent) > 1 else float("nan"),
        "pods never seen Running": len(sent) - len(startup),
        "failed calls": len(errors),
        "start-up p50 (ms)": percentile(startup, 50) * 1e3,
        "start-up p99 (ms)": percentile(startup, 99) * 1e3,
        "start-up max (ms)": max(startup, default=float("nan")) * 1e3,
        "create p50 (ms)": percentile(create_ms, 50),
        "create p99 (ms)": percentile(create_ms, 99),
        "delete p50 (ms)": percentile(delete_ms, 50),
        "delete p99 (ms)": percentile(delete_ms, 99),
        "mutating p99 (ms)": percentile(mutating, 99),
        "churn wall time (s)": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=TARGET_NODES, help="hollow nodes")
    parser.add_argument("--rate", type=float, default=20.0, help="Pods created (and deleted) per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of creating")
    parser.add_argument("--lifetime", type=float, default=5.0, help="seconds from a Pod's create to its delete")
    parser.add_argument("--in-process", action="store_true", help="create and delete through the in-process client")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 nodes, 10 s at 5 Pods/s")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.duration, args.rate, args.lifetime = 50, 10.0, 5.0, 3.0
    logging.basicConfig(level=logging.ERROR)

    started = time.perf_counter()
    cluster = LocalCluster(args.nodes, start_delay=0)
    try:
        try:
            cluster.up()
        except KitError as err:
            print(f"bench/startup: the cluster did not come up: {err}", file=sys.stderr)
            return 1
        up_s = time.perf_counter() - started
        try:
            results = {"cluster up (s)": up_s, **churn(cluster, args)}
        except KitError as err:
            print(f"bench/startup: {err}", file=sys.stderr)
            return 1
    finally:
        cluster.down()

    transport = "in-process client" if args.in_process else "HTTPS, admin kubeconfig"
    print(f"Start-up benchmark: {args.nodes} hollow nodes (start_delay 0) under kitlib.cluster.local.up, "
          f"churn {args.rate:g} Pods/s created and deleted for {args.duration:g} s (lifetime {args.lifetime:g} s), "
          f"calls over {transport}, {os.cpu_count()} CPUs; no same-run anchor")
    print(f"{'metric':<28} {f'{args.nodes} nodes':>14}")
    for metric, value in results.items():
        print(f"{metric:<28} {value:>14.2f}")
    print()
    where = "" if args.nodes >= TARGET_NODES else f" (measured at {args.nodes:,} nodes, not 1,000)"
    p99_s = results["start-up p99 (ms)"] / 1e3
    startup_met = p99_s < STARTUP_TARGET_S and results["pods never seen Running"] == 0
    never = results["pods never seen Running"]
    print(f"target: start-up p99 < {STARTUP_TARGET_S:g} s at 1,000 nodes (Kubernetes' SLO is 5 s): {p99_s:.3f} s "
          f"{'met' if startup_met else 'NOT met'}{where}" + (f"; {never:g} Pods never seen Running" if never else ""))
    api_p99 = results["mutating p99 (ms)"]
    api_met = api_p99 < MUTATING_TARGET_MS
    print(f"target: mutating API p99 < {MUTATING_TARGET_MS:g} ms at 1,000 nodes (Kubernetes' SLO is 1 s): "
          f"{api_p99:.1f} ms {'met' if api_met else 'NOT met'}{where}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "nodes": args.nodes, "rate": args.rate, "duration": args.duration, "lifetime": args.lifetime,
            "transport": transport, "cpus": os.cpu_count(), "results": results,
            "targets": {"startup_p99_s": {"value": p99_s, "limit": STARTUP_TARGET_S, "met": startup_met},
                        "mutating_p99_ms": {"value": api_p99, "limit": MUTATING_TARGET_MS, "met": api_met}}},
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
