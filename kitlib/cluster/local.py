"""A whole cluster on one machine: the control plane, the scheduler, the controller manager, and nodes.

:class:`LocalCluster` starts what ``kubeadm init`` plus ``kubeadm join`` on
a few machines would: the store and the API server
(:class:`~kitlib.cluster.controlplane.ControlPlane`), kube-scheduler
(:class:`~kitlib.scheduler.scheduler.Scheduler`), kube-controller-manager
(:class:`~kitlib.controllers.manager.ControllerManager`), and the nodes. The
scheduler and the controller manager are ordinary clients of the API
server, each with its own identity (``system:kube-scheduler``,
``system:kube-controller-manager``), so RBAC applies to them as in a real
cluster; each node's kubelet is ``system:node:<name>``.

    >>> cluster = up(nodes=3)                          # doctest: +SKIP
    >>> cluster.kubeconfig                             # doctest: +SKIP
    >>> cluster.down()                                 # doctest: +SKIP

``kit up --simulated --nodes N`` runs the same object in a background
process (:mod:`kitlib.cluster.kubeadm`).

On a :class:`~kitlib.clock.FakeClock` the cluster is a simulation that
replays: nothing waits on real time, :meth:`LocalCluster.settle` lets every
component finish what it can do at this instant, and
:meth:`LocalCluster.advance` moves the clock from one awaited moment to the
next, settling at each. The scheduler is then *stepped*: it places the Pods
waiting in its queue when everything else is quiet, in queue order
(priority, arrival, name), so the same seed and the same calls give the
same Pods on the same Nodes::

    cluster = up(nodes=3, seed=1, clock=FakeClock())   # doctest: +SKIP
    client.deployments().create(manifest)              # doctest: +SKIP
    cluster.settle()        # ReplicaSet made, Pods made and bound  # doctest: +SKIP
    cluster.advance(10)     # ten simulated seconds: the Pods are Running  # doctest: +SKIP

Simplifications:
- Nodes are simulated (hollow kubelets, :mod:`kitlib.cluster.sim`): Pods
  run on a no-op runtime. Real containers come with the real kubelet.
- Every component runs in this process, on threads, with in-process
  clients (no TLS between them); kubectl and other outside clients use
  HTTPS as usual.
- On a FakeClock the scheduler runs in steps, between the other
  components' work, instead of continuously; what it decides is what a
  fast kube-scheduler would decide for the Pods in that order.
- "Settled" is judged by the components' queues, the embedded store's and
  the in-process watches' backlogs, and a quiet store for a few real
  milliseconds; with a real etcd (whose watches cannot be inspected) or
  with clients outside this process, only by the quiet store. Every
  in-process watch of the Python process counts, also another cluster's.
"""

from __future__ import annotations

import logging
import random
import time as _real_time
from pathlib import Path
from typing import Any

from kitlib.client.transport import InProcessWatchStream
from kitlib.clock import Clock, FakeClock
from kitlib.cluster.controlplane import ControlPlane
from kitlib.cluster.sim import SimulatedCluster
from kitlib.controllers.hpa import SimulatedMetrics
from kitlib.controllers.manager import ControllerManager
from kitlib.errors import KitError
from kitlib.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

SETTLE_QUIET = 0.01  # real seconds the store must stay still (after every queue and watch is drained)
SETTLE_POLL = 0.005


class LocalCluster:
    """Control plane + scheduler + controller manager + simulated nodes, started and stopped together."""

    def __init__(self, nodes: int = 3, *, data_dir: Path | str | None = None, store: str | None = None, port: int = 0,
                 clock: Clock | None = None, seed: int = 0, controllers: tuple[str, ...] = ("*",),
                 explain: bool = False, **kubelet_options: Any) -> None:
        """``controllers`` as kube-controller-manager's ``--controllers`` (``"*"``, ``"-job"``...).

        ``explain``: the scheduler keeps each Pod's filter and score table
        (``cluster.scheduler.last_explanation("default/web-0")``).
        """
        self.explain = explain
        self.plane = ControlPlane(data_dir, store=store or (None if data_dir else "memory://"), port=port, clock=clock,
                                  rng=random.Random(seed))
        self.nodes, self.seed, self.kubelet_options = nodes, seed, kubelet_options
        self.controller_names = controllers
        self.scheduler: Scheduler | None = None
        self.controllers: ControllerManager | None = None
        self.sim: SimulatedCluster | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.plane.kubeconfig

    @property
    def clock(self) -> Clock:
        return self.plane.clock

    def up(self) -> "LocalCluster":
        plane = self.plane.start()
        try:
            clock, seed = plane.clock, self.seed
            # Each component gets its own generator derived from the seed: one replays, whatever the others do.
            # The HPA reads the hollow nodes' CPU numbers (kube's metrics-server), once the nodes exist.
            metrics = SimulatedMetrics()
            self.controllers = ControllerManager(
                plane.client(in_process=True, user="system:kube-controller-manager", groups=()), clock,
                random.Random(f"{seed}/controller-manager"), identity="kube-controller-manager-0",
                controllers=self.controller_names, metrics=metrics).start()
            # On a FakeClock the scheduler is stepped by settle(): Pods are placed in queue order at each step.
            self.scheduler = Scheduler(plane.client(in_process=True, user="system:kube-scheduler", groups=()), clock,
                                       random.Random(f"{seed}/scheduler"), stepped=isinstance(clock, FakeClock),
                                       explain=self.explain).run()
            self.sim = SimulatedCluster(plane, self.nodes, clock, seed, **self.kubelet_options).start()
            metrics.cluster = self.sim
        except BaseException:
            self.down()
            raise
        log.info("cluster up: %d simulated nodes, kubeconfig %s", self.nodes, plane.kubeconfig)
        return self

    def down(self) -> None:
        """Stop everything, the nodes first and the store last (the reverse of the start)."""
        for part in (self.sim, self.scheduler, self.controllers):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # noqa: BLE001  (one part failing to stop must not keep the others running)
                    log.exception("stopping %s failed", type(part).__name__)
        self.sim = self.scheduler = self.controllers = None
        self.plane.stop()

    # -- waiting and time ------------------------------------------------------------------------------

    def settle(self, timeout: float = 30.0, quiet: float = SETTLE_QUIET) -> bool:
        """Wait (real seconds) until the cluster has done everything it can do at this moment.

        Settled means: the hollow nodes have seen every Pod change and run
        every timer that is due; the scheduler has no Pod to try and no
        binding under way; every controller has synced and has no key to
        sync; every watch event has been delivered and handled by the
        informer that reads it; and the store's revision has not moved for
        ``quiet`` seconds (a last grace for work between two of those steps).
        Work that waits for a later moment (a back-off, a heartbeat, a
        CronJob's next run, a controller's retry a few milliseconds after a
        conflict) does not count: :meth:`advance` reaches it, so after a
        change, ``advance(1)`` is the safer way to wait for its effects.
        Returns False if the cluster is still busy after ``timeout``.
        """
        if self.sim is None or self.scheduler is None or self.controllers is None:
            raise KitError("the cluster is not up: call up() first")
        store = self.plane.store
        deadline = _real_time.monotonic() + timeout
        revision, quiet_since = -1, _real_time.monotonic()
        while _real_time.monotonic() < deadline:
            if not self.sim.catch_up(max(0.0, deadline - _real_time.monotonic())):
                return False
            now_revision = store.revision
            busy = not (self.controllers.is_leader() and self.controllers.idle()) or self._watches_behind()
            if not self.scheduler.stepped:
                busy = busy or not self.scheduler.idle()
            elif not busy and now_revision == revision:
                # Everything else is quiet: the scheduler's step. Its bindings start another round.
                busy = self.scheduler.schedule_pending() > 0
            if busy or now_revision != revision:
                revision, quiet_since = now_revision, _real_time.monotonic()
            elif _real_time.monotonic() - quiet_since >= quiet:
                return True
            _real_time.sleep(SETTLE_POLL)
        log.warning("the cluster did not settle within %s s", timeout)
        return False

    def _watches_behind(self) -> bool:
        """Some watch event is on its way: not yet delivered, or not yet handled by the informer that reads it."""
        backlog = getattr(self.plane.store, "watch_backlog", None)  # the embedded store can tell; etcd cannot
        return InProcessWatchStream.backlog() or (backlog is not None and backlog())

    def advance(self, seconds: float, timeout: float = 60.0) -> None:
        """Move a FakeClock ``seconds`` forward, stopping at every moment a component waits for, settling at each.

        The moments come from the clock (:meth:`FakeClock.expect`: back-offs,
        requeues, leader-election renewals, the scheduler's flushes) and from
        the hollow nodes' timers (heartbeats, Pods starting and finishing),
        so the cluster lives through the interval as it would on a real
        clock, only faster; the same calls replay the same cluster.
        """
        clock = self.clock
        if not isinstance(clock, FakeClock):
            raise KitError("advance() moves a FakeClock; on a real clock the cluster runs by itself")
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        if self.sim is None:
            raise KitError("the cluster is not up: call up() first")
        target = clock.now() + seconds
        started = _real_time.monotonic()
        self.settle(timeout)
        while True:
            moments = [m for m in (clock.next_expected(), self.sim.loop.next_deadline()) if m is not None]
            step_to = min(moments + [target])
            clock.advance(max(0.0, step_to - clock.now()))
            self.sim.loop.wake()
            self.settle(max(1.0, timeout - (_real_time.monotonic() - started)))
            if step_to >= target:
                return

    def client(self, **options: Any):
        """A client of this cluster's API server (HTTPS with the admin kubeconfig, or ``in_process=True``)."""
        return self.plane.client(**options)

    def __enter__(self) -> "LocalCluster":
        return self.up() if self.sim is None else self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def __repr__(self) -> str:
        state = f"{self.nodes} simulated nodes at {self.plane.apiserver.url}" if self.plane.apiserver else "down"
        return f"LocalCluster({state})"


def up(nodes: int = 3, **options: Any) -> LocalCluster:
    """The one line a notebook needs for a working cluster: ``cluster = kitlib.cluster.up()``; later ``cluster.down()``."""
    return LocalCluster(nodes, **options).up()
