"""The DaemonSet controller: one Pod of a DaemonSet on every Node that should run it.

kube-controller-manager's ``pkg/controller/daemon``. For each DaemonSet,
``sync`` (``syncDaemonSet``):

1. claims the Pods of its namespace (:mod:`~kitlib.controllers.ref_manager`)
   and groups them by the Node they are bound (or pinned) to;
2. for each Node decides (``NodeShouldRunDaemonPod``) whether a daemon Pod
   should *start* there (its ``nodeSelector`` and required node affinity
   match, and the Node has no NoSchedule/NoExecute taint the Pod does not
   tolerate) and whether one may *continue* there (the same, but only
   NoExecute taints count); creates the missing Pods, deletes failed ones,
   extra ones (the oldest stays) and those that may not continue;
3. with ``updateStrategy: RollingUpdate`` (and its expectations met),
   deletes Pods of an older template, at most ``maxUnavailable`` Nodes
   without an available daemon Pod at a time; the next sync replaces them;
4. writes ``status``: ``desiredNumberScheduled``, ``currentNumberScheduled``,
   ``numberMisscheduled``, ``numberReady``, ``numberAvailable``,
   ``numberUnavailable``, ``updatedNumberScheduled``, ``observedGeneration``.

A daemon Pod is created unbound: since kube 1.12 the default scheduler
places it, pinned by a required node affinity on ``metadata.name`` (it
replaces the template's required terms, which the controller has already
checked). It tolerates the taints kube adds to every daemon Pod
(``AddOrUpdateDaemonPodTolerations``): ``not-ready`` and ``unreachable``
(NoExecute, forever), ``disk-pressure``, ``memory-pressure``,
``pid-pressure`` and ``unschedulable`` (NoSchedule), and
``network-unavailable`` for ``hostNetwork`` Pods.

Simplifications:
- No ControllerRevisions: the ``controller-revision-hash`` label is the
  hash of the template (``compute_hash``) and there is no history to roll
  back to or clean up; ``collisionCount`` is never raised.
- RollingUpdate without ``maxSurge`` (as if it were 0, kube's default).
- A failed daemon Pod is deleted at once (kube backs off, 1 s doubling up
  to 15 min, on a Node where they keep failing).
- Pods bound to a Node that no longer exists are deleted here; in kube
  the pod garbage collector (``PodGC``, orphaned Pods) does it.
- ``minReadySeconds`` counts from the Pod's Ready transition on the
  controller's wall clock; no Events.
"""

from __future__ import annotations

import logging
from typing import Any

from kitlib.api.errors import Conflict, InvalidSelector, NotFound
from kitlib.api.meta import controller_of, deep_copy, key_of, labels, name, namespace, owner_reference, split_key
from kitlib.api.selectors import (
    DOES_NOT_EXIST,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_IN,
    Selector,
    new_requirement,
    selector_from_label_selector,
    selector_from_set,
)
from kitlib.client.indexer import NAMESPACE_INDEX
from kitlib.controllers.base import Controller, unwrap
from kitlib.controllers.controller_utils import is_pod_available, is_pod_ready, pod_from_template
from kitlib.controllers.deployment_util import compute_hash, scaled_value
from kitlib.controllers.expectations import ControllerExpectations
from kitlib.controllers.ref_manager import PodControllerRefManager, recheck_deletion_timestamp

log = logging.getLogger(__name__)

Obj = dict[str, Any]

REVISION_HASH = "controller-revision-hash"  # apps.DefaultDaemonSetUniqueLabelKey
TEMPLATE_GENERATION = "pod-template-generation"  # extensions.DaemonSetTemplateGenerationKey (deprecated, still set)
NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"


def _toleration(key: str, effect: str) -> Obj:
    return {"key": key, "operator": "Exists", "effect": effect}


# AddOrUpdateDaemonPodTolerations: a daemon Pod stays on a Node in trouble (it often *is* the remedy).
DAEMON_TOLERATIONS = [
    _toleration("node.kubernetes.io/not-ready", NO_EXECUTE),
    _toleration("node.kubernetes.io/unreachable", NO_EXECUTE),
    _toleration("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    _toleration("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    _toleration("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    _toleration("node.kubernetes.io/unschedulable", NO_SCHEDULE),
]
HOST_NETWORK_TOLERATION = _toleration("node.kubernetes.io/network-unavailable", NO_SCHEDULE)
_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST, "Gt": GREATER_THAN,
              "Lt": LESS_THAN}


def daemon_pod_tolerations(spec: Obj) -> list[Obj]:
    """The Pod's tolerations plus the daemon ones it lacks (added, never duplicated)."""
    tolerations = [dict(t) for t in spec.get("tolerations") or []]
    extra = DAEMON_TOLERATIONS + ([HOST_NETWORK_TOLERATION] if spec.get("hostNetwork") else [])
    for toleration in extra:
        if not any(t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"] for t in tolerations):
            tolerations.append(dict(toleration))
    return tolerations


def _tolerates(toleration: Obj, taint: Obj) -> bool:
    # Toleration.ToleratesTaint: empty effect or key match all; Equal compares values.
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    if (toleration.get("operator") or "Equal") == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return toleration.get("operator") == "Exists"


def _term_matches(term: Obj, node: Obj) -> bool:
    """One ``NodeSelectorTerm``: its expressions on the labels AND its fields on the name; empty: nothing."""
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    try:
        requirements = [new_requirement(e.get("key", ""), _OPERATORS[e.get("operator")], e.get("values"))
                        for e in expressions]
    except (KeyError, InvalidSelector):
        return False  # a term that does not parse selects nothing
    if requirements and not Selector(requirements=tuple(requirements)).matches(labels(node)):
        return False
    for field in fields:
        if field.get("key") != "metadata.name":
            return False
        if (name(node) in (field.get("values") or [])) != (field.get("operator") == "In"):
            return False
    return True


def node_should_run_daemon_pod(node: Obj, spec: Obj) -> tuple[bool, bool]:
    """``(should_run, should_continue_running)`` for a Pod with this spec on ``node`` (``NodeShouldRunDaemonPod``)."""
    if spec.get("nodeName") and spec["nodeName"] != name(node):
        return False, False
    if spec.get("nodeSelector") and not selector_from_set(spec["nodeSelector"]).matches(labels(node)):
        return False, False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is not None and not any(_term_matches(t, node) for t in required.get("nodeSelectorTerms") or []):
        return False, False
    tolerations = daemon_pod_tolerations(spec)
    untolerated = [t for t in (node.get("spec") or {}).get("taints") or []
                   if not any(_tolerates(tol, t) for tol in tolerations)]
    fits = not any(t.get("effect") in (NO_SCHEDULE, NO_EXECUTE) for t in untolerated)
    may_stay = not any(t.get("effect") == NO_EXECUTE for t in untolerated)
    return fits, may_stay


def pin_to_node(affinity: Obj | None, node_name: str) -> Obj:
    """``ReplaceDaemonSetPodNodeNameNodeAffinity``: required node affinity = exactly this Node's name."""
    affinity = deep_copy(affinity or {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    return affinity


def target_node(pod: Obj) -> str:
    """The Node a daemon Pod is for: its ``spec.nodeName``, else its pinning affinity (``GetTargetNodeName``)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and field.get("values"):
                return field["values"][0]
    return ""


def is_pod_updated(ds: Obj, pod: Obj, hash_: str) -> bool:
    """``util.IsPodUpdated``: the Pod carries the current template's hash or generation."""
    generation = str((ds.get("metadata") or {}).get("generation", ""))
    pod_labels = labels(pod)
    return (bool(hash_) and pod_labels.get(REVISION_HASH) == hash_) or \
        (bool(generation) and pod_labels.get(TEMPLATE_GENERATION) == generation)


def _creation(pod: Obj) -> tuple:
    return ((pod.get("metadata") or {}).get("creationTimestamp") or "", name(pod))


class DaemonSetsController(Controller):
    """kube's ``DaemonSetsController``: DaemonSets, Nodes and Pods in, Pods and DaemonSet status out."""

    name = "daemonset"
    kind = "DaemonSet"
    api_version = "apps/v1"
    workers = 2  # --concurrent-daemonset-syncs

    def __init__(self, client, **options: Any) -> None:
        super().__init__(client, **options)
        self.expectations = ControllerExpectations(self.clock)
        self.daemonsets = self.informer(("apps/v1", "DaemonSet"), primary=True)
        self.daemonsets.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                          on_delete=self.delete_ds)
        self.pods = self.informer(("v1", "Pod"))
        self.pods.add_event_handler(on_add=self.add_pod, on_update=self.update_pod, on_delete=self.delete_pod)
        # Nodes are cluster-scoped: watched everywhere whatever namespace the DaemonSets are in.
        self.nodes = self.informer(("v1", "Node"), namespace="")
        self.nodes.add_event_handler(on_add=self.enqueue_all, on_update=self.update_node,
                                     on_delete=self.enqueue_all)

    # -- events ------------------------------------------------------------------------------

    def delete_ds(self, obj: Obj) -> None:
        key = key_of(unwrap(obj))
        self.expectations.delete_expectations(key)
        self.queue.add(key)

    def enqueue_all(self, _node: Any = None) -> None:
        for ds in self.daemonsets.indexer.list():
            self.enqueue(ds)

    def update_node(self, old: Obj, new: Obj) -> None:
        # shouldIgnoreNodeUpdate: heartbeats change only timestamps; what decides placement is labels,
        # taints (spec) and the conditions' statuses.
        def placement(node: Obj) -> tuple:
            conditions = sorted((c.get("type"), c.get("status")) for c in (node.get("status") or {}).get("conditions")
                                or [])
            return labels(node), node.get("spec"), conditions
        if placement(old) != placement(new):
            self.enqueue_all()

    def add_pod(self, pod: Obj) -> None:
        # Orphans are not looked at here: a DaemonSet adopts matching ones at its next sync (kube
        # enqueues the DaemonSets that would adopt them at once).
        ds = self.resolve_controller_ref(namespace(pod), controller_of(pod))
        if ds is not None:
            self.expectations.creation_observed(key_of(ds))
            self.enqueue(ds)

    def update_pod(self, old: Obj, new: Obj) -> None:
        if old.get("metadata", {}).get("resourceVersion") == new.get("metadata", {}).get("resourceVersion"):
            return  # a resync
        if (controller_of(old) or {}).get("uid") != (controller_of(new) or {}).get("uid"):
            self.enqueue_owner(old)  # the old owner lost a Pod
        key = self.enqueue_owner(new)
        if key is not None and not is_pod_ready(old) and is_pod_ready(new):
            ds = self.daemonsets.indexer.get_by_key(key)
            min_ready = ((ds or {}).get("spec") or {}).get("minReadySeconds") or 0
            if ds is not None and min_ready:
                self.enqueue_after(ds, min_ready + 1)  # available then: count it

    def delete_pod(self, obj: Obj) -> None:
        pod = unwrap(obj)
        key = self.enqueue_owner(pod)
        if key is not None:
            self.expectations.deletion_observed(key, key_of(pod))

    # -- sync ----------------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        ns, ds_name = split_key(key)
        ds = self.daemonsets.indexer.get_by_key(key)
        if ds is None:
            self.expectations.delete_expectations(key)
            return
        try:
            selector = selector_from_label_selector((ds.get("spec") or {}).get("selector"))
        except InvalidSelector as err:
            log.error("DaemonSet %s has an invalid selector: %s", key, err)
            return
        if selector.empty:
            log.warning("DaemonSet %s selects all Pods: refusing to manage them", key)  # "SelectingAll"
            return
        if (ds.get("metadata") or {}).get("deletionTimestamp"):
            return  # being deleted: the garbage collector takes its Pods
        hash_ = compute_hash((ds.get("spec") or {}).get("template") or {},
                             (ds.get("status") or {}).get("collisionCount"))
        ds_client = self.client.resource("daemonsets", namespace=ns)
        refs = PodControllerRefManager(self.client, ds, selector, self.api_version, self.kind,
                                       recheck_deletion_timestamp(lambda: ds_client.get(ds_name), ds))

        def pods_by_node() -> dict[str, list[Obj]]:  # getNodesToDaemonPods: oldest first on each Node
            by_node: dict[str, list[Obj]] = {}
            pods = refs.claim_pods(self.pods.indexer.by_index(NAMESPACE_INDEX, ns))
            for pod in sorted(pods, key=_creation):
                if not (pod.get("metadata") or {}).get("deletionTimestamp"):
                    by_node.setdefault(target_node(pod), []).append(pod)
            return by_node

        nodes = sorted(self.nodes.indexer.list(), key=name)
        if self.expectations.satisfied_expectations(key):
            create, delete = self.manage(ds, nodes, pods_by_node())
            self.sync_nodes(ds, key, create, delete, hash_)
            if self.expectations.satisfied_expectations(key) and \
                    ((ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"):
                # A fresh listing, as kube's rollingUpdate makes: the Pods manage just created count as
                # unavailable, or a second Node would lose its Pod in the same sync.
                self.sync_nodes(ds, key, [], self.rolling_update(ds, nodes, pods_by_node(), hash_), hash_)
        self.update_status(ds, nodes, pods_by_node(), hash_)

    def manage(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]]) -> tuple[list[str], list[Obj]]:
        """The Nodes that need a daemon Pod and the Pods to delete (``manage`` and ``podsShouldBeOnNode``)."""
        spec = (ds["spec"].get("template") or {}).get("spec") or {}
        create: list[str] = []
        delete: list[Obj] = []
        for node in nodes:
            should_run, may_stay = node_should_run_daemon_pod(node, spec)
            pods = by_node.get(name(node), [])
            if should_run and not pods:
                create.append(name(node))
            elif may_stay:
                failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
                delete.extend(failed)  # its replacement comes with the next sync
                running = [p for p in pods if p not in failed]
                delete.extend(running[1:])  # more than one: keep the oldest
            else:
                delete.extend(pods)
        known = {name(n) for n in nodes}
        # Pods of Nodes gone: PodGC's gcOrphaned in kube; unbound ones are the controller's there too.
        delete.extend(p for n, ps in by_node.items() if n not in known for p in ps)
        return create, delete

    def rolling_update(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str) -> list[Obj]:
        """Old-template Pods to delete now, keeping at most ``maxUnavailable`` Nodes short (``rollingUpdate``)."""
        spec = ds["spec"]
        template_spec = (spec.get("template") or {}).get("spec") or {}
        desired = [name(n) for n in nodes if node_should_run_daemon_pod(n, template_spec)[0]]
        rolling = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = scaled_value(rolling.get("maxUnavailable", 1), len(desired), True) or 1
        min_ready, now = spec.get("minReadySeconds") or 0, self.clock.wall()
        unavailable, replace, candidates = 0, [], []
        for node_name in sorted(set(desired) | set(by_node)):
            new = [p for p in by_node.get(node_name, []) if is_pod_updated(ds, p, hash_)]
            old = [p for p in by_node.get(node_name, []) if not is_pod_updated(ds, p, hash_)]
            if len(new) > 1 or len(old) > 1:
                unavailable += 1  # findUpdatedPodsOnNode fails: manage cleans up first
            elif new and not old:
                unavailable += not is_pod_available(new[0], min_ready, now)
            elif old and not new:
                if not is_pod_available(old[0], min_ready, now):
                    replace.append(old[0])  # already down: replacing it costs nothing
                elif unavailable < max_unavailable:
                    candidates.append(old[0])
        budget = max(0, min(max_unavailable - unavailable, len(candidates)))
        return replace + candidates[:budget]

    def sync_nodes(self, ds: Obj, key: str, create: list[str], delete: list[Obj], hash_: str) -> None:
        """Create a pinned Pod for each Node in ``create``, delete ``delete`` (``syncNodes``)."""
        if not create and not delete:
            return
        # Expect before acting: the informer may report a Pod before create() even returns.
        self.expectations.expect_deletions(key, [key_of(p) for p in delete])
        self.expectations.lower_expectations(key, -len(create), 0)  # ...and the creations on top
        pods_client = self.client.pods(namespace(ds))
        template = deep_copy(ds["spec"].get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})
        template["metadata"]["labels"][TEMPLATE_GENERATION] = str(ds["metadata"].get("generation", 1))
        template["metadata"]["labels"][REVISION_HASH] = hash_
        template.setdefault("spec", {})["tolerations"] = daemon_pod_tolerations(template["spec"])
        ref = owner_reference(ds, api_version=self.api_version, kind=self.kind)
        errors: list[Exception] = []
        for node_name in create:
            pod = pod_from_template(template, ds, ref)
            pod["spec"]["affinity"] = pin_to_node(pod["spec"].get("affinity"), node_name)
            try:
                created = pods_client.create(pod)
                log.info("DaemonSet %s created Pod %s for Node %s", key, name(created), node_name)
            except Exception as err:  # noqa: BLE001 (the others still go; the first error is raised)
                self.expectations.creation_observed(key)  # never to be seen: stop waiting for it
                errors.append(err)
        for pod in delete:
            try:
                pods_client.delete(name(pod))
                log.info("DaemonSet %s deleted Pod %s (Node %r)", key, name(pod), target_node(pod))
            except NotFound:
                self.expectations.deletion_observed(key, key_of(pod))
            except Exception as err:  # noqa: BLE001
                self.expectations.deletion_observed(key, key_of(pod))
                errors.append(err)
        if errors:
            raise errors[0]

    def update_status(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str) -> None:
        """Count what runs where and write it if it changed (``updateDaemonSetStatus``)."""
        spec = ds["spec"]
        template_spec = (spec.get("template") or {}).get("spec") or {}
        min_ready, now = spec.get("minReadySeconds") or 0, self.clock.wall()
        counts = dict.fromkeys(("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled",
                                "numberReady", "numberAvailable", "updatedNumberScheduled"), 0)
        for node in nodes:
            should_run, _ = node_should_run_daemon_pod(node, template_spec)
            pods = by_node.get(name(node), [])
            if not should_run:
                counts["numberMisscheduled"] += bool(pods)
                continue
            counts["desiredNumberScheduled"] += 1
            if not pods:
                continue
            counts["currentNumberScheduled"] += 1
            oldest = pods[0]
            if is_pod_ready(oldest):
                counts["numberReady"] += 1
                counts["numberAvailable"] += is_pod_available(oldest, min_ready, now)
            counts["updatedNumberScheduled"] += is_pod_updated(ds, oldest, hash_)
        counts["numberUnavailable"] = counts["desiredNumberScheduled"] - counts["numberAvailable"]
        counts["observedGeneration"] = ds["metadata"].get("generation", 0)
        old = ds.get("status") or {}
        if all(old.get(k, 0) == v for k, v in counts.items()):
            return
        ds_client = self.client.resource("daemonsets", namespace=namespace(ds))
        fresh = deep_copy(ds)
        for attempt in range(2):  # storeDaemonSetStatus: StatusUpdateRetries = 1, with a fresh read
            fresh.setdefault("apiVersion", self.api_version)
            fresh.setdefault("kind", self.kind)
            fresh["status"] = {**(fresh.get("status") or {}), **counts}
            try:
                ds_client.update_status(fresh)
                break
            except Conflict:
                if attempt:
                    raise  # the key is retried, rate-limited
                fresh = ds_client.get(name(ds))  # our own last write, not yet in the cache
        if min_ready and counts["numberReady"] != counts["numberAvailable"]:
            self.enqueue_after(ds, min_ready)  # some will become available by then
