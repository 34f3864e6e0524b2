"""Benchmark: the API server over the embedded store beside the same server over a real etcd, in the same run.

What a client of the cluster feels: requests over HTTPS with a client
certificate (as kubectl and the controllers send them), through the whole
path of the kit's API server (TLS, HTTP parsing, authentication, RBAC,
defaulting, admission, validation, the registry, JSON both ways) down to a
durable store. The two columns differ only in the store beneath: the
embedded store (a directory, each write fsynced before it is acknowledged)
or Debian's etcd on 127.0.0.1, which the server reaches through etcd's v3
JSON gateway. So the ratio says how much the store decides of what a client
sees, and the etcd column is the anchor, measured on the same machine in the
same run.

Each API server runs in a process of its own, started the way ``kit init``
starts one (:func:`kitlib.cluster.kubeadm.init`), so the clients here do not
share the server's interpreter lock. Every client is a thread with one
keep-alive ``HTTPSConnection``, verified against the cluster's CA; the
connection and its TLS handshake are made before the clock starts. Each
measurement is a closed loop: every client sends its next request as soon as
the previous one is answered, for ``--duration`` seconds, with 1 and with 32
clients. By Little's law the latency at 32 clients is then about 32 divided
by the throughput: what a saturated server makes a client wait.

    python bench/apiserver.py              # full run, a few minutes
    python bench/apiserver.py --quick      # a smoke run (the test suite uses it)
    python bench/apiserver.py --no-etcd    # the embedded column alone

Measured, per operation, requests per second and latency p50/p99:

- create: POST a small ConfigMap under a new name;
- get: GET one ConfigMap (each client its own);
- update: PUT a changed ConfigMap, each client its own, carrying the
  resourceVersion of the previous answer (so never a conflict);
- list: GET the ConfigMaps of a namespace holding ``--list-objects`` of them;
- watch delivery: the time from a create's response reaching its client to
  the ADDED event reaching an open watch on the namespace, while 1 or 32
  clients create. An event may overtake its response (both leave the server
  once the write is durable); it then counts as 0 ms.

Each figure is the median of several rounds that alternate between the two
servers, so a machine that gets busier or quieter during the run shifts both
columns alike. Kubernetes' own SLO for mutating single-object calls is p99
<= 1 s; the kit's target is 50 ms at 32 clients on the embedded store.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import etcd_version, percentile  # noqa: E402  (bench/measure.py)

from kitlib.cluster import kubeadm  # noqa: E402
from kitlib.errors import KitError  # noqa: E402
from kitlib.store.local_etcd import LocalEtcd  # noqa: E402

CLIENTS = (1, 32)
TARGET_MS = 50.0
NAMESPACES = ("bench", "bench-list", "bench-watch")
JSON = "application/json"
PAYLOAD = "x" * 200  # a ConfigMap of about 400 bytes of JSON, a small object as most are


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_map(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"payload": PAYLOAD, **data}}


class Cluster:
    """One API server in a background process (as ``kit init`` runs it) over one store, and how to reach it."""

    def __init__(self, name: str, data_dir: Path, store_url: str | None) -> None:
        self.name, self.data_dir, self.store_url = name, data_dir, store_url
        self.port = self.pid = 0
        self.context: ssl.SSLContext | None = None
        self._pool: list[http.client.HTTPSConnection] = []

    def start(self) -> "Cluster":
        state = kubeadm.init(self.data_dir, port=free_port(), store=self.store_url)
        self.port, self.pid = int(state["port"]), int(state["pid"])
        pki = self.data_dir / "pki"  # the ControlPlane's layout: ca.crt, and admin.crt/key for admin.conf
        self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.context.load_cert_chain(pki / "admin.crt", pki / "admin.key")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server process and reap it (SIGKILL after ``timeout``).

        Not ``kubeadm.down``: that waits for the pid to vanish, and the
        server is this process's child, so it stays a zombie until reaped
        here and ``down`` would wait out its whole timeout.
        """
        for conn in self._pool:
            conn.close()
        self._pool.clear()
        if not self.pid:
            return
        pid, self.pid = self.pid, 0
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    return
                time.sleep(0.02)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass  # already gone, or already reaped (subprocess reaps a dropped Popen's child)

    def last_error(self, lines: int = 30) -> str:
        """The server log from its last traceback or ERROR line on (at most ``lines``), or ''."""
        try:
            logged = (self.data_dir / kubeadm.LOG).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        starts = [i for i, line in enumerate(logged) if line.startswith("Traceback") or " ERROR " in line]
        return "\n".join(logged[starts[-1]:starts[-1] + lines]) if starts else ""

    def pool(self, n: int) -> list[http.client.HTTPSConnection]:
        """``n`` open keep-alive connections, made one at a time and kept for the next measurement.

        One at a time because the server shakes hands in its accept loop
        with a listen backlog of 5: 32 clients connecting at once overflow
        it, and the dropped SYNs are retried only after a second.
        """
        while len(self._pool) < n:
            self._pool.append(self.connect())
        return self._pool[:n]

    def connect(self, timeout: float = 30.0) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=timeout)
        try:
            conn.connect()  # the TLS handshake, before any clock starts
        except OSError as err:
            raise KitError(f"cannot connect to the API server over {self.name} on 127.0.0.1:{self.port}: {err}") from None
        return conn


def call(conn: http.client.HTTPSConnection, method: str, path: str, body: dict | None = None,
         expect: int = 200) -> bytes:
    """One request on a kept-alive connection; the body of the answer, or a KitError that says what went wrong."""
    data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    try:
        conn.request(method, path, body=data, headers={"Content-Type": JSON, "Accept": JSON})
        response = conn.getresponse()
        payload = response.read()
    except (OSError, http.client.HTTPException) as err:
        raise KitError(f"{method} {path}: the connection failed: {err!r}") from None
    if response.status != expect:
        try:
            message = json.loads(payload).get("message", "")
        except (ValueError, AttributeError):
            message = payload[:200].decode(errors="replace")
        raise KitError(f"{method} {path} answered {response.status} (expected {expect}): {message}")
    return payload


def configmaps(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps" + (f"/{name}" if name else "")


# A client's work: given its number and connection, do any setup (not timed)
# and return the request to repeat, called with the request's sequence number.
Operation = Callable[[int, http.client.HTTPSConnection], Callable[[int], None]]


def drive(cluster: Cluster, clients: int, duration: float, operation: Operation,
          on_done: Callable[[int, str, float], None] | None = None) -> tuple[float, list[float]]:
    """Requests per second over ``duration`` with ``clients`` closed-loop clients, and each request's latency."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    counts = [0] * clients
    errors: list[BaseException] = []
    start_line = threading.Barrier(clients + 1, timeout=120)
    stop = threading.Event()

    connections = cluster.pool(clients)  # connected and TLS done before the clock starts

    def client(worker: int) -> None:
        conn = connections[worker]
        try:
            request = operation(worker, conn)
            start_line.wait()
            n, mine = 0, latencies[worker]
            while not stop.is_set():
                t0 = time.perf_counter()
                request(n)
                mine.append(time.perf_counter() - t0)
                n += 1
            counts[worker] = n
        except threading.BrokenBarrierError:
            pass  # another client failed first; its error is the one to report
        except BaseException as err:  # noqa: BLE001  (reported by the main thread)
            errors.append(err)
            start_line.abort()
            stop.set()

    threads = [threading.Thread(target=client, args=(i,), name=f"bench-client-{i}") for i in range(clients)]
    for t in threads:
        t.start()
    try:
        start_line.wait()
    except threading.BrokenBarrierError:
        pass
    began = time.perf_counter()
    stop.wait(duration)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0] if isinstance(errors[0], KitError) else KitError(f"a client failed: {errors[0]!r}")
    return sum(counts) / elapsed, [x for per in latencies for x in per]


def creating(tag: str, namespace: str = "bench", sent: list[dict[str, float]] | None = None) -> Operation:
    """POST new ConfigMaps; with ``sent``, note when each create's response arrived."""

    def setup(worker: int, conn: http.client.HTTPSConnection) -> Callable[[int], None]:
        path, prefix = configmaps(namespace), f"{tag}-{worker}-"
        answered = sent[worker] if sent is not None else None

        def create(n: int) -> None:
            name = f"{prefix}{n}"
            call(conn, "POST", path, config_map(name), expect=201)
            if answered is not None:
                answered[name] = time.perf_counter()

        return create

    return setup


def getting(tag: str) -> Operation:
    def setup(worker: int, conn: http.client.HTTPSConnection) -> Callable[[int], None]:
        name = f"{tag}-get-{worker}"
        call(conn, "POST", configmaps("bench"), config_map(name), expect=201)
        path = configmaps("bench", name)
        return lambda n: call(conn, "GET", path)

    return setup


def updating(tag: str) -> Operation:
    def setup(worker: int, conn: http.client.HTTPSConnection) -> Callable[[int], None]:
        name = f"{tag}-update-{worker}"
        call(conn, "POST", configmaps("bench"), config_map(name), expect=201)
        path = configmaps("bench", name)
        current = json.loads(call(conn, "GET", path))

        def update(n: int) -> None:
            nonlocal current
            current["data"]["n"] = str(n)  # a real change: a new revision every time
            current = json.loads(call(conn, "PUT", path, current))

        return update

    return setup


def listing(expected: int) -> Operation:
    def setup(worker: int, conn: http.client.HTTPSConnection) -> Callable[[int], None]:
        path = configmaps("bench-list")
        items = json.loads(call(conn, "GET", path))["items"]
        if len(items) != expected:
            raise KitError(f"the list namespace holds {len(items)} ConfigMaps, expected {expected}")
        return lambda n: call(conn, "GET", path)

    return setup


def watch_latency(cluster: Cluster, clients: int, duration: float, tag: str) -> list[float]:
    """Seconds from each create's response to its ADDED event on an open watch, while ``clients`` create."""
    namespace = "bench-watch"
    conn = cluster.connect(timeout=10.0)  # an event missing for 10 s fails the run, with a message
    try:
        rv = json.loads(call(conn, "GET", configmaps(namespace) + "?limit=1"))["metadata"]["resourceVersion"]
        path = configmaps(namespace) + f"?watch=true&resourceVersion={rv}&timeoutSeconds=120"
        try:
            conn.request("GET", path, headers={"Accept": JSON})
            stream = conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            raise KitError(f"GET {path}: the connection failed: {err!r}") from None
        if stream.status != 200:
            raise KitError(f"GET {path} answered {stream.status}: {stream.read()[:200]!r}")
        arrived: list[tuple[float, bytes]] = []
        sentinel = f"{tag}-end".encode()
        failure: list[str] = []

        def read() -> None:
            # Lines are only timed here; they are decoded after the run, so
            # the reader is back in recv() as soon as it can be.
            try:
                while True:
                    line = stream.readline()
                    now = time.perf_counter()
                    if not line:
                        failure.append("the server ended the watch early")
                        return
                    arrived.append((now, line))
                    if sentinel in line:
                        return
            except (OSError, http.client.HTTPException) as err:
                failure.append(f"the watch stopped delivering: {err!r}")

        reader = threading.Thread(target=read, name="bench-watch", daemon=True)
        reader.start()
        sent: list[dict[str, float]] = [{} for _ in range(clients)]
        drive(cluster, clients, duration, creating(tag, namespace, sent))
        # One last create after all others: when its event arrives, every earlier one has.
        call(cluster.pool(1)[0], "POST", configmaps(namespace), config_map(f"{tag}-end"), expect=201)
        reader.join(timeout=15)
        if failure or reader.is_alive():
            raise KitError(f"watch on the API server over {cluster.name}: "
                           f"{failure[0] if failure else 'the last event did not arrive within 15 s'}")
    finally:
        conn.close()
    answered = {name: t for per in sent for name, t in per.items()}
    latencies = []
    for when, line in arrived:
        event = json.loads(line)
        name = event["object"]["metadata"]["name"]
        if event["type"] == "ADDED" and name in answered:
            latencies.append(max(0.0, when - answered.pop(name)))
    if answered:
        raise KitError(f"watch on the API server over {cluster.name}: {len(answered)} created ConfigMaps "
                       f"never appeared as ADDED events (e.g. {next(iter(answered))})")
    return latencies


def prepare(cluster: Cluster, list_objects: int) -> None:
    """The namespaces, and the ConfigMaps the list reads, created through the API (8 clients at a time)."""
    for namespace in NAMESPACES:
        call(cluster.pool(1)[0], "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                                "metadata": {"name": namespace}}, expect=201)
    writers = 8
    per_writer = -(-list_objects // writers)

    def fill(worker: int, conn: http.client.HTTPSConnection) -> Callable[[int], None]:
        for i in range(worker * per_writer, min(list_objects, (worker + 1) * per_writer)):
            call(conn, "POST", configmaps("bench-list"), config_map(f"item-{i:05d}"), expect=201)
        return lambda n: None

    drive(cluster, writers, 0.0, fill)


def plural(n: int) -> str:
    return f"{n} client{'s' if n > 1 else ''}"


def record(results: dict[str, list[float]], label: str, clients: int, rate: float | None, latencies: list[float]) -> None:
    at = plural(clients)
    if rate is not None:
        results[f"{label}/s, {at}"].append(rate)
    results[f"{label} p50 at {at} (ms)"].append(percentile(latencies, 50) * 1e3)
    results[f"{label} p99 at {at} (ms)"].append(percentile(latencies, 99) * 1e3)


def measure_round(cluster: Cluster, args, results: dict[str, list[float]], round_no: int) -> None:
    """One round of every measurement on one server, appended to ``results``."""
    operations: list[tuple[str, Callable[[str], Operation]]] = [
        ("create", lambda tag: creating(tag)),
        ("get", getting),
        ("update", updating),
        ("list", lambda tag: listing(args.list_objects)),
    ]
    for label, operation in operations:
        for clients in CLIENTS:
            tag = f"r{round_no}c{clients}{label[0]}"
            rate, latencies = drive(cluster, clients, args.duration, operation(tag))
            record(results, label, clients, rate, latencies)
    for clients in CLIENTS:
        latencies = watch_latency(cluster, clients, args.duration, f"r{round_no}c{clients}w")
        record(results, "watch delivery", clients, None, latencies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--list-objects", type=int, default=500, help="ConfigMaps in the listed namespace")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per server")
    parser.add_argument("--quick", action="store_true", help="a smoke run: short and small")
    parser.add_argument("--no-etcd", action="store_true", help="measure the embedded store alone")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.list_objects, args.rounds = 0.3, 50, 1
    if not args.no_etcd and shutil.which("etcd") is None:
        print("bench/apiserver: the etcd server ('etcd') is not on PATH; install it with: apt-get install etcd-server "
              "(or pass --no-etcd to measure the embedded store alone)", file=sys.stderr)
        return 1

    names = ("embedded",) if args.no_etcd else ("embedded", "etcd")
    rounds: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in names}
    clusters: dict[str, Cluster] = {}
    etcd: LocalEtcd | None = None
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        try:
            if not args.no_etcd:
                etcd = LocalEtcd(base_dir=tmp).start()
            for name in names:
                store_url = None if name == "embedded" else etcd.url.replace("http://", "etcd://", 1)
                clusters[name] = Cluster(name, Path(tmp) / name, store_url).start()
                prepare(clusters[name], args.list_objects)
            for round_no in range(args.rounds):
                for name, cluster in clusters.items():
                    measure_round(cluster, args, rounds[name], round_no)
        except KitError as err:
            print(f"bench/apiserver: {err}", file=sys.stderr)
            for cluster in clusters.values():
                logged = cluster.last_error()
                if logged:
                    print(f"--- the API server over {cluster.name} logged (last error):\n{logged}", file=sys.stderr)
            return 1
        finally:
            for cluster in clusters.values():
                cluster.stop()
            if etcd is not None:
                etcd.stop()

    medians = {name: {metric: statistics.median(values) for metric, values in rounds[name].items()} for name in names}
    ours, theirs = medians["embedded"], medians.get("etcd")
    anchor = f"etcd {etcd_version()}" if theirs is not None else ""
    print(f"API server benchmark: HTTPS with a client certificate, keep-alive clients, server in its own process, "
          f"durable stores (median of {args.rounds} alternating round{'s' if args.rounds > 1 else ''}, "
          f"{args.duration:g} s each, {os.cpu_count()} CPUs); list: {args.list_objects} ConfigMaps")
    if theirs is not None:
        print(f"{'metric':<36} {'embedded':>12} {anchor:>14} {'embedded/etcd':>14}")
    else:
        print(f"{'metric':<36} {'embedded':>12}")
    for metric, value in ours.items():
        if theirs is None:
            print(f"{metric:<36} {value:>12.2f}")
            continue
        ratio = f"{value / theirs[metric]:.2f}x" if theirs[metric] else "n/a"  # a watch at 0 ms
        print(f"{metric:<36} {value:>12.2f} {theirs[metric]:>14.2f} {ratio:>14}")

    def mutating_p99(figures: dict[str, float]) -> float:
        at = plural(CLIENTS[-1])
        return max(figures[f"create p99 at {at} (ms)"], figures[f"update p99 at {at} (ms)"])

    p99 = mutating_p99(ours)
    met = p99 < TARGET_MS
    print()
    line = (f"target: mutating single-object p99 < {TARGET_MS:g} ms at {CLIENTS[-1]} clients (Kubernetes' SLO is 1 s): "
            f"{p99:.1f} ms {'met' if met else 'NOT met'}")
    if theirs is not None:
        line += f" (over etcd: {mutating_p99(theirs):.1f} ms)"
    print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {"embedded": ours, "rounds": args.rounds, "duration": args.duration,
                    "list_objects": args.list_objects, "cpus": os.cpu_count(),
                    "target": {"mutating_p99_ms_at_32_clients": p99, "limit_ms": TARGET_MS, "met": met}}
        if theirs is not None:
            document.update(etcd=theirs, etcd_version=anchor.split()[-1])
            document["target"]["etcd_mutating_p99_ms_at_32_clients"] = mutating_p99(theirs)
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
