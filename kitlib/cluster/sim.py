"""A simulated cluster: thousands of hollow nodes on one machine, on an injected clock.

Kubemark runs hollow nodes as Pods of a real cluster; here they live in the
control plane's own process. :class:`SimulatedCluster` makes ``nodes``
:class:`~kitlib.cluster.hollow.HollowKubelet`\\ s named ``node-0001``...,
each with its own in-process client authenticated as ``system:node:<name>``
in ``system:nodes`` (so RBAC, admission and validation judge every write a
kubelet makes), and registers each one's logs with the API server so that
``kubectl logs`` reaches it. The notebook's one line:

    plane, cluster = start_simulated(nodes=3, seed=0, clock=FakeClock())
    cluster.advance(30)       # thirty seconds of cluster time: heartbeats, Pods starting

Scale comes from not giving each node what a real one has. No thread per
kubelet: one :class:`TimerLoop` thread runs every kubelet's timers from a
heap ordered by deadline, then by arrival (as the 500 Lines Paxos cluster's
simulated network does), so a run replays exactly. No watch per kubelet:
one informer watches every bound Pod, indexed by ``spec.nodeName``, and
hands each change to the kubelet it concerns.

Time: on a :class:`~kitlib.clock.RealClock` timers fire when their moment
comes. On a :class:`~kitlib.clock.FakeClock` nothing happens until someone
moves it; :meth:`SimulatedCluster.advance` moves it from one deadline to the
next and lets each one's work finish, so the same seed and the same calls
give the same cluster, to the microsecond.

Simplifications:
- One watch for all hollow nodes (``spec.nodeName!=``), as a member of
  ``system:nodes``, instead of one per kubelet; Pod IPs and CPU numbers
  come from seeds, not from a CNI plugin or cAdvisor.
- Node addresses come from a seeded ``172.16.0.0/12`` range; Pod CIDRs are
  ``/24``\\ s of ``10.244.0.0/16``, taken in node order, the range widened
  (``/15``, ``/14``...) when more than 256 nodes need one (kube-controller-manager
  would refuse them: its ``--cluster-cidr`` is fixed).
- A timer that fails is logged and dropped; its kubelet's next heartbeat
  or resync repairs what it can.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import logging
import random
import threading
import time as _real_time
from pathlib import Path
from typing import Any, Callable

from kitlib.api.meta import key_of
from kitlib.client.indexer import NODE_NAME_INDEX, DeletedFinalStateUnknown, node_name_index
from kitlib.client.informer import SharedInformer, wait_for_cache_sync
from kitlib.client.rest import ALL_NAMESPACES
from kitlib.client.workqueue import real_seconds_until
from kitlib.cluster.controlplane import ControlPlane
from kitlib.cluster.hollow import HollowKubelet
from kitlib.clock import Clock, FakeClock
from kitlib.errors import KitError

log = logging.getLogger(__name__)

NODES_GROUP = "system:nodes"
WATCHER = "kit:hollow-nodes"  # the shared Pod watch's user, in system:nodes (see Simplifications)
CLUSTER_CIDR, NODE_CIDR_MASK = "10.244.0.0/16", 24  # flannel's default network, kube's default node mask


class Timer:
    """One pending call on a :class:`TimerLoop`; ``cancel()`` keeps it from running."""

    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple) -> None:
        self.when, self.fn, self.args, self.cancelled = when, fn, args, False

    def cancel(self) -> None:
        self.cancelled = True


class TimerLoop:
    """One thread running many components' timers in deadline order, on a clock.

    Calls due at the same moment run in the order they were scheduled. Lock
    rule: ``_cond`` guards the heap and ``_busy``; callbacks run without it,
    one at a time, so they never race each other.
    """

    def __init__(self, clock: Clock, *, name: str = "kit-sim-loop") -> None:
        self.clock, self.name = clock, name
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = self._stopped = False
        self._thread: threading.Thread | None = None

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(when, fn, args)
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._seq), timer))
            self._cond.notify_all()
        return timer

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.clock.now() + delay, fn, *args)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.clock.now(), fn, *args)

    def start(self) -> "TimerLoop":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look at the clock now (whoever moved a FakeClock says so; otherwise the loop polls it)."""
        with self._cond:
            self._cond.notify_all()

    def _due(self) -> Timer | None:
        # Under _cond: the next due timer, dropping cancelled ones on the way.
        now = self.clock.now()
        while self._heap and (self._heap[0][2].cancelled or self._heap[0][0] <= now):
            timer = heapq.heappop(self._heap)[2]
            if not timer.cancelled:
                return timer
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                timer = self._due()
                while timer is None and not self._stopped:
                    self._cond.notify_all()  # idle: wake wait_idle()
                    self._cond.wait(real_seconds_until(self.clock, self._heap[0][0]) if self._heap else None)
                    timer = self._due()
                if self._stopped:
                    return
                self._busy = True
            try:
                timer.fn(*timer.args)
            except Exception:  # noqa: BLE001 (one kubelet's bug must not stop every other one)
                log.exception("%s: timer %s failed", self.name, getattr(timer.fn, "__qualname__", timer.fn))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def next_deadline(self) -> float | None:
        """When the next live timer is due, or None."""
        with self._cond:
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait (real seconds) until nothing is due on the clock and nothing runs; False on timeout or stop."""
        deadline = _real_time.monotonic() + timeout
        with self._cond:
            while self._busy or (self._heap and self._heap[0][0] <= self.clock.now()):
                if self._heap and self._heap[0][2].cancelled and not self._busy:
                    heapq.heappop(self._heap)
                    continue
                left = deadline - _real_time.monotonic()
                if self._stopped or left <= 0 or self._thread is None:
                    return False
                self._cond.notify_all()
                self._cond.wait(min(left, 0.05))
            return True


def node_name(index: int) -> str:
    """``node-0001`` for index 1 (kubemark's hollow nodes are numbered too)."""
    return f"node-{index:04d}"


def pod_cidrs(count: int, cluster_cidr: str = CLUSTER_CIDR, mask: int = NODE_CIDR_MASK) -> list[str]:
    """A ``/mask`` per node, in order, from ``cluster_cidr`` widened just enough to hold ``count`` of them."""
    network = ipaddress.ip_network(cluster_cidr)
    bits = max(0, (count - 1).bit_length())
    if mask - bits < network.prefixlen:
        network = ipaddress.ip_network(f"{network.network_address}/{mask - bits}", strict=False)
        log.info("%d nodes do not fit in %s: Pod CIDRs come from %s", count, cluster_cidr, network)
    step = 2 ** (32 - mask)
    return [f"{network.network_address + i * step}/{mask}" for i in range(count)]


class SimulatedCluster:
    """``nodes`` hollow kubelets on ``plane``, on one loop and one Pod watch; ``start()``, ``stop()``."""

    def __init__(self, plane: ControlPlane, nodes: int = 3, clock: Clock | None = None, seed: int = 0,
                 **kubelet_options: Any) -> None:
        if plane.apiserver is None:
            raise KitError("the control plane is not running: start it first (ControlPlane(...).start())")
        self.plane = plane
        self.clock = clock or plane.clock
        self.seed, self.rng = seed, random.Random(seed)
        self.loop = TimerLoop(self.clock, name="kit-hollow-nodes")
        watcher = plane.client(in_process=True, user=WATCHER, groups=(NODES_GROUP,))
        source = watcher.pods(ALL_NAMESPACES).list_watch(field_selector="spec.nodeName!=", rng=self.rng)
        self.informer = SharedInformer(source, name="hollow-pods", clock=self.clock, rng=self.rng,
                                       indexers={NODE_NAME_INDEX: node_name_index})
        self._watcher = watcher
        self._seen: dict[str, int] = {}  # key -> newest resourceVersion handed to a kubelet (for catch_up)
        self._seen_lock = threading.Lock()
        network = ipaddress.ip_network(f"172.{16 + self.rng.randrange(16)}.0.0/16")  # a seeded node subnet
        self._kubelets: dict[str, HollowKubelet] = {}
        for i, cidr in enumerate(pod_cidrs(nodes), start=1):
            name = node_name(i)
            client = plane.client(in_process=True, user=f"system:node:{name}", groups=(NODES_GROUP,))
            self._kubelets[name] = HollowKubelet(
                client, name, self.clock, random.Random(self.rng.getrandbits(64)), internal_ip=str(network[9 + i]),
                pod_cidr=cidr, loop=self.loop, pod_cache=self.informer.indexer, **kubelet_options)
        self.informer.add_event_handler(on_add=self._changed, on_update=lambda _, new: self._changed(new),
                                        on_delete=self._deleted)
        self.started = self._stopped = False

    def __repr__(self) -> str:
        failed = sum(k.failed for k in self._kubelets.values())
        return f"SimulatedCluster({len(self._kubelets)} nodes, {failed} failed, seed {self.seed})"

    # -- the shared watch: each Pod's change goes to its node's kubelet ---------------------------------

    def _changed(self, pod: dict) -> None:
        kubelet = self._kubelets.get((pod.get("spec") or {}).get("nodeName") or "")
        if kubelet is not None:
            kubelet.pod_changed(pod)
        with self._seen_lock:
            self._seen[key_of(pod)] = int(pod["metadata"].get("resourceVersion") or 0)

    def _deleted(self, pod: Any) -> None:
        obj = pod.obj if isinstance(pod, DeletedFinalStateUnknown) else pod
        kubelet = self._kubelets.get((obj.get("spec") or {}).get("nodeName") or "")
        if kubelet is not None:
            kubelet.pod_deleted(pod)
        with self._seen_lock:
            self._seen.pop(key_of(obj), None)

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> "SimulatedCluster":
        """Start the loop, the Pod watch and every kubelet; return once every Node is registered."""
        if self.started:
            return self
        if self._stopped:
            raise KitError("a stopped SimulatedCluster cannot start again: make a new one on the same plane")
        self.started = True
        self.loop.start()
        node_logs = self.plane.apiserver.handler.node_logs  # where `kubectl logs` finds a node's kubelet
        for name, kubelet in self._kubelets.items():
            node_logs.register(name, kubelet)
            kubelet.start()  # registration first, as a kubelet registers before its Pods are synced
        self.informer.run()
        if not wait_for_cache_sync(self.informer, timeout=timeout):
            raise KitError("the hollow nodes' Pod watch did not sync: is the API server answering?")
        if not self.loop.wait_idle(timeout):
            log.warning("the hollow nodes were still registering after %s s", timeout)
        log.info("%d hollow nodes up", len(self._kubelets))
        return self

    def stop(self) -> None:
        """Stop every kubelet, the watch and the loop (Nodes and Pods stay in the API, as after a power cut)."""
        self.informer.stop()
        node_logs = self.plane.apiserver.handler.node_logs if self.plane.apiserver is not None else None
        for name, kubelet in self._kubelets.items():
            kubelet.stop()
            if node_logs is not None:
                node_logs.unregister(name)
        self.loop.stop()
        self.started, self._stopped = False, True

    def __enter__(self) -> "SimulatedCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the nodes --------------------------------------------------------------------------------------

    @property
    def node_names(self) -> list[str]:
        return list(self._kubelets)

    def kubelet(self, name: str) -> HollowKubelet:
        try:
            return self._kubelets[name]
        except KeyError:
            raise KitError(f"no hollow node {name!r}: the nodes are {self.node_names[0]} ... "
                           f"{self.node_names[-1]}" if self._kubelets else "this cluster has no nodes") from None

    def fail_node(self, name: str) -> None:
        """The node stops heartbeating (see :meth:`HollowKubelet.fail`)."""
        self.kubelet(name).fail()

    def recover_node(self, name: str) -> None:
        self.kubelet(name).recover()

    def pod_cpu_usage(self) -> dict[str, int]:
        """Millicores used by every running Pod in the cluster, by ``namespace/name``."""
        usage: dict[str, int] = {}
        for kubelet in self._kubelets.values():
            usage.update(kubelet.pod_cpu_usage())
        return dict(sorted(usage.items()))

    # -- time ------------------------------------------------------------------------------------------

    def catch_up(self, timeout: float = 10.0) -> bool:
        """Wait (real seconds) until the kubelets have heard of every Pod change made so far and acted on it.

        Lists the bound Pods and waits for the shared watch to deliver each
        one's newest version, so a Pod bound just before :meth:`advance`
        starts at the same simulated moment however fast the watch is.
        """
        listed = self._watcher.pods(ALL_NAMESPACES).list(field_selector="spec.nodeName!=")
        want = {key_of(p): int(p["metadata"]["resourceVersion"]) for p in listed.get("items") or []}
        revision = int(listed["metadata"].get("resourceVersion") or 0)
        deadline = _real_time.monotonic() + timeout
        while True:
            with self._seen_lock:
                behind = any(self._seen.get(k, 0) < rv for k, rv in want.items()) or any(
                    rv <= revision for k, rv in self._seen.items() if k not in want)
            if not behind:
                return self.loop.wait_idle(max(0.0, deadline - _real_time.monotonic()))
            if _real_time.monotonic() >= deadline:
                log.warning("the hollow nodes' Pod watch is more than %s s behind", timeout)
                return False
            _real_time.sleep(0.002)

    def advance(self, seconds: float) -> None:
        """Move a FakeClock ``seconds`` forward, deadline by deadline, letting each moment's work finish."""
        if not isinstance(self.clock, FakeClock):
            raise KitError("advance() moves a FakeClock; on a real clock the cluster runs by itself")
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        target = self.clock.now() + seconds
        self.catch_up()
        while True:
            due = self.loop.next_deadline()
            if due is None or due > target:
                break
            self.clock.advance(max(0.0, due - self.clock.now()))
            self.loop.wake()
            if not self.loop.wait_idle():
                raise KitError("the hollow nodes' loop is stopped or stuck: is the cluster started?")
        self.clock.advance(max(0.0, target - self.clock.now()))
        self.loop.wake()
        self.catch_up()


def start_simulated(nodes: int = 3, seed: int = 0, clock: Clock | None = None, data_dir: Path | str | None = None,
                    **kubelet_options: Any) -> tuple[ControlPlane, SimulatedCluster]:
    """A control plane and ``nodes`` hollow nodes, started: ``plane, cluster = start_simulated()``.

    Without ``data_dir`` the store is in memory and gone at ``plane.stop()``.
    The same ``seed`` (and a FakeClock) gives the same names, IPs and numbers.
    """
    plane = ControlPlane(data_dir, store=None if data_dir else "memory://", clock=clock,
                         rng=random.Random(seed)).start()
    try:
        return plane, SimulatedCluster(plane, nodes, plane.clock, seed, **kubelet_options).start()
    except BaseException:
        plane.stop()
        raise
