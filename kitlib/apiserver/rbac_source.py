"""Where the RBAC authorizer reads Roles and bindings: the registry, through a cache kept fresh by watches.

Every request is authorised, and authorising one walks every
ClusterRoleBinding (and the RoleBindings of its namespace). Reading and
decoding those from the store on each request cost about a millisecond,
a third of a small request's whole time. kube-apiserver's RBAC authorizer
reads them from informer caches instead; :class:`RegistryRBAC` does the
same with what the store offers directly: the decoded objects are kept,
and one watch per RBAC resource marks the cache stale when any of them
changes.

Freshness: the embedded store queues a watch event before the write that
caused it returns, and each read first drains the watches, so a request
that follows a RoleBinding's creation sees it (read-your-writes, as the
book's chapters and the tests expect). With a real etcd the events arrive
a moment later, as kube's informers do.

Simplifications:
- The whole cache is dropped on any RBAC change (kube updates its
  indexers object by object); RBAC objects change rarely.
- A watch that fails (compaction, a closed store) is replaced on the
  next read, and the cache is dropped with it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kitlib.api.errors import NotFound
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import Resource, for_kind

log = logging.getLogger(__name__)

RBAC_API = "rbac.authorization.k8s.io/v1"
KINDS = ("ClusterRoleBinding", "ClusterRole", "RoleBinding", "Role")


class RegistryRBAC:
    """RBAC objects read from the registry, cached, for the authorizer (an ``RBACSource``)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._resources: dict[str, Resource] = {kind: for_kind(RBAC_API, kind) for kind in KINDS}
        self._lock = threading.Lock()  # guards _cache and _watches
        self._cache: dict[tuple[str, str, str], Any] = {}  # (kind, namespace, name or "*") -> object(s)
        self._generation = 0  # bumped whenever the cache is dropped
        self._watches: list[Any] = []

    def _fresh(self) -> None:
        """Under _lock: drop the cache if any RBAC object changed since the last read (or a watch broke)."""
        if not self._watches:
            self._start_watches()
            return
        changed = False
        for watch in self._watches:
            try:
                while watch.get(timeout=0) is not None:
                    changed = True
            except Exception as err:  # noqa: BLE001 (compacted or closed: start over, uncached)
                log.info("RBAC cache watch failed (%s); reloading", err)
                self._stop_watches()
                self._start_watches()
                return
        if changed:
            self._drop()

    def _drop(self) -> None:
        self._cache.clear()
        self._generation += 1

    def _start_watches(self) -> None:
        self._drop()
        store = self.registry.store
        revision = store.revision
        for resource in self._resources.values():
            watch = store.watch(resource.storage_prefix + "/", prefix=True, start_revision=revision + 1)
            watch.passive = True  # drained on demand, by the next authorisation
            self._watches.append(watch)

    def _stop_watches(self) -> None:
        for watch in self._watches:
            watch.cancel()
        self._watches = []

    def close(self) -> None:
        with self._lock:
            self._stop_watches()
            self._drop()

    def _read(self, kind: str, namespace: str, name: str) -> Any:
        key = (kind, namespace, name)
        with self._lock:
            self._fresh()
            if key in self._cache:
                return self._cache[key]
            generation = self._generation
        resource = self._resources[kind]
        if name == "*":
            value = self.registry.list(resource, namespace or None)["items"]
        else:
            try:
                value = self.registry.get(resource, namespace or None, name)
            except NotFound:
                value = None
        with self._lock:
            # Kept only if nothing changed while we read; otherwise the next read loads it again.
            self._fresh()
            if self._generation == generation:
                self._cache[key] = value
        return value

    def list_cluster_role_bindings(self) -> list[dict]:
        return self._read("ClusterRoleBinding", "", "*")

    def get_cluster_role(self, name: str) -> dict | None:
        return self._read("ClusterRole", "", name)

    def list_role_bindings(self, namespace: str) -> list[dict]:
        return self._read("RoleBinding", namespace, "*")

    def get_role(self, namespace: str, name: str) -> dict | None:
        return self._read("Role", namespace, name)
