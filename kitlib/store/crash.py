"""Crash trials: kill a writing store with SIGKILL and check nothing acknowledged was lost.

A trial starts a child process that opens the embedded store on a data
directory and writes from several threads: new keys, and increments of a
shared counter through compare-and-swap. After every write the store
acknowledges, the child reports it on its standard output. At a random moment
the parent kills the child with SIGKILL (no clean-up, no flush: the process
just stops, as on a power cut or an OOM kill), reopens the store on the same
directory and checks every acknowledged write is there. Trials reuse the
directory, so each one also recovers from the previous crash.

The test suite runs hundreds of trials; the store chapter runs a few live;
``kit store crash-trials DIR`` runs them from a shell.

Simplifications:
- SIGKILL loses what the process had not yet handed to the kernel; it does
  not lose what the kernel had not yet written to the disk, as a power cut
  would. The store's fsync before acknowledging is what covers that case,
  and no test on one machine can pull the plug to prove it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

COUNTER = "/crash/counter"
SLOTS = 50  # keys per writer thread


@dataclass
class CrashReport:
    """What a series of trials found."""

    trials: int = 0
    acknowledged: int = 0  # writes acknowledged before their child was killed
    lost: list[str] = field(default_factory=list)  # acknowledged writes missing after recovery
    restarts: int = 0  # recoveries that succeeded
    torn_tails: int = 0  # trials whose log ended in a half-written record
    counter_acknowledged: int = 0  # highest counter value acknowledged
    counter_recovered: int = 0  # counter value after the last recovery

    @property
    def ok(self) -> bool:
        return not self.lost and self.restarts == self.trials and self.counter_recovered >= self.counter_acknowledged

    def summary(self) -> str:
        return (
            f"{self.trials} trials, {self.acknowledged} acknowledged writes, "
            f"{len(self.lost)} lost, {self.restarts}/{self.trials} restarts, "
            f"{self.torn_tails} torn tails repaired"
        )


def _writer(data_dir: str, tag: str, threads: int, snapshot_every: int) -> None:
    """The child: write until killed, printing one line per acknowledged write."""
    from kitlib.store.embedded import EmbeddedStore
    from kitlib.store.update import guaranteed_update

    store = EmbeddedStore(Path(data_dir), snapshot_every=snapshot_every, lessor=False)
    out_lock = threading.Lock()

    def ack(line: str) -> None:
        # One write(2) per line, so the parent never reads half a line from
        # a process killed mid-report.
        with out_lock:
            os.write(1, (line + "\n").encode())

    def keys(worker: int) -> None:
        # Each worker cycles through SLOTS keys, so the key space stays small
        # however many trials run; the value says which write it was.
        n = 0
        while True:
            key = f"/crash/{worker}/{n % SLOTS}"
            store.put(key, f"{tag}:{n}")
            ack(f"put {key} {n}")
            n += 1

    def counter() -> None:
        def increment(value: bytes | None) -> str:
            return str(int(value or b"0") + 1)

        compacted = store.compact_revision
        while True:
            revision = guaranteed_update(store, COUNTER, increment)
            value = store.get(COUNTER, revision=revision)
            ack(f"counter {value.text if value else 0}")
            # Keep history bounded as the API server does (it compacts every
            # few minutes); crashes then also land in compactions.
            if revision - compacted >= 500:
                compacted = revision - 100
                store.compact(compacted)

    workers = [threading.Thread(target=keys, args=(i,), daemon=True) for i in range(threads)]
    workers.append(threading.Thread(target=counter, daemon=True))
    for worker in workers:
        worker.start()
    ack("ready")
    for worker in workers:
        worker.join()


def run_trials(
    data_dir: Path,
    trials: int,
    *,
    seed: int = 0,
    threads: int = 4,
    min_delay: float = 0.01,
    max_delay: float = 0.3,
    snapshot_every: int = 200,
) -> CrashReport:
    """Run ``trials`` kill-and-recover rounds on ``data_dir``; see the module docstring."""
    from kitlib.store.embedded import EmbeddedStore

    data_dir = Path(data_dir)
    rng = random.Random(seed)
    report = CrashReport()
    for trial in range(trials):
        tag = f"t{seed}-{trial}"
        child = subprocess.Popen(
            [sys.executable, "-m", "kitlib.store.crash", "--child", str(data_dir), tag, str(threads), str(snapshot_every)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        acked: list[str] = []
        reader = threading.Thread(target=lambda: acked.extend(line.decode().strip() for line in child.stdout), daemon=True)  # type: ignore[union-attr]
        reader.start()
        # Kill at a random moment after the child is writing: waiting for
        # "ready" first makes every trial crash mid-write, not mid-import.
        deadline = time.monotonic() + 30
        while "ready" not in acked and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        if child.poll() is not None:
            raise RuntimeError(f"the crash-trial writer exited on its own:\n{child.stderr.read().decode()}")  # type: ignore[union-attr]
        time.sleep(rng.uniform(min_delay, max_delay))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        reader.join()
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
        report.trials += 1

        store = EmbeddedStore(data_dir, lessor=False)
        try:
            report.restarts += 1
            if store.torn_bytes:
                report.torn_tails += 1
            # The last acknowledged write of each key must be there, or a
            # later write of the same trial (durable, killed before its ack).
            last: dict[str, int] = {}
            for line in acked:
                kind, _, rest = line.partition(" ")
                if kind == "put":
                    report.acknowledged += 1
                    key, n = rest.split()
                    last[key] = int(n)
                elif kind == "counter":
                    report.acknowledged += 1
                    report.counter_acknowledged = max(report.counter_acknowledged, int(rest))
            for key, n in sorted(last.items()):
                kv = store.get(key)
                found_tag, _, found_n = kv.text.partition(":") if kv else ("", "", "-1")
                if found_tag != tag or int(found_n) < n:
                    report.lost.append(f"{key} (acknowledged write {n} of {tag}, found {kv.text if kv else 'nothing'})")
            counter = store.get(COUNTER)
            report.counter_recovered = int(counter.text) if counter else 0
            if report.counter_recovered < report.counter_acknowledged:
                report.lost.append(f"{COUNTER} (acknowledged {report.counter_acknowledged}, recovered {report.counter_recovered})")
        finally:
            store.close()
    return report


if __name__ == "__main__":
    # Only the trials' own child processes start this module directly.
    if sys.argv[1:2] != ["--child"]:
        sys.exit("run crash trials with: kit store crash-trials DIR")
    _writer(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
