"""The scheduler's cache: every Node, the Pods bound or *assumed* to it, and a snapshot per cycle.

Filter and Score plugins read Nodes through :class:`~kitlib.scheduler.nodeinfo.NodeInfo`,
never through the API. kube-scheduler keeps one NodeInfo per Node, current
from its Node and Pod informers (``pkg/scheduler/internal/cache``), and adds
a twist: once a cycle has chosen a Node, the Pod is **assumed** there at once,
before the Binding is even sent, so the next cycle already counts its
requests. Binding is slow (an API round trip, done on another thread); without
assuming, two Pods popped back to back would both see the same free room.

The life of an assumed Pod (``cache.go``'s state machine)::

    assume_pod ---> finish_binding ---> add_pod (the informer shows it bound): confirmed, an ordinary Pod
        |                 |
        |                 '--- TTL passes on the clock without confirmation: expired, removed
        '--- forget_pod (Reserve, Permit or Bind failed): removed

``add_pod`` may even come before ``finish_binding`` (the watch is fast); it
confirms just the same. A Pod bound to another Node than assumed (someone
else bound it) moves to where the informer says.

:meth:`Cache.snapshot` hands a cycle NodeInfos of its own: clones that
share the Node and Pod dicts (never written) but not the Pod lists and sums,
so the cache may change while a cycle runs. Clones of unchanged Nodes are
reused from one cycle to the next; a cycle only reads them.

Simplifications:
- The snapshot re-clones the NodeInfos changed since the last one (kube
  compares generations) and hands out a copy of its list each cycle; Nodes are
  sorted by name, where kube orders them zone by zone (``nodeTree``).
- Expired assumed Pods are cleaned when a snapshot is taken (kube runs a
  cleanup goroutine every second).
- No image states, no PodAffinity/ports bookkeeping (NodeInfo has none).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from kitlib.api.meta import key_of
from kitlib.clock import Clock
from kitlib.scheduler.nodeinfo import NodeInfo

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# How long an assumed Pod whose binding finished waits for the informer to
# confirm it. kube-scheduler's durationToExpireAssumedPod (see
# kubernetes/kubernetes#106361 for its history; 0 there means "never expire",
# as it does here).
DEFAULT_ASSUMED_POD_TTL = 15 * 60.0


class CacheError(KeyError):
    """The cache was used against its contract (assume a Pod twice, forget one never assumed)."""


@dataclass
class _PodState:
    pod: Obj
    deadline: float | None = None  # set by finish_binding: when an unconfirmed assumed Pod expires
    binding_finished: bool = False


def _node_of(pod: Obj) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def is_terminal(pod: Obj) -> bool:
    """Succeeded or Failed: holds no resources (kube's Pod informer filters these out)."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class Cache:
    """Nodes and their Pods, assumed ones included. Every method is thread-safe (one lock)."""

    def __init__(self, clock: Clock, ttl: float = DEFAULT_ASSUMED_POD_TTL) -> None:
        self.clock, self.ttl = clock, ttl
        self._lock = threading.RLock()
        # Node name -> NodeInfo. A NodeInfo may exist before its Node (a Pod's
        # informer event came first): its ``node`` is empty and snapshots skip it.
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}  # pod key -> state, for every Pod in the cache
        self._assumed: set[str] = set()
        # The last snapshot's clones, and the Nodes changed since: a snapshot re-clones only those
        # (kube's UpdateSnapshot compares generations for the same reason: a cycle must not cost O(nodes)).
        self._snapshot: dict[str, NodeInfo] = {}
        self._list: list[NodeInfo] = []  # the clones sorted by name, and each name's place in it
        self._index: dict[str, int] = {}
        self._dirty: set[str] = set()

    # -- Nodes ----------------------------------------------------------------------------------

    def add_node(self, node: Obj) -> None:
        """A Node appeared or changed: its NodeInfo keeps the Pods, takes the new allocatable."""
        name = (node.get("metadata") or {}).get("name", "")
        with self._lock:
            old = self._nodes.get(name)
            self._nodes[name] = NodeInfo.of(node, old.pods if old else ())
            self._dirty.add(name)

    update_node = add_node

    def remove_node(self, node: Obj) -> None:
        """The Node is gone; its Pods stay counted until their own deletions arrive (as kube's ghost NodeInfo)."""
        name = (node.get("metadata") or {}).get("name", "")
        with self._lock:
            info = self._nodes.get(name)
            if info is None:
                return
            self._dirty.add(name)
            if info.pods:
                self._nodes[name] = NodeInfo.of({}, info.pods)
            else:
                del self._nodes[name]

    # -- Pods -----------------------------------------------------------------------------------

    def _add_locked(self, pod: Obj) -> None:
        name = _node_of(pod)
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo({})
        info.add_pod(pod)
        self._dirty.add(name)

    def _remove_locked(self, pod: Obj) -> None:
        info = self._nodes.get(_node_of(pod))
        self._dirty.add(_node_of(pod))
        if info is None or not info.remove_pod(pod):
            log.debug("pod %s was not on node %r in the cache", key_of(pod), _node_of(pod))
            return
        if not info.node and not info.pods:
            del self._nodes[_node_of(pod)]

    def assume_pod(self, pod: Obj) -> None:
        """Count ``pod`` (with ``spec.nodeName`` set by the caller) on its Node now (``AssumePod``)."""
        key = key_of(pod)
        with self._lock:
            if key in self._pods:
                raise CacheError(f"pod {key} is in the cache, so can't be assumed")
            self._add_locked(pod)
            self._pods[key] = _PodState(pod)
            self._assumed.add(key)

    def finish_binding(self, pod: Obj) -> None:
        """The Binding was accepted: start the TTL within which the informer must confirm (``FinishBinding``)."""
        key = key_of(pod)
        with self._lock:
            state = self._pods.get(key)
            if state is not None and key in self._assumed:
                state.binding_finished = True
                state.deadline = self.clock.now() + self.ttl if self.ttl > 0 else None

    def forget_pod(self, pod: Obj) -> None:
        """Undo :meth:`assume_pod` after a failed Reserve, Permit or Bind (``ForgetPod``)."""
        key = key_of(pod)
        with self._lock:
            if key not in self._assumed:
                raise CacheError(f"pod {key} wasn't assumed so cannot be forgotten")
            self._remove_locked(self._pods.pop(key).pod)
            self._assumed.discard(key)

    def add_pod(self, pod: Obj) -> None:
        """The informer shows ``pod`` bound: confirm it if assumed, else count it (``AddPod``)."""
        key = key_of(pod)
        with self._lock:
            state = self._pods.get(key)
            if state is not None and key in self._assumed:
                # Confirmed. Keep the informer's version: it is the truth (and may name another Node).
                self._remove_locked(state.pod)
                self._add_locked(pod)
                self._pods[key] = _PodState(pod)
                self._assumed.discard(key)
                return
            if state is not None:  # an add for a Pod we hold: an update (a re-list after a broken watch)
                self._remove_locked(state.pod)
            self._add_locked(pod)
            self._pods[key] = _PodState(pod)

    def update_pod(self, old: Obj | None, new: Obj) -> None:
        """A bound Pod changed (its status, its labels): replace it where it is counted (``UpdatePod``)."""
        self.add_pod(new)

    def remove_pod(self, pod: Obj) -> None:
        """The Pod is gone, or finished (``RemovePod``)."""
        key = key_of(pod)
        with self._lock:
            state = self._pods.pop(key, None)
            self._assumed.discard(key)
            if state is not None:
                self._remove_locked(state.pod)

    def is_assumed(self, pod: Obj) -> bool:
        with self._lock:
            return key_of(pod) in self._assumed

    def cleanup_assumed_pods(self) -> list[str]:
        """Remove assumed Pods whose binding finished more than a TTL ago, unconfirmed; their keys.

        The Binding was accepted but the informer never showed the Pod bound:
        the Pod was deleted meanwhile, or the watch lost the event. Counting
        it forever would leak its room (``cleanupAssumedPods``).
        """
        now = self.clock.now()
        expired = []
        with self._lock:
            for key in sorted(self._assumed):
                state = self._pods[key]
                if state.binding_finished and state.deadline is not None and now >= state.deadline:
                    log.warning("assumed pod %s expired on node %s", key, _node_of(state.pod))
                    self._remove_locked(self._pods.pop(key).pod)
                    self._assumed.discard(key)
                    expired.append(key)
        return expired

    # -- reading --------------------------------------------------------------------------------

    def snapshot(self) -> list[NodeInfo]:
        """This cycle's Nodes: clones, by name, only Nodes whose Node object is known (``UpdateSnapshot``)."""
        self.cleanup_assumed_pods()
        with self._lock:
            if self._dirty:
                resort = False
                for name in self._dirty:
                    info = self._nodes.get(name)
                    if info is not None and info.node:
                        resort = resort or name not in self._snapshot
                        self._snapshot[name] = info.clone()
                    elif self._snapshot.pop(name, None) is not None:
                        resort = True
                if resort:  # a Node came or went: kube's updateAllLists; otherwise the order stands
                    order = sorted(self._snapshot)
                    self._list = [self._snapshot[name] for name in order]
                    self._index = {name: i for i, name in enumerate(order)}
                else:  # usually one or two Nodes took a Pod: swap their clones in place, not O(nodes)
                    for name in self._dirty:
                        if name in self._index:
                            self._list[self._index[name]] = self._snapshot[name]
                self._dirty.clear()
            # Shared between cycles: a cycle reads its NodeInfos and never changes them (preemption clones).
            return list(self._list)

    def node_names(self) -> list[str]:
        with self._lock:
            return sorted(name for name, info in self._nodes.items() if info.node)

    def pods_on(self, node: str) -> list[str]:
        """Keys of the Pods counted on ``node``, assumed ones included."""
        with self._lock:
            info = self._nodes.get(node)
            return sorted(key_of(p) for p in info.pods) if info else []

    def assumed_pods(self) -> list[str]:
        with self._lock:
            return sorted(self._assumed)

    def __len__(self) -> int:
        """How many Pods are counted."""
        with self._lock:
            return len(self._pods)

    def __repr__(self) -> str:
        with self._lock:
            return f"<Cache {len(self.node_names())} nodes, {len(self._pods)} pods, {len(self._assumed)} assumed>"
