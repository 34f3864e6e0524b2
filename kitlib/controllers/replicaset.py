"""The ReplicaSet controller: keeps ``spec.replicas`` Pods matching a selector alive.

kube-controller-manager's ``pkg/controller/replicaset``. For each
ReplicaSet, ``sync`` (``syncReplicaSet``):

1. lists the active Pods of its namespace from the cache and claims them
   (:mod:`~kitlib.controllers.ref_manager`): adopts orphans its selector
   matches, releases its Pods whose labels no longer match;
2. if its expectations are satisfied (:mod:`~kitlib.controllers.expectations`),
   creates the missing Pods from ``spec.template`` (``generateName:
   <name>-``, a controller reference that blocks the owner's deletion), in
   slow-start batches of 1, 2, 4..., or deletes the surplus, the cheapest
   Pods first (:func:`~kitlib.controllers.controller_utils.pods_to_delete_first`);
   how many to create and which to delete is the slot :data:`manage_replicas`
   (the exercise ``replicaset-sync``), the rest is plumbing;
3. writes ``status`` through the ``/status`` subresource: ``replicas``,
   ``fullyLabeledReplicas``, ``readyReplicas``, ``availableReplicas``
   (ready for ``minReadySeconds``), ``observedGeneration``, and a
   ``ReplicaFailure`` condition while creating or deleting fails.

Its Pod event handlers turn a Pod's change into its owner's key (or, for an
orphan, the keys of every ReplicaSet that would adopt it) and count the
creations and deletions its expectations wait for.

Simplifications:
- At most ``burst_replicas`` (kube: 500) creations or deletions per sync;
  deletions are sent one after the other (kube: one goroutine each).
- No ``terminatingReplicas`` status field, no Events, no
  ``NamespaceTerminating`` special case when a create fails.
- It also serves as the controller for ReplicationControllers in kube; not here.
"""

from __future__ import annotations

import logging
from typing import Any

from kitlib.api.errors import InvalidSelector, NotFound
from kitlib.api.meta import (
    controller_of,
    deep_copy,
    key_of,
    labels,
    namespace,
    owner_reference,
    rfc3339,
    split_key,
    uid,
)
from kitlib.api.selectors import selector_from_label_selector, selector_from_set
from kitlib.client.indexer import NAMESPACE_INDEX
from kitlib.controllers.base import Controller, unwrap
from kitlib.controllers.controller_utils import (
    SLOW_START_INITIAL_BATCH_SIZE,
    filter_active_pods,
    is_pod_available,
    is_pod_ready,
    pod_from_template,
    pods_to_delete_first,
    slow_start_batch,
)
from kitlib.controllers.expectations import ControllerExpectations
from kitlib.controllers.ref_manager import PodControllerRefManager, recheck_deletion_timestamp
from kitlib.slots import Slot

log = logging.getLogger(__name__)

Obj = dict[str, Any]

BURST_REPLICAS = 500  # kube's BurstReplicas: creations or deletions per sync
STATUS_UPDATE_RETRIES = 1  # statusUpdateRetries: one fresh read and retry after a conflict
CONTROLLER_UID_INDEX = "controllerUID"


def reference_manage_replicas(replicaset: Obj, pods: list[Obj], burst_replicas: int, related_pods: list[Obj],
                              now: float | None) -> tuple[int, list[Obj]]:
    """(how many Pods to create, which Pods to delete) so that ``pods`` becomes ``spec.replicas``.

    The decision of kube's ``manageReplicas``: the difference between the
    active, owned ``pods`` and ``spec.replicas``, at most ``burst_replicas``
    either way (the rest waits for the next sync, so a broken template fails
    a few hundred times, not ten thousand); a scale-down picks the Pods that
    cost least to lose (``getPodsToDelete``, ranked by
    :func:`~kitlib.controllers.controller_utils.delete_before`, which uses
    ``related_pods`` to spread survivors over nodes and the wall time ``now``
    to compare ages). Never both: one of the two is 0 or empty.
    """
    diff = len(pods) - ((replicaset.get("spec") or {}).get("replicas", 1))
    if diff < 0:
        return min(-diff, burst_replicas), []
    if diff > 0:
        return 0, pods_to_delete_first(pods, related_pods, min(diff, burst_replicas), now)
    return 0, []


manage_replicas = Slot(
    "controllers.replicaset.manage_replicas",
    reference_manage_replicas,
    doc="(replicaset, pods, burst_replicas, related_pods, now) -> (create: int, delete: list of Pods).",
)


def controller_uid_index(obj: Obj) -> list[str]:
    """Index ReplicaSets by the UID of their controller (a Deployment): finds a Deployment's ReplicaSets."""
    ref = controller_of(obj)
    return [ref["uid"]] if ref and ref.get("uid") else []


class ReplicaSetController(Controller):
    """kube's ``ReplicaSetController``: ReplicaSets and Pods in, Pods and ReplicaSet status out."""

    name = "replicaset"
    kind = "ReplicaSet"
    api_version = "apps/v1"
    workers = 5  # --concurrent-replicaset-syncs

    def __init__(self, client, *, burst_replicas: int = BURST_REPLICAS, **options: Any) -> None:
        super().__init__(client, **options)
        self.burst_replicas = burst_replicas
        self.expectations = ControllerExpectations(self.clock)
        self.replicasets = self.informer(("apps/v1", "ReplicaSet"), primary=True,
                                         indexers={CONTROLLER_UID_INDEX: controller_uid_index})
        self.replicasets.add_event_handler(on_add=self.add_rs, on_update=self.update_rs, on_delete=self.delete_rs)
        self.pods = self.informer(("v1", "Pod"))
        self.pods.add_event_handler(on_add=self.add_pod, on_update=self.update_pod, on_delete=self.delete_pod)

    # -- ReplicaSet events -------------------------------------------------------------

    def add_rs(self, rs: Obj) -> None:
        log.debug("adding ReplicaSet %s", key_of(rs))
        self.enqueue(rs)

    def update_rs(self, old: Obj, new: Obj) -> None:
        if uid(old) != uid(new):
            # Deleted and created again under the same name while we were not watching.
            self.delete_rs(old)
        old_replicas, new_replicas = (o.get("spec", {}).get("replicas", 1) for o in (old, new))
        if old_replicas != new_replicas:
            log.info("ReplicaSet %s updated: desired replicas %s -> %s", key_of(new), old_replicas, new_replicas)
        self.enqueue(new)  # every update, resyncs included: a resync is a periodic full sync

    def delete_rs(self, obj: Obj) -> None:
        key = key_of(unwrap(obj))
        log.debug("deleting ReplicaSet %s", key)
        self.expectations.delete_expectations(key)
        self.queue.add(key)

    # -- Pod events ---------------------------------------------------------------------

    def pod_replicasets(self, pod: Obj) -> list[Obj]:
        """The ReplicaSets of the Pod's namespace whose selector matches it (``GetPodReplicaSets``)."""
        found = []
        for rs in self.replicasets.indexer.by_index(NAMESPACE_INDEX, namespace(pod)):
            try:
                selector = selector_from_label_selector((rs.get("spec") or {}).get("selector"))
            except InvalidSelector:
                continue
            if not selector.empty and selector.matches(labels(pod)):
                found.append(rs)
        if len(found) > 1:
            # The user's error: overlapping selectors. Controller references decide who owns what.
            log.info("Pod %s is matched by more than one ReplicaSet: %s", key_of(pod), [key_of(r) for r in found])
        return found

    def add_pod(self, pod: Obj) -> None:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            self.delete_pod(pod)  # seen for the first time already being deleted (after a restart)
            return
        ref = controller_of(pod)
        if ref is not None:
            rs = self.resolve_controller_ref(namespace(pod), ref)
            if rs is None:
                return
            self.expectations.creation_observed(key_of(rs))
            self.enqueue(rs)
            return
        # An orphan: whoever matches it may adopt it.
        for rs in self.pod_replicasets(pod):
            self.enqueue(rs)

    def update_pod(self, old: Obj, new: Obj) -> None:
        if old.get("metadata", {}).get("resourceVersion") == new.get("metadata", {}).get("resourceVersion"):
            return  # a resync: two versions of one Pod always differ in resourceVersion
        label_changed = labels(old) != labels(new)
        if (new.get("metadata") or {}).get("deletionTimestamp"):
            # Graceful deletion: count it now, not when the kubelet has finished, so a replacement starts at once.
            self.delete_pod(new)
            if label_changed:
                self.delete_pod(old)  # the old labels' ReplicaSet may need to know too
            return
        old_ref, new_ref = controller_of(old), controller_of(new)
        ref_changed = (old_ref or {}).get("uid") != (new_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            rs = self.resolve_controller_ref(namespace(old), old_ref)
            if rs is not None:
                self.enqueue(rs)  # the old owner lost a Pod
        if new_ref is not None:
            rs = self.resolve_controller_ref(namespace(new), new_ref)
            if rs is None:
                return
            self.enqueue(rs)
            min_ready = (rs.get("spec") or {}).get("minReadySeconds") or 0
            if not is_pod_ready(old) and is_pod_ready(new) and min_ready > 0:
                # Ready now, available in minReadySeconds: look again then (plus a second for rounding).
                self.enqueue_after(rs, min_ready + 1)
            return
        if label_changed or ref_changed:
            for rs in self.pod_replicasets(new):
                self.enqueue(rs)

    def delete_pod(self, obj: Obj) -> None:
        pod = unwrap(obj)
        rs = self.resolve_controller_ref(namespace(pod), controller_of(pod))
        if rs is None:
            return
        self.expectations.deletion_observed(key_of(rs), key_of(pod))
        self.enqueue(rs)

    # -- sync -----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        ns, rs_name = split_key(key)
        rs = self.replicasets.indexer.get_by_key(key)
        if rs is None:
            log.debug("ReplicaSet %s has been deleted", key)
            self.expectations.delete_expectations(key)
            return
        needs_sync = self.expectations.satisfied_expectations(key)
        try:
            selector = selector_from_label_selector((rs.get("spec") or {}).get("selector"))
        except InvalidSelector as err:
            log.error("ReplicaSet %s has an invalid selector: %s", key, err)
            return  # retrying will not fix it; an update of the ReplicaSet will
        pods = filter_active_pods(self.pods.indexer.by_index(NAMESPACE_INDEX, ns))
        rs_client = self.client.replicasets(ns)
        refs = PodControllerRefManager(
            self.client, rs, selector, self.api_version, self.kind,
            recheck_deletion_timestamp(lambda: rs_client.get(rs_name), rs))
        pods = refs.claim_pods(pods)  # NOTE: cached objects; copy before changing any

        manage_error: Exception | None = None
        if needs_sync and not (rs.get("metadata") or {}).get("deletionTimestamp"):
            try:
                self.manage_replicas(pods, rs)
            except Exception as err:  # noqa: BLE001 (reported in status first, then raised for a retry)
                manage_error = err
        rs = deep_copy(rs)
        new_status = self.calculate_status(rs, pods, manage_error)
        updated = self.update_status(rs, new_status)
        replicas = (updated.get("spec") or {}).get("replicas", 1)
        min_ready = (updated.get("spec") or {}).get("minReadySeconds") or 0
        status = updated.get("status") or {}
        if (manage_error is None and min_ready > 0 and status.get("readyReplicas", 0) == replicas
                and status.get("availableReplicas", 0) != replicas):
            self.enqueue_after(key, min_ready)  # all ready, some not yet available: look again when they are
        if manage_error is not None:
            raise manage_error

    def manage_replicas(self, pods: list[Obj], rs: Obj) -> None:
        """Create or delete Pods so that ``len(pods)`` becomes ``spec.replicas`` (``manageReplicas``)."""
        key = key_of(rs)
        # The decision is the slot's; expectations, batches, ownership and errors are this method's.
        surplus = len(pods) > (rs.get("spec") or {}).get("replicas", 1)
        wanted, doomed = manage_replicas(rs, list(pods), self.burst_replicas,
                                         self.related_pods(rs) if surplus else [], self.clock.wall())
        if wanted > 0:
            # Expect before creating: the informer may report the Pods before create() even returns.
            self.expectations.expect_creations(key, wanted)
            log.info("ReplicaSet %s: too few replicas, need %d, creating %d", key, rs["spec"].get("replicas", 1),
                     wanted)
            template = rs["spec"].get("template") or {}
            ref = owner_reference(rs, api_version=self.api_version, kind=self.kind)
            pods_client = self.client.pods(namespace(rs))

            def create() -> None:
                pod = pods_client.create(pod_from_template(template, rs, ref))
                log.info("ReplicaSet %s created Pod %s", key, key_of(pod))

            created, error = slow_start_batch(wanted, SLOW_START_INITIAL_BATCH_SIZE, create)
            # Pods never created will never be observed: stop waiting for them.
            for _ in range(wanted - created):
                self.expectations.creation_observed(key)
            if error is not None:
                raise error
        elif doomed:
            log.info("ReplicaSet %s: too many replicas, need %d, deleting %d", key, rs["spec"].get("replicas", 1),
                     len(doomed))
            # Expect by key: a deletion may be observed twice (deletionTimestamp, then gone).
            self.expectations.expect_deletions(key, [key_of(pod) for pod in doomed])
            errors = []
            pods_client = self.client.pods(namespace(rs))
            for pod in doomed:
                try:
                    pods_client.delete(pod["metadata"]["name"])
                    log.info("ReplicaSet %s deleted Pod %s", key, key_of(pod))
                except NotFound:
                    self.expectations.deletion_observed(key, key_of(pod))  # already gone: counted
                except Exception as err:  # noqa: BLE001 (the others still go; the first error is raised)
                    self.expectations.deletion_observed(key, key_of(pod))  # will never be seen: stop waiting
                    errors.append(err)
            if errors:
                raise errors[0]

    def related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet with the same controller as ``rs`` (``getIndirectlyRelatedPods``)."""
        ref = controller_of(rs)
        if ref is None:
            return []
        seen: set[str] = set()
        related: list[Obj] = []
        for sibling in self.replicasets.indexer.by_index(CONTROLLER_UID_INDEX, ref.get("uid", "")):
            try:
                selector = selector_from_label_selector((sibling.get("spec") or {}).get("selector"))
            except InvalidSelector:
                continue
            for pod in self.pods.indexer.by_index(NAMESPACE_INDEX, namespace(sibling)):
                if selector.matches(labels(pod)) and uid(pod) not in seen:
                    seen.add(uid(pod))
                    related.append(pod)
        return related

    # -- status ---------------------------------------------------------------------------

    def calculate_status(self, rs: Obj, pods: list[Obj], manage_error: Exception | None) -> Obj:
        """The status these Pods give ``rs`` (``calculateStatus``)."""
        spec = rs.get("spec") or {}
        status = deep_copy(rs.get("status") or {})
        template_labels = selector_from_set(((spec.get("template") or {}).get("metadata") or {}).get("labels"))
        min_ready, now = spec.get("minReadySeconds") or 0, self.clock.wall()
        ready = [pod for pod in pods if is_pod_ready(pod)]
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        failure = next((c for c in status.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
        if manage_error is not None and failure is None:
            diff = len(pods) - spec.get("replicas", 1)
            reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
            conditions.append({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": rfc3339(now),
                               "reason": reason, "message": str(manage_error)})
        elif manage_error is not None:
            conditions.append(failure)  # already failing: keep the condition (and when it began)
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        status.update({
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(1 for pod in pods if template_labels.matches(labels(pod))),
            "readyReplicas": len(ready),
            "availableReplicas": sum(1 for pod in ready if is_pod_available(pod, min_ready, now)),
        })
        return status

    def update_status(self, rs: Obj, new_status: Obj) -> Obj:
        """Write ``new_status`` unless nothing changed (``updateReplicaSetStatus``); the ReplicaSet as stored."""
        old = rs.get("status") or {}
        generation = (rs.get("metadata") or {}).get("generation", 0)
        counts = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
        if (all(old.get(f, 0) == new_status.get(f, 0) for f in counts)
                and old.get("observedGeneration", 0) == generation
                and (old.get("conditions") or []) == (new_status.get("conditions") or [])):
            return rs  # the steady state: nothing to write
        # Record the generation we acted on, or a retry could claim to have seen a newer spec.
        new_status["observedGeneration"] = generation
        rs_client = self.client.replicasets(namespace(rs))
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            rs["status"] = new_status
            try:
                return rs_client.update_status(rs)
            except Exception:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise  # the key is retried, rate-limited
                log.debug("ReplicaSet %s: status update failed, reading it again", key_of(rs))
                rs = rs_client.get(rs["metadata"]["name"])  # the newest resourceVersion for the next try
        raise AssertionError("unreachable")
