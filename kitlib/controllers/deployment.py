"""The Deployment controller: rolls a Pod template out through one ReplicaSet per template version.

kube-controller-manager's ``pkg/controller/deployment``. A Deployment never
makes Pods itself: it owns ReplicaSets, one per version of its Pod
template, named ``<deployment>-<pod-template-hash>``, and moves replicas
from the old ones to the new one. For each Deployment, ``sync``
(``syncDeployment``):

1. claims its ReplicaSets by selector and controller reference (adopting
   orphans, releasing strays, as the ReplicaSet controller claims Pods);
2. records ``Progressing: DeploymentPaused`` / ``DeploymentResumed``;
3. if it is paused, or only ``replicas`` changed (a scaling event, seen in
   the ``desired-replicas`` annotations), scales its ReplicaSets
   proportionally and stops there: no rollout progress (:meth:`scale`);
4. otherwise takes one step of its strategy, RollingUpdate or Recreate
   (:mod:`~kitlib.controllers.rollout`), creating the new ReplicaSet with
   the next ``revision`` (or bumping the revision of an old ReplicaSet whose
   template is back: a rollback, which ``kubectl rollout undo`` requests by
   JSON-patching ``spec.template``), prunes old empty ReplicaSets beyond
   ``revisionHistoryLimit`` once the rollout is complete, and writes
   ``status`` with the ``Available`` and ``Progressing`` conditions
   ``kubectl rollout status`` reads.

The ReplicaSet controller then makes and deletes the Pods; Pod availability
comes back through the ReplicaSets' status.

Simplifications:
- No Events; no legacy ``rollbackTo`` (``extensions/v1beta1``) rollbacks.
- A Pod deletion under a Recreate Deployment always queues it (kube first
  lists the Deployment's Pods to queue it only when none is left).
- ReplicaSets are claimed with the Pod claim manager pointed at
  ReplicaSets (its log lines say "Pod").
- Status writes refresh the working copy's ``resourceVersion``, so one sync
  may write status twice without a conflict (kube's sync gets a Conflict
  and retries the key).
- See also :mod:`~kitlib.controllers.deployment_util` (the hash) and
  :mod:`~kitlib.controllers.rollout`.
"""

from __future__ import annotations

import logging
from typing import Any

from kitlib.api.errors import AlreadyExists, InvalidSelector, NotFound
from kitlib.api.meta import controller_of, deep_copy, key_of, labels, name, namespace, owner_reference, uid
from kitlib.api.selectors import selector_from_label_selector
from kitlib.client.indexer import NAMESPACE_INDEX
from kitlib.controllers import deployment_util as du
from kitlib.controllers.base import Controller, unwrap
from kitlib.controllers.ref_manager import PodControllerRefManager, recheck_deletion_timestamp
from kitlib.controllers.rollout import RolloutMixin

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class DeploymentController(RolloutMixin, Controller):
    """kube's ``DeploymentController``: Deployments, ReplicaSets and Pods in; ReplicaSets and status out."""

    name = "deployment"
    kind = "Deployment"
    api_version = "apps/v1"
    workers = 5  # --concurrent-deployment-syncs

    def __init__(self, client, **options: Any) -> None:
        super().__init__(client, **options)
        self.deployments = self.informer(("apps/v1", "Deployment"), primary=True)
        self.deployments.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                           on_delete=self.enqueue)
        self.replicasets = self.informer(("apps/v1", "ReplicaSet"))
        self.replicasets.add_event_handler(on_add=self.add_rs, on_update=self.update_rs, on_delete=self.delete_rs)
        self.pods = self.informer(("v1", "Pod"))
        self.pods.add_event_handler(on_delete=self.delete_pod)

    # -- events ---------------------------------------------------------------------------

    def deployments_for_rs(self, rs: Obj) -> list[Obj]:
        """Deployments of the namespace whose selector matches an orphan ReplicaSet (may adopt it)."""
        found = []
        for d in self.deployments.indexer.by_index(NAMESPACE_INDEX, namespace(rs)):
            try:
                selector = selector_from_label_selector((d.get("spec") or {}).get("selector"))
            except InvalidSelector:
                continue
            if not selector.empty and selector.matches(labels(rs)):
                found.append(d)
        return found

    def add_rs(self, rs: Obj) -> None:
        if (rs.get("metadata") or {}).get("deletionTimestamp"):
            self.delete_rs(rs)  # seen for the first time being deleted (after a restart)
            return
        if controller_of(rs) is not None:
            self.enqueue_owner(rs)
            return
        for d in self.deployments_for_rs(rs):
            self.enqueue(d)

    def update_rs(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get("resourceVersion"):
            return  # a resync: the Deployment's own resync covers it
        old_ref, new_ref = controller_of(old), controller_of(new)
        ref_changed = (old_ref or {}).get("uid") != (new_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            self.enqueue_owner(old)  # the old controller lost a ReplicaSet
        if new_ref is not None:
            self.enqueue_owner(new)
        elif ref_changed or labels(old) != labels(new):
            for d in self.deployments_for_rs(new):
                self.enqueue(d)

    def delete_rs(self, obj: Obj) -> None:
        self.enqueue_owner(unwrap(obj))

    def delete_pod(self, obj: Obj) -> None:
        # Recreate waits for the old Pods to be gone before it starts the new ones: a deletion may let it go on.
        pod = unwrap(obj)
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.indexer.get_by_key(f"{namespace(pod)}/{ref.get('name', '')}")
        if rs is None or uid(rs) != ref.get("uid"):
            return
        d = self.resolve_controller_ref(namespace(rs), controller_of(rs))
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self.enqueue(d)

    # -- sync -----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        cached = self.deployments.indexer.get_by_key(key)
        if cached is None:
            log.debug("Deployment %s has been deleted", key)
            return
        d = deep_copy(cached)
        selector_spec = (d.get("spec") or {}).get("selector")
        if not selector_spec:
            # An empty selector would select every ReplicaSet of the namespace: refuse, only note the generation.
            log.warning("Deployment %s selects everything; refusing to act on it", key)
            generation = d["metadata"].get("generation", 0)
            if (d.get("status") or {}).get("observedGeneration", 0) < generation:
                d.setdefault("status", {})["observedGeneration"] = generation
                self.update_deployment_status(d)
            return
        rs_list = self.get_replica_sets_for_deployment(d, selector_spec)
        pod_map = self.get_pod_map_for_deployment(d, rs_list)
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, create=False)
            return self.sync_deployment_status(old_rss + [new_rs], new_rs, d)
        self.check_paused_conditions(d)
        if d["spec"].get("paused"):
            return self.sync_scale(d, rs_list)
        if self.is_scaling_event(d, rs_list):
            return self.sync_scale(d, rs_list)
        if ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "Recreate":
            return self.rollout_recreate(d, rs_list, pod_map)
        return self.rollout_rolling(d, rs_list)

    def get_replica_sets_for_deployment(self, d: Obj, selector_spec: Obj) -> list[Obj]:
        """The ReplicaSets this Deployment owns once orphans are adopted and strays released."""
        selector = selector_from_label_selector(selector_spec)
        ns, d_name = namespace(d), name(d)
        refs = PodControllerRefManager(
            self.client, d, selector, self.api_version, self.kind,
            recheck_deletion_timestamp(lambda: self.client.deployments(ns).get(d_name), d))
        refs.pods = self.client.replicasets(ns)  # the same claim rules, patches sent to ReplicaSets
        return refs.claim_pods(self.replicasets.indexer.by_index(NAMESPACE_INDEX, ns))

    def get_pod_map_for_deployment(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """The Deployment's Pods by the UID of their ReplicaSet (``getPodMapForDeployment``)."""
        selector = selector_from_label_selector(d["spec"]["selector"])
        pod_map: dict[str, list[Obj]] = {uid(rs): [] for rs in rs_list}
        for pod in self.pods.indexer.by_index(NAMESPACE_INDEX, namespace(d)):
            ref = controller_of(pod)
            if ref is not None and ref.get("uid") in pod_map and selector.matches(labels(pod)):
                pod_map[ref["uid"]].append(pod)
        return pod_map

    def check_paused_conditions(self, d: Obj) -> None:
        """Say in ``Progressing`` that the Deployment was paused or resumed (``checkPausedConditions``)."""
        if not du.has_progress_deadline(d):
            return
        current = du.get_condition(d.get("status") or {}, du.PROGRESSING)
        if current is not None and current.get("reason") == du.TIMED_OUT_REASON:
            return  # a timed-out rollout stays timed out
        paused_noted = current is not None and current.get("reason") == du.PAUSED_REASON
        now = self.clock.wall()
        if d["spec"].get("paused") and not paused_noted:
            condition = du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED_REASON, "Deployment is paused", now)
        elif not d["spec"].get("paused") and paused_noted:
            condition = du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED_REASON, "Deployment is resumed", now)
        else:
            return
        status = d.setdefault("status", {})
        du.set_condition(status, condition)
        self.update_deployment_status(d)

    def is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        """Only ``replicas`` changed: an active ReplicaSet was sized for another count (``isScalingEvent``)."""
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, create=False)
        for rs in du.active(old_rss + [new_rs]):
            desired = du.annotations(rs).get(du.DESIRED_REPLICAS)
            if desired is not None and desired != str(du.replicas(d)):
                return True
        return False

    def sync_scale(self, d: Obj, rs_list: list[Obj]) -> None:
        """Scale without rolling out, for paused Deployments and scaling events (kube's ``sync``)."""
        new_rs, old_rss = self.get_all_replica_sets_and_sync_revision(d, rs_list, create=False)
        self.scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            self.cleanup_deployment(old_rss, d)
        self.sync_deployment_status(old_rss + [new_rs], new_rs, d)

    def sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        new_status = self.calculate_status(all_rss, new_rs, d)
        if (d.get("status") or {}) != new_status:
            d["status"] = new_status
            self.update_deployment_status(d)

    def update_deployment_status(self, d: Obj) -> Obj:
        """Write ``d["status"]``; ``d`` takes the new ``resourceVersion`` so a second write does not conflict."""
        updated = self.client.deployments(namespace(d)).update_status(d)
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        return updated

    # -- ReplicaSets: new, old, scaled --------------------------------------------------------

    def get_all_replica_sets_and_sync_revision(self, d: Obj, rs_list: list[Obj], *,
                                               create: bool) -> tuple[Obj | None, list[Obj]]:
        """The new ReplicaSet (made if ``create``) with its revision brought up to date, and the old ones."""
        old_rss = du.find_old_replica_sets(d, rs_list)
        return self.get_new_replica_set(d, rs_list, old_rss, create), old_rss

    def get_new_replica_set(self, d: Obj, rs_list: list[Obj], old_rss: list[Obj], create: bool) -> Obj | None:
        """The ReplicaSet of the current template, made or updated (``getNewReplicaSet``)."""
        existing = du.find_new_replica_set(d, rs_list)
        new_revision = str(du.max_revision(old_rss) + 1)
        ns = namespace(d)
        min_ready = d["spec"].get("minReadySeconds") or 0
        if existing is not None:
            rs = deep_copy(existing)
            changed = du.set_new_replica_set_annotations(d, rs, new_revision, exists=True)
            if changed or (rs["spec"].get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                return self.client.replicasets(ns).update(rs)
            needs_update = self._set_deployment_revision(d, du.annotations(rs).get(du.REVISION, ""))
            if du.has_progress_deadline(d) and du.get_condition(d.get("status") or {}, du.PROGRESSING) is None:
                du.set_condition(d.setdefault("status", {}), du.new_condition(
                    du.PROGRESSING, "True", du.FOUND_NEW_RS_REASON, f'Found new replica set "{name(rs)}"',
                    self.clock.wall()))
                needs_update = True
            if needs_update:
                self.update_deployment_status(d)
            return rs
        if not create:
            return None
        collision_count = (d.get("status") or {}).get("collisionCount")
        template = deep_copy(d["spec"]["template"])
        pod_hash = du.compute_hash(template, collision_count)
        template.setdefault("metadata", {})["labels"] = {**labels(template), du.UNIQUE_LABEL: pod_hash}
        selector = deep_copy(d["spec"]["selector"])
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.UNIQUE_LABEL: pod_hash}
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{name(d)}-{pod_hash}", "namespace": ns, "labels": dict(labels(template)),
                           "ownerReferences": [owner_reference(d, api_version=self.api_version, kind=self.kind)]},
              "spec": {"replicas": 0, "minReadySeconds": min_ready, "selector": selector, "template": template}}
        rs["spec"]["replicas"] = self.new_rs_new_replicas(d, old_rss + [rs], rs)
        du.set_new_replica_set_annotations(d, rs, new_revision, exists=False)
        already_exists = False
        try:
            created = self.client.replicasets(ns).create(rs)
        except AlreadyExists:
            found = self.replicasets.indexer.get_by_key(f"{ns}/{name(rs)}")
            if found is None:
                raise  # not in our cache yet (most likely our own create of a moment ago): retry once it is
            ref = controller_of(found)
            if (ref is not None and ref.get("uid") == uid(d)
                    and du.equal_ignore_hash(d["spec"]["template"], found["spec"].get("template"))):
                created, already_exists = found, True  # ours: our own earlier create, not seen yet
            else:
                # Another template hashed to the same name: hash again with a bumped collisionCount.
                d.setdefault("status", {})["collisionCount"] = (collision_count or 0) + 1
                self.update_deployment_status(d)
                log.info("Deployment %s: hash collision on %s, collisionCount now %d", key_of(d), name(rs),
                         d["status"]["collisionCount"])
                raise
        except Exception as err:
            if du.has_progress_deadline(d):
                du.set_condition(d.setdefault("status", {}), du.new_condition(
                    du.PROGRESSING, "False", du.FAILED_RS_CREATE_REASON,
                    f'Failed to create new replica set "{name(rs)}": {err}', self.clock.wall()))
                try:
                    self.update_deployment_status(d)
                except Exception:  # noqa: BLE001 (the create error is the one worth retrying on)
                    pass
            raise
        if not already_exists:
            log.info("Deployment %s: created ReplicaSet %s with %d replicas", key_of(d), name(created),
                     du.replicas(created))
        needs_update = self._set_deployment_revision(d, new_revision)
        if not already_exists and du.has_progress_deadline(d):
            du.set_condition(d.setdefault("status", {}), du.new_condition(
                du.PROGRESSING, "True", du.NEW_RS_REASON, f'Created new replica set "{name(created)}"',
                self.clock.wall()))
            needs_update = True
        if needs_update:
            self.update_deployment_status(d)
        return created

    def _set_deployment_revision(self, d: Obj, revision: str) -> bool:
        """The Deployment's ``revision`` annotation follows its new ReplicaSet's (``SetDeploymentRevision``).

        It is metadata, not status: kube writes it with the status update
        (which keeps metadata changes); here it is patched separately.
        """
        if du.annotations(d).get(du.REVISION) == revision:
            return False
        patched = self.client.deployments(namespace(d)).patch(
            name(d), {"metadata": {"annotations": {du.REVISION: revision}}}, "merge")
        d["metadata"].setdefault("annotations", {})[du.REVISION] = revision
        d["metadata"]["resourceVersion"] = patched["metadata"]["resourceVersion"]
        return False

    def scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        """Bring the ReplicaSets' total to ``replicas`` (+ surge), proportionally during a rollout (``scale``)."""
        want = du.replicas(d)
        single = du.find_active_or_latest(new_rs, old_rss)
        if single is not None:
            # One active ReplicaSet (or none: then the newest) simply gets every replica.
            if du.replicas(single) != want:
                self.scale_replica_set_and_record_event(single, want, d)
            return
        if du.is_saturated(d, new_rs):
            for rs in du.active(old_rss):
                self.scale_replica_set_and_record_event(rs, 0, d)
            return
        if ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") != "RollingUpdate":
            return
        all_active = du.active(old_rss + [new_rs])
        allowed = want + du.max_surge(d) if want > 0 else 0
        to_add = allowed - du.spec_replicas(all_active)
        # Bigger ReplicaSets take more; on a tie, scale up the newer first and scale down the older first.
        ordered = du.by_size(all_active, newer_first=to_add > 0)
        added, sizes = 0, {}
        for rs in ordered:
            share = du.get_proportion(rs, d, to_add, added) if to_add else 0
            sizes[name(rs)] = du.replicas(rs) + share
            added += share
        for i, rs in enumerate(ordered):
            if i == 0 and to_add:
                sizes[name(rs)] = max(0, sizes[name(rs)] + to_add - added)  # leftovers to the largest
            self.scale_replica_set(rs, sizes[name(rs)], d)

    def scale_replica_set_and_record_event(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if du.replicas(rs) == new_scale:
            return False, rs
        return self.scale_replica_set(rs, new_scale, d)

    def scale_replica_set(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        """Set a ReplicaSet's replicas and the size annotations in one update; (scaled, the ReplicaSet)."""
        want, max_total = du.replicas(d), du.replicas(d) + du.max_surge(d)
        size_changed = du.replicas(rs) != new_scale
        if not size_changed and not du.replicas_annotations_need_update(rs, want, max_total):
            return False, rs
        old_scale = du.replicas(rs)
        rs = deep_copy(rs)
        rs["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(rs, want, max_total)
        rs = self.client.replicasets(namespace(rs)).update(rs)
        if size_changed:
            log.info("Deployment %s: scaled %s replica set %s from %d to %d", key_of(d),
                     "up" if new_scale > old_scale else "down", name(rs), old_scale, new_scale)
        return size_changed, rs

    def cleanup_deployment(self, old_rss: list[Obj], d: Obj) -> None:
        """Delete the oldest empty ReplicaSets beyond ``revisionHistoryLimit`` (``cleanupDeployment``)."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not (rs.get("metadata") or {}).get("deletionTimestamp")]
        diff = len(alive) - limit
        if diff <= 0:
            return
        for rs in sorted(alive, key=lambda r: (du.revision(r), du.creation_key(r)))[:diff]:
            # Only ReplicaSets that are empty and whose controller has seen that they should be.
            if (du.status_count(rs, "replicas") or du.replicas(rs)
                    or rs["metadata"].get("generation", 0) > du.status_count(rs, "observedGeneration")):
                continue
            log.info("Deployment %s: deleting old ReplicaSet %s (revision %d)", key_of(d), name(rs), du.revision(rs))
            try:
                self.client.replicasets(namespace(rs)).delete(name(rs))
            except NotFound:
                pass
