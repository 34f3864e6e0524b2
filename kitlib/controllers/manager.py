"""kube-controller-manager in miniature: build the controllers, run them while we hold the Lease.

One process runs every controller of the cluster. Several copies run for
availability, and leader election (:mod:`kitlib.client.leaderelection`)
on the Lease ``kube-system/kube-controller-manager`` decides which one
acts: the leader builds its controllers from a registry (name -> factory,
kube's ``NewControllerDescriptors``), starts them, and stops them the
moment it loses the Lease; the others wait for the Lease to expire.

    manager = ControllerManager(client, clock, rng, identity="cm-1").start()
    manager.is_leader(), sorted(manager.running)     # (True, ['replicaset']) once it has won
    manager.stop()                                    # stops the controllers, releases the Lease

``controllers`` selects from the registry as ``--controllers`` does:
``"*"`` for every controller, ``"-name"`` to leave one out.

Simplifications:
- Controllers are built afresh each time leadership is gained, and each
  builds its own informers (kube shares one informer factory and exits the
  process when it loses the Lease; this manager stands for election again).
- No service-account credentials per controller, no health or metrics
  endpoints, no ``--leader-elect=false`` flag beyond ``leader_elect``.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from kitlib.api.meta import new_uid
from kitlib.client.factory import SharedInformerFactory
from kitlib.client.leaderelection import LeaderElector
from kitlib.client.rest import ALL_NAMESPACES, Client
from kitlib.clock import Clock, RealClock
from kitlib.controllers.base import Controller
from kitlib.controllers.deployment import DeploymentController
from kitlib.controllers.cronjob import CronJobController
from kitlib.controllers.daemonset import DaemonSetsController
from kitlib.controllers.endpoints import EndpointsController
from kitlib.controllers.garbage_collector import GarbageCollector
from kitlib.controllers.hpa import HorizontalController
from kitlib.controllers.job import JobController
from kitlib.controllers.node_lifecycle import NodeLifecycleController
from kitlib.controllers.replicaset import ReplicaSetController
from kitlib.controllers.statefulset import StatefulSetController
from kitlib.errors import KitError

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"


@dataclass
class ControllerContext:
    """What a factory gets to build its controller (kube's ``ControllerContext``)."""

    client: Client
    clock: Clock
    rng: random.Random
    namespace: str = ALL_NAMESPACES
    resync_period: float = 0.0
    metrics: Any = None  # the HPA's MetricsSource (kube's metrics-server); None: no metrics
    informers: SharedInformerFactory | None = None  # shared by the controllers of one term of leadership

    def options(self) -> dict[str, Any]:
        """The keyword arguments every controller takes."""
        return dict(clock=self.clock, rng=self.rng, namespace=self.namespace, resync_period=self.resync_period,
                    informers=self.informers)


ControllerFactory = Callable[[ControllerContext], Controller]


# The controllers this manager knows, by the names of kube-controller-manager's --controllers flag.
# Node lifecycle watches Nodes cluster-wide; the namespace only limits which Pods it may evict.
CONTROLLERS: dict[str, ControllerFactory] = {
    "replicaset": lambda ctx: ReplicaSetController(ctx.client, **ctx.options()),
    "deployment": lambda ctx: DeploymentController(ctx.client, **ctx.options()),
    "garbagecollector": lambda ctx: GarbageCollector(ctx.client, **ctx.options()),
    "nodelifecycle": lambda ctx: NodeLifecycleController(ctx.client, **ctx.options()),
    "cronjob": lambda ctx: CronJobController(ctx.client, **ctx.options()),
    "statefulset": lambda ctx: StatefulSetController(ctx.client, **ctx.options()),
    "endpoint": lambda ctx: EndpointsController(ctx.client, **ctx.options()),
    "daemonset": lambda ctx: DaemonSetsController(ctx.client, **ctx.options()),
    "job": lambda ctx: JobController(ctx.client, **ctx.options()),
    "horizontalpodautoscaling": lambda ctx: HorizontalController(ctx.client, metrics=ctx.metrics, **ctx.options()),
}


def select_controllers(names: Iterable[str], registry: dict[str, ControllerFactory]) -> list[str]:
    """The registry names ``--controllers`` selects: ``"*"`` is all, ``"-x"`` removes x, ``"x"`` adds x."""
    names = list(names)
    chosen = set(registry) if "*" in names else set()
    for entry in names:
        if entry == "*":
            continue
        bare = entry[1:] if entry.startswith("-") else entry
        if bare not in registry:
            raise KitError(f"unknown controller {bare!r}: known are {', '.join(sorted(registry))}")
        if entry.startswith("-"):
            chosen.discard(bare)
        else:
            chosen.add(bare)
    return sorted(chosen)


class ControllerManager:
    """Controllers run only while this copy holds the Lease; ``start()`` / ``stop()``."""

    def __init__(
        self,
        client: Client,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        identity: str | None = None,
        *,
        controllers: Iterable[str] = ("*",),
        registry: dict[str, ControllerFactory] | None = None,
        namespace: str = ALL_NAMESPACES,
        resync_period: float = 0.0,
        leader_elect: bool = True,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        metrics: Any = None,
    ) -> None:
        self.client = client
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        # kube: hostname + "_" + a UUID, so two copies on one host differ.
        self.identity = identity or f"{socket.gethostname()}_{new_uid(self.rng)}"
        self.registry = dict(CONTROLLERS if registry is None else registry)
        self.enabled = select_controllers(controllers, self.registry)
        self.context = ControllerContext(client, self.clock, self.rng, namespace, resync_period, metrics)
        self.leader_elect = leader_elect
        self.running: dict[str, Controller] = {}
        self._lock = threading.Lock()  # guards running
        self._stopping = threading.Event()
        self._leading = threading.Event()
        self._all_started = threading.Event()  # every enabled controller was started in this term
        self._thread: threading.Thread | None = None
        self.elector = LeaderElector(
            client, LEASE_NAMESPACE, LEASE_NAME, self.identity, self.clock,
            lease_duration=lease_duration, renew_deadline=renew_deadline, retry_period=retry_period,
            on_started_leading=self._start_controllers, on_stopped_leading=self._stop_controllers,
            on_new_leader=self._on_new_leader, rng=self.rng,
        ) if leader_elect else None

    def __repr__(self) -> str:
        return f"<ControllerManager {self.identity!r} leading={self.is_leader()} running={sorted(self.running)}>"

    def is_leader(self) -> bool:
        """Whether our controllers are running (we hold the Lease and have not stepped down)."""
        return self._leading.is_set()

    def idle(self) -> bool:
        """We lead, every enabled controller has started and synced, and none has anything to do now.

        (See :meth:`Controller.idle`.) False while the controllers are still
        being started one by one after winning the election.
        """
        if not self._all_started.is_set():
            return False
        with self._lock:
            running = list(self.running.values())
        return all(c.has_synced() and c.idle() for c in running)

    def start(self) -> "ControllerManager":
        """Stand for election on a background thread (or, without leader election, start the controllers)."""
        if self.elector is None:
            self._start_controllers()
            return self
        self._thread = threading.Thread(target=self._campaign, name=f"kit-controller-manager-{self.identity}",
                                        daemon=True)
        self._thread.start()
        return self

    def _campaign(self) -> None:
        assert self.elector is not None
        while not self._stopping.is_set():
            self.elector.run()  # one term: returns when the Lease is lost, or on stop
            if not self._stopping.is_set():
                log.warning("%s: leader election lost; standing again", self.identity)

    def _on_new_leader(self, identity: str) -> None:
        if identity and identity != self.identity:
            log.info("%s: the leader is %s", self.identity, identity)

    def _start_controllers(self) -> None:
        log.info("%s: became leader; starting controllers %s", self.identity, self.enabled)
        # A new factory each term: one watch per resource for all the controllers (kube's InformerFactory).
        self.context.informers = SharedInformerFactory(self.client, clock=self.clock,
                                                       rng=random.Random(self.rng.getrandbits(64)),
                                                       resync_period=self.context.resync_period)
        self._leading.set()
        # Build every controller first, then run them, as kube-controller-manager does: the handlers are all
        # registered before the shared informers start, so none is replayed a cache half-way through its
        # constructor, and each informer lists once.
        built = []
        for name in self.enabled:
            try:
                built.append((name, self.registry[name](self.context)))
            except Exception:  # noqa: BLE001 (one broken controller must not keep the others down)
                log.exception("%s: error starting controller %r", self.identity, name)
        for name, controller in built:
            if self._stopping.is_set():
                return
            with self._lock:
                self.running[name] = controller
            controller.run()
            log.info("%s: started %r", self.identity, name)
        self._all_started.set()

    def _stop_controllers(self) -> None:
        self._leading.clear()
        self._all_started.clear()
        with self._lock:
            running, self.running = self.running, {}
        for name, controller in sorted(running.items()):
            controller.stop()
            log.info("%s: stopped %r", self.identity, name)
        if self.context.informers is not None:
            self.context.informers.stop()
            self.context.informers = None

    def stop(self, release: bool = True, timeout: float = 5.0) -> None:
        """Stop the controllers and leave the election; ``release=False`` plays a crash (the Lease must expire)."""
        self._stopping.set()
        if self.elector is not None:
            self.elector.stop(release=release, timeout=timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self._stop_controllers()
