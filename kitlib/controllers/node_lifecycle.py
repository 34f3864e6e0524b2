"""The node lifecycle controller: notices silent Nodes, taints them, and evicts the Pods that do not tolerate it.

kube-controller-manager's ``pkg/controller/nodelifecycle`` together with
its NoExecute taint manager (``pkg/controller/tainteviction``). Three jobs on
one queue, told apart by their keys (a Node's key is its name, a Pod's is
``namespace/name``):

1. **Node health** (``monitorNodeHealth`` / ``tryUpdateNodeHealth``). A
   kubelet proves it is alive by renewing its Lease in ``kube-node-lease``
   (and, rarely, by posting node status). The controller remembers, on its
   own clock, when it last *saw* either change (the probe timestamp: kube
   never trusts the kubelet's clock). Past ``node_monitor_grace_period``
   (``node_startup_grace_period`` for a Node that never posted status)
   every condition the kubelet posts becomes ``Unknown``, reason
   ``NodeStatusUnknown``, "Kubelet stopped posting node status.".
2. **Taints** (``doNoScheduleTaintingPass`` and ``doNoExecuteTaintingPass``):
   Ready ``False`` gives ``node.kubernetes.io/not-ready``, Ready ``Unknown``
   gives ``node.kubernetes.io/unreachable``, each as ``NoSchedule`` and as
   ``NoExecute``; pressure conditions and ``spec.unschedulable`` give their
   ``NoSchedule`` taints. A Node back to Ready loses them.
3. **Taint eviction** (the taint manager): a Pod on a Node with a
   ``NoExecute`` taint it does not tolerate is deleted at once; one that
   tolerates every such taint for a while (``tolerationSeconds``) is
   deleted when the shortest of those times has passed since the
   controller first saw it there. The API server's DefaultTolerationSeconds
   admission (:func:`kitlib.apiserver.defaults.admit_default_toleration_seconds`)
   gives every Pod 300 s for not-ready and unreachable, so a Pod outlives
   its node by five minutes unless it says otherwise, as in kube. The
   ReplicaSet controller then replaces it.

Simplifications:
- No zones and no rate limiting of evictions (kube taints at
  ``--node-eviction-rate`` 0.1 Node/s per zone, slower or not at all when
  a zone is mostly or fully disrupted); taints come on at once.
- Pods of an unreachable Node are not marked NotReady (``MarkPodsNotReady``)
  and get no ``DisruptionTarget`` condition before their deletion; no Events.
- The probe times live in memory only: a restarted controller gives every
  Node a fresh grace period, as kube's does.
- Each Node is looked at every ``node_monitor_period`` through the work
  queue (kube runs one loop over all Nodes at that period).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from kitlib.api.errors import Conflict, NotFound
from kitlib.api.meta import deep_copy, key_of, name, rfc3339, split_key, uid
from kitlib.client.indexer import NODE_NAME_INDEX, node_name_index
from kitlib.client.rest import ALL_NAMESPACES
from kitlib.controllers.base import Controller, unwrap

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
# kube-controller-manager's defaults. The grace period was 40 s until kube 1.32
# (kubernetes/kubernetes#126287 raised it to 50 s, so that a kubelet gets five
# tries at its 10 s status updates plus time to reconnect).
NODE_MONITOR_GRACE_PERIOD = 50.0
NODE_STARTUP_GRACE_PERIOD = 60.0
NODE_MONITOR_PERIOD = 5.0

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
# nodeConditionToTaintKeyStatusMap: which condition, in which status, gives which NoSchedule taint.
CONDITION_TAINTS = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
}
NO_SCHEDULE_KEYS = frozenset(CONDITION_TAINTS.values()) | {TAINT_UNSCHEDULABLE}
NO_EXECUTE_KEYS = frozenset({TAINT_NOT_READY, TAINT_UNREACHABLE})

# The conditions a kubelet posts, which all go Unknown when it falls silent.
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
UNKNOWN_REASON, UNKNOWN_MESSAGE = "NodeStatusUnknown", "Kubelet stopped posting node status."
NEVER_REASON, NEVER_MESSAGE = "NodeStatusNeverUpdated", "Kubelet never posted node status."


@dataclass
class NodeHealth:
    """What the controller last saw of a Node (kube's ``nodeHealthData``)."""

    probe: float  # our clock, when the kubelet was last seen alive
    heartbeat: str = ""  # the Ready condition's lastHeartbeatTime then
    renew: str = ""  # the Lease's renewTime then


def condition(node: Obj, kind: str) -> Obj | None:
    return next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """``Toleration.ToleratesTaint``: an empty effect or key matches all; ``Exists`` ignores the value."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    if toleration.get("operator") == "Exists":
        return True
    return toleration.get("value", "") == taint.get("value", "")


def eviction_delay(taints: list[Obj], tolerations: list[Obj]) -> float | None:
    """Seconds a Pod may stay under these NoExecute taints: 0 (evict now), a time, or None (for ever).

    kube's ``getMatchingTolerations`` + ``getMinTolerationTime``: every taint
    must be tolerated (else 0); of the tolerations used, the shortest
    ``tolerationSeconds`` wins, and none at all means no limit.
    """
    used = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return 0.0
        used.append(match)
    seconds = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
    if not seconds:
        return None
    return max(0.0, float(min(seconds)))


def desired_taints(node: Obj) -> list[Obj]:
    """The taints this controller wants on ``node`` for its conditions, without ``timeAdded``."""
    wanted = []
    for c in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get((c.get("type"), c.get("status")))
        if key is not None:
            wanted.append({"key": key, "effect": "NoSchedule"})
            if key in NO_EXECUTE_KEYS:
                wanted.append({"key": key, "effect": "NoExecute"})
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append({"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"})
    return wanted


def no_execute_taints(node: Obj | None) -> list[Obj]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]


class NodeLifecycleController(Controller):
    """Nodes and their Leases in, node conditions and taints out; Pods on NoExecute-tainted Nodes deleted."""

    name = "nodelifecycle"
    kind = "Node"
    api_version = "v1"
    workers = 2

    def __init__(self, client, *, node_monitor_grace_period: float = NODE_MONITOR_GRACE_PERIOD,
                 node_startup_grace_period: float = NODE_STARTUP_GRACE_PERIOD,
                 node_monitor_period: float = NODE_MONITOR_PERIOD, **options: Any) -> None:
        super().__init__(client, **options)
        self.grace_period = node_monitor_grace_period
        self.startup_grace_period = node_startup_grace_period
        self.monitor_period = node_monitor_period
        self.health: dict[str, NodeHealth] = {}
        self.tainted_since: dict[str, float] = {}  # Pod UID -> when we first saw it under NoExecute taints
        self._lock = threading.Lock()  # guards health and tainted_since (two workers)
        self.nodes = self.informer(("v1", "Node"), ALL_NAMESPACES, primary=True)
        self.nodes.add_event_handler(on_add=self.add_node, on_update=self.update_node,
                                     on_delete=lambda obj: self.enqueue(name(unwrap(obj))))
        self.leases = self.informer(("coordination.k8s.io/v1", "Lease"), NODE_LEASE_NAMESPACE)
        self.leases.add_event_handler(on_add=self.lease_changed, on_update=lambda _, new: self.lease_changed(new))
        self.pods = self.informer(("v1", "Pod"), indexers={NODE_NAME_INDEX: node_name_index})
        self.pods.add_event_handler(on_add=self.pod_changed, on_update=lambda _, new: self.pod_changed(new),
                                    on_delete=self.pod_deleted)

    # -- event handlers: only keys go on the queue ------------------------------------------------

    def add_node(self, node: Obj) -> None:
        self.enqueue(name(node))
        self.enqueue_pods_on(name(node))

    def update_node(self, old: Obj, new: Obj) -> None:
        self.enqueue(name(new))
        if no_execute_taints(old) != no_execute_taints(new):
            self.enqueue_pods_on(name(new))  # the taint manager looks at every Pod of a re-tainted Node

    def lease_changed(self, lease: Obj) -> None:
        self.enqueue(name(lease))  # a node's Lease bears the node's name

    def pod_changed(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.enqueue(key_of(pod))

    def pod_deleted(self, obj: Any) -> None:
        with self._lock:
            self.tainted_since.pop(uid(unwrap(obj)), None)

    def enqueue_pods_on(self, node_name: str) -> None:
        for pod in self.pods.indexer.by_index(NODE_NAME_INDEX, node_name):
            self.enqueue(key_of(pod))

    # -- sync ---------------------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        if "/" in key:
            self.sync_pod(key)
        else:
            self.sync_node(key)

    def sync_node(self, node_name: str) -> None:
        node = self.nodes.indexer.get_by_key(node_name)
        if node is None:
            with self._lock:
                self.health.pop(node_name, None)
            return
        now = self.clock.now()
        ready = condition(node, "Ready")
        heartbeat = (ready or {}).get("lastHeartbeatTime", "")
        lease = self.leases.indexer.get_by_key(f"{NODE_LEASE_NAMESPACE}/{node_name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime", "")
        with self._lock:
            health = self.health.get(node_name)
            if health is None:
                health = self.health[node_name] = NodeHealth(now, heartbeat, renew)  # first sight: a full grace period
            elif health.heartbeat != heartbeat or health.renew != renew:
                health.probe, health.heartbeat, health.renew = now, heartbeat, renew
            probe = health.probe
        grace = self.grace_period if ready is not None else self.startup_grace_period
        if now > probe + grace:
            node = self.mark_unknown(node, ready is None) or node
        self.update_taints(node)
        # kube looks at every Node each --node-monitor-period; a key on the queue does the same.
        self.enqueue_after(node_name, self.monitor_period)

    def mark_unknown(self, node: Obj, never_posted: bool) -> Obj | None:
        """Set the kubelet's conditions to Unknown unless they are; the Node as stored, or None if unchanged."""
        now = rfc3339(self.clock.wall())
        node = deep_copy(node)
        status = node.setdefault("status", {})
        conditions = status.setdefault("conditions", [])
        changed = False
        for kind in KUBELET_CONDITIONS:
            current = condition(node, kind)
            if current is None:
                # Never posted: kube adds it Unknown, heartbeat and transition now.
                conditions.append({"type": kind, "status": "Unknown", "reason": NEVER_REASON,
                                   "message": NEVER_MESSAGE, "lastHeartbeatTime": now, "lastTransitionTime": now})
                changed = True
            elif current.get("status") != "Unknown":
                # The last heartbeat stays: it says when the kubelet was last heard from.
                current.update(status="Unknown", reason=NEVER_REASON if never_posted else UNKNOWN_REASON,
                               message=NEVER_MESSAGE if never_posted else UNKNOWN_MESSAGE, lastTransitionTime=now)
                changed = True
        if not changed:
            return None
        log.info("node %s: kubelet stopped posting node status; conditions Unknown", name(node))
        # A Conflict (the kubelet came back meanwhile) is retried: the next look decides from the newer Node.
        return self.client.nodes().update_status(node)

    def update_taints(self, node: Obj) -> None:
        """Make the managed taints match the conditions; keep everyone else's taints, and each one's timeAdded."""
        current = (node.get("spec") or {}).get("taints") or []
        wanted = desired_taints(node)
        managed = lambda t: (t.get("key") in NO_SCHEDULE_KEYS and t.get("effect") == "NoSchedule") or (
            t.get("key") in NO_EXECUTE_KEYS and t.get("effect") == "NoExecute")
        kept = [t for t in current if not managed(t) or {"key": t.get("key"), "effect": t.get("effect")} in wanted]
        have = [{"key": t.get("key"), "effect": t.get("effect")} for t in kept]
        added = [dict(t) for t in wanted if t not in have]
        if not added and len(kept) == len(current):
            return
        stamp = rfc3339(self.clock.wall())
        for taint in added:
            if taint["effect"] == "NoExecute":
                taint["timeAdded"] = stamp  # the taint manager's clock starts here
        node = deep_copy(node)
        node.setdefault("spec", {})["taints"] = deep_copy(kept) + added
        if not node["spec"]["taints"]:
            del node["spec"]["taints"]
        log.info("node %s: taints now %s", name(node),
                 [f"{t['key']}:{t['effect']}" for t in node["spec"].get("taints", [])])
        self.client.nodes().update(node)  # a Conflict is retried with the newer Node

    def sync_pod(self, key: str) -> None:
        pod = self.pods.indexer.get_by_key(key)
        if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        pod_uid = uid(pod)
        taints = no_execute_taints(self.nodes.indexer.get_by_key((pod.get("spec") or {}).get("nodeName") or ""))
        if not taints:
            with self._lock:
                self.tainted_since.pop(pod_uid, None)  # the node recovered: the count starts over next time
            return
        delay = eviction_delay(taints, (pod.get("spec") or {}).get("tolerations") or [])
        if delay is None:
            return  # tolerated for ever
        now = self.clock.now()
        with self._lock:
            since = self.tainted_since.setdefault(pod_uid, now)
        if now < since + delay:
            self.enqueue_after(key, since + delay - now)
            return
        ns, pod_name = split_key(key)
        log.info("taint eviction: deleting Pod %s from node %s (NoExecute %s)", key, pod["spec"]["nodeName"],
                 [t.get("key") for t in taints])
        try:
            # The UID precondition: never delete a newer Pod that took the same name.
            self.client.pods(ns).delete(pod_name, uid=pod_uid)
        except (NotFound, Conflict):
            pass
        with self._lock:
            self.tainted_since.pop(pod_uid, None)
