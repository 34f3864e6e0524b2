"""The StatefulSet controller: Pods with stable names ``<set>-0..N-1``, started and stopped in order.

kube-controller-manager's ``pkg/controller/statefulset``. For each
StatefulSet, ``sync`` (``syncStatefulSet`` and ``updateStatefulSet`` of
``defaultStatefulSetControl``):

1. sorts the Pods it controls by ordinal (the number after the last
   ``-``): those below ``spec.replicas`` are replicas, the others are
   condemned;
2. with ``podManagementPolicy: OrderedReady`` (the default) creates the
   missing replicas one at a time, lowest first, the next only once every
   lower one is Running and Ready, and deletes condemned Pods one at a
   time, highest first, only while every other Pod is healthy; with
   ``Parallel`` it creates and deletes all of them at once;
3. recreates a Pod that failed or succeeded under the same name (its
   identity is its name, not its UID);
4. rolls an update out (``updateStrategy: RollingUpdate``) from the
   highest ordinal down to ``partition``: one outdated Pod deleted at a
   time, recreated from the new template, the next when it is Ready;
5. writes ``status``: ``replicas``, ``readyReplicas``,
   ``availableReplicas``, ``currentReplicas``, ``updatedReplicas``,
   ``currentRevision``, ``updateRevision``, ``observedGeneration``.

Each Pod gets the labels ``statefulset.kubernetes.io/pod-name`` (so a
Service can pick one Pod) and ``apps.kubernetes.io/pod-index``,
``hostname`` = its name and ``subdomain`` = ``spec.serviceName``, so the
headless Service gives it the DNS name ``<pod>.<service>``.

Simplifications:
- Revisions are not ControllerRevision objects (the kit does not serve
  them): a revision is ``<set>-<hash of the Pod template>``, kept in each
  Pod's ``controller-revision-hash`` label, so no rollback to a revision
  by history and no ``revisionHistoryLimit``; ``collisionCount`` stays 0.
- No ``volumeClaimTemplates`` (no PersistentVolumeClaims are made), no
  ``minReadySeconds`` (available = ready), no ``maxUnavailable`` (one Pod
  at a time), no ``ordinals.start``.
- Pods are not adopted by labels or released: only Pods with a controller
  reference to the set count.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from kitlib.api.errors import AlreadyExists, NotFound
from kitlib.api.meta import controller_of, deep_copy, key_of, labels, name, namespace, owner_reference, uid
from kitlib.client.indexer import NAMESPACE_INDEX
from kitlib.controllers.base import Controller
from kitlib.controllers.controller_utils import is_pod_ready

log = logging.getLogger(__name__)

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"


def template_revision(sts: Obj) -> str:
    """The revision name of the set's current template (kube: the ControllerRevision's name, ``<set>-<hash>``)."""
    template = json.dumps((sts.get("spec") or {}).get("template") or {}, sort_keys=True, separators=(",", ":"))
    return f"{name(sts)}-{hashlib.sha256(template.encode()).hexdigest()[:10]}"


def ordinal(sts: Obj, pod: Obj) -> int:
    """The Pod's ordinal if it is named ``<set>-<n>``, else -1 (``getParentNameAndOrdinal``)."""
    match = re.fullmatch(re.escape(name(sts)) + r"-(\d+)", name(pod))
    return int(match.group(1)) if match else -1


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_ready(pod)


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def new_pod(sts: Obj, index: int, revision: str, controller_ref: Obj) -> Obj:
    """``newVersionedStatefulSetPod``: the template, a stable name, identity labels, hostname and subdomain."""
    spec = sts.get("spec") or {}
    template = spec.get("template") or {}
    meta = template.get("metadata") or {}
    pod_name = f"{name(sts)}-{index}"
    metadata: Obj = {"name": pod_name, "labels": {**(meta.get("labels") or {}), POD_NAME_LABEL: pod_name,
                                                  POD_INDEX_LABEL: str(index), REVISION_LABEL: revision},
                     "ownerReferences": [dict(controller_ref)]}
    if meta.get("annotations"):
        metadata["annotations"] = deep_copy(meta["annotations"])
    pod_spec = deep_copy(template.get("spec") or {})
    pod_spec["hostname"] = pod_name
    if spec.get("serviceName"):
        pod_spec["subdomain"] = spec["serviceName"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


class StatefulSetController(Controller):
    """kube's ``StatefulSetController``: StatefulSets and Pods in, Pods and StatefulSet status out."""

    name = "statefulset"
    kind = "StatefulSet"
    api_version = "apps/v1"

    def __init__(self, client, **options: Any) -> None:
        super().__init__(client, **options)
        self.sets = self.informer(("apps/v1", "StatefulSet"), primary=True)
        self.sets.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self.enqueue)
        self.pods = self.informer(("v1", "Pod"))
        self.pods.add_event_handler(on_add=self.enqueue_owner, on_update=lambda old, new: self.enqueue_owner(new),
                                    on_delete=self.enqueue_owner)

    def sync(self, key: str) -> None:
        cached = self.sets.indexer.get_by_key(key)
        if cached is None:
            return  # the garbage collector deletes its Pods
        sts = deep_copy(cached)
        pods = [p for p in self.pods.indexer.by_index(NAMESPACE_INDEX, namespace(sts))
                if (controller_of(p) or {}).get("uid") == uid(sts) and ordinal(sts, p) >= 0]
        update_revision = template_revision(sts)
        current_revision = (sts.get("status") or {}).get("currentRevision") or update_revision
        if not (sts.get("metadata") or {}).get("deletionTimestamp"):
            self.update_pods(sts, sorted(pods, key=lambda p: ordinal(sts, p)), current_revision, update_revision)
        self.update_status(sts, pods, current_revision, update_revision)

    def update_pods(self, sts: Obj, pods: list[Obj], current_revision: str, update_revision: str) -> None:
        """One step of ``updateStatefulSet``: create, recreate, delete or update Pods as the policy allows."""
        spec, key = sts.get("spec") or {}, key_of(sts)
        replicas = spec.get("replicas", 1)
        ordered = (spec.get("podManagementPolicy") or "OrderedReady") == "OrderedReady"
        pods_client = self.client.pods(namespace(sts))
        ref = owner_reference(sts, api_version=self.api_version, kind=self.kind)
        by_ordinal = {ordinal(sts, p): p for p in pods}
        condemned = sorted((p for p in pods if ordinal(sts, p) >= replicas), key=lambda p: -ordinal(sts, p))
        # New Pods get the update revision when rolling out, the current one for OnDelete (kube: the
        # current revision below the partition; the kit keeps one revision per Pod creation instead).
        for index in range(replicas):
            pod = by_ordinal.get(index)
            if pod is not None and is_finished(pod) and not is_terminating(pod):
                # A StatefulSet Pod is its name: a dead one is deleted and made again (kube's "recreate").
                log.info("StatefulSet %s: Pod %s is %s, recreating it", key, name(pod), pod["status"]["phase"])
                self._delete(pods_client, pod)
                if ordered:
                    return
                continue
            if pod is None:
                try:
                    pods_client.create(new_pod(sts, index, update_revision, ref))
                    log.info("StatefulSet %s: created Pod %s-%d", key, name(sts), index)
                except AlreadyExists:
                    pass  # a Pod of that name still terminating, or our cache is behind: look again later
                if ordered:
                    return  # OrderedReady: the next one only once this one is Running and Ready
                continue
            if ordered and (is_terminating(pod) or not is_running_and_ready(pod)):
                log.debug("StatefulSet %s: waiting for Pod %s to be Running and Ready", key, name(pod))
                return
        # Scale down: the highest ordinal first; OrderedReady only while every other Pod is healthy.
        for pod in condemned:
            if is_terminating(pod):
                if ordered:
                    return  # one at a time: wait for it to go
                continue
            if ordered and any(not is_running_and_ready(p) or is_terminating(p) for p in pods if p is not pod):
                log.debug("StatefulSet %s: waiting for the others to be healthy before deleting %s", key, name(pod))
                return
            log.info("StatefulSet %s: scaling down, deleting Pod %s", key, name(pod))
            self._delete(pods_client, pod)
            if ordered:
                return
        strategy = spec.get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return  # OnDelete: the user deletes Pods; they come back at the new revision
        partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
        replicas_pods = [by_ordinal[i] for i in range(replicas) if i in by_ordinal]
        for pod in sorted(replicas_pods, key=lambda p: -ordinal(sts, p)):
            if ordinal(sts, pod) < partition:
                break
            if labels(pod).get(REVISION_LABEL) != update_revision:
                if any(is_terminating(p) or not is_running_and_ready(p) for p in replicas_pods):
                    return  # one Pod down at a time (maxUnavailable 1)
                log.info("StatefulSet %s: rolling update, deleting Pod %s for revision %s", key, name(pod),
                         update_revision)
                self._delete(pods_client, pod)
                return

    @staticmethod
    def _delete(pods_client, pod: Obj) -> None:
        try:
            pods_client.delete(name(pod))
        except NotFound:
            pass

    def update_status(self, sts: Obj, pods: list[Obj], current_revision: str, update_revision: str) -> None:
        """``updateStatefulSetStatus``: counts by readiness and revision; the rollout completes when all are new."""
        replicas = (sts.get("spec") or {}).get("replicas", 1)
        live = [p for p in pods if not is_terminating(p)]
        ready = [p for p in live if is_running_and_ready(p)]
        updated = sum(1 for p in live if labels(p).get(REVISION_LABEL) == update_revision)
        current = sum(1 for p in live if labels(p).get(REVISION_LABEL) == current_revision)
        status = {"observedGeneration": (sts.get("metadata") or {}).get("generation", 0), "replicas": len(live),
                  "readyReplicas": len(ready), "availableReplicas": len(ready), "currentReplicas": current,
                  "updatedReplicas": updated, "currentRevision": current_revision,
                  "updateRevision": update_revision, "collisionCount": 0}
        if updated == replicas == len(ready) == len(live):
            # completeRollingUpdate: every replica is new and ready, so the new revision is now current.
            status["currentRevision"], status["currentReplicas"] = update_revision, updated
        old = sts.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        sts["status"] = {**old, **status}
        self.client.resource("apps/v1", "StatefulSet").update_status(sts)
