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

Simplifications:
- Nodes are simulated (hollow kubelets, :mod:`kitlib.cluster.sim`): Pods
  run on a no-op runtime. Real containers come with the real kubelet.
- Every component runs in this process, on threads, with in-process
  clients (no TLS between them); kubectl and other outside clients use
  HTTPS as usual.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

from kitlib.clock import Clock
from kitlib.cluster.controlplane import ControlPlane
from kitlib.cluster.sim import SimulatedCluster
from kitlib.controllers.hpa import SimulatedMetrics
from kitlib.controllers.manager import ControllerManager
from kitlib.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)


class LocalCluster:
    """Control plane + scheduler + controller manager + simulated nodes, started and stopped together."""

    def __init__(self, nodes: int = 3, *, data_dir: Path | str | None = None, store: str | None = None, port: int = 0,
                 clock: Clock | None = None, seed: int = 0, controllers: tuple[str, ...] = ("*",),
                 **kubelet_options: Any) -> None:
        """``controllers`` as kube-controller-manager's ``--controllers`` (``"*"``, ``"-job"``...)."""
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
            self.scheduler = Scheduler(plane.client(in_process=True, user="system:kube-scheduler", groups=()), clock,
                                       random.Random(f"{seed}/scheduler")).run()
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
