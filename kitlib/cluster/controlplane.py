"""The control plane as one Python object: the store and the API server, started and stopped together.

``kubeadm init`` starts a cluster's control plane: etcd, then kube-apiserver
with the certificates it generated, then the admin kubeconfig. A
:class:`ControlPlane` does the same inside the current process, so a
notebook has a cluster in one line and a client in the next:

    >>> cluster = ControlPlane().start()          # doctest: +SKIP
    >>> cluster.client().resource("namespaces").list()["items"]  # doctest: +SKIP

``kit init`` (:mod:`kitlib.cluster.kubeadm`) runs the very same object in a
background process, so the cluster outlives the shell that made it.

Everything the control plane writes lives in one data directory: the
store's log and snapshots (``store/``), the certificates (``pki/``), and
``admin.conf``, the kubeconfig that kubectl and the official Python client
use as is. Without a directory the control plane works in a temporary one
and removes it on :meth:`stop`.

Simplifications:
- The control plane here is the store and the API server;
  :class:`~kitlib.cluster.local.LocalCluster` adds the scheduler, the
  controller manager and nodes.
- One API server; no leader election or load balancer in front of it.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kitlib.apiserver.server import APIServer
from kitlib.clock import Clock, RealClock
from kitlib.store import Store, open_store

log = logging.getLogger(__name__)

DEFAULT_PORT = 6443  # kube-apiserver's secure port


class ControlPlane:
    """A store and an API server over it. ``start()``, use, ``stop()`` (or ``with ControlPlane() as cluster:``)."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        store: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``store``: a store URL (``memory://``, ``etcd://127.0.0.1:2379``); default: durable, in ``data_dir/store``.

        ``port`` 0 picks a free port (right for notebooks and tests);
        ``kit init`` passes 6443, kube-apiserver's own.
        """
        self._temporary = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="kit-")) if data_dir is None else Path(data_dir)
        self.store_url = store or str(self.data_dir / "store")
        self.host, self.port = host, port
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.store: Store | None = None
        self.apiserver: APIServer | None = None

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig: ``KUBECONFIG=<this> kubectl get pods`` works as is."""
        return self.data_dir / "admin.conf"

    @property
    def url(self) -> str:
        if self.apiserver is None:
            raise RuntimeError("the control plane is not running: call start() first")
        return self.apiserver.url

    def start(self) -> "ControlPlane":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {}
        if not self.store_url.startswith(("etcd://", "http://")):
            options["lessor"] = False  # the API server keeps no leases in the store yet
        self.store = open_store(self.store_url, **options)
        try:
            self.apiserver = APIServer(self.store, self.data_dir / "pki", host=self.host, port=self.port,
                                       clock=self.clock, rng=self.rng).start()
            self.apiserver.write_kubeconfig(self.kubeconfig)
        except BaseException:
            self.store.close()
            self.store = None
            raise
        log.info("control plane up: %s, kubeconfig %s", self.apiserver.url, self.kubeconfig)
        return self

    def stop(self) -> None:
        if self.apiserver is not None:
            self.apiserver.stop()
            self.apiserver = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def client(self, *, in_process: bool = False, user: str = "kit-admin", groups: tuple[str, ...] = ("system:masters",)):
        """A :class:`kitlib.client.rest.Client`: over HTTPS with the admin kubeconfig, or in-process as ``user``.

        The in-process client skips TLS and sockets but not the API server's
        own path: authentication, RBAC, admission and validation all run.
        """
        from kitlib.client.rest import Client
        from kitlib.client.transport import InProcessTransport

        if self.apiserver is None:
            raise RuntimeError("the control plane is not running: call start() first")
        if in_process:
            return Client(InProcessTransport(self.apiserver.handler, user, groups))
        return Client.from_kubeconfig(self.kubeconfig)

    def __enter__(self) -> "ControlPlane":
        return self.start() if self.apiserver is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.apiserver.url if self.apiserver else "stopped"
        return f"ControlPlane({state}, data in {self.data_dir})"


def start(data_dir: Path | str | None = None, **options: Any) -> ControlPlane:
    """The one line a notebook needs: ``cluster = kitlib.cluster.start()``; later ``cluster.stop()``."""
    return ControlPlane(data_dir, **options).start()
