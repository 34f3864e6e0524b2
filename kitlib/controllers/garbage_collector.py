"""The garbage collector: deletes objects whose owners are gone, and carries out foreground and orphan deletion.

kube-controller-manager's ``pkg/controller/garbagecollector``. Objects
name their owners in ``metadata.ownerReferences`` (by kind, name *and*
UID); the collector keeps the reverse edges (an index of every watched
object by its owners' UIDs: kube's ``GraphBuilder`` graph, read from the
informers' caches) and works two kinds of items off one queue:

- **attemptToDelete** (``attemptToDeleteItem``) an object with owners:
  each owner is *solid* (it exists, with that UID), *dangling* (gone, or
  another object under the same name: a different UID), or *waiting*
  (being deleted in the foreground). With a solid owner the object stays
  (references to dangling or waiting owners are removed from it); with
  none it is deleted: in the foreground if a waiting owner needs it gone
  and it has dependents of its own, else with the policy its own
  finalizers ask for, else in the background. Before deleting, the
  object and its owners are read again from the API server, as kube
  does: a cache may lag, an object must not be deleted because of that.
- For an owner being deleted with the ``foregroundDeletion`` finalizer
  (``processDeletingDependentsItem``): its dependents are deleted; once
  no dependent that sets ``blockOwnerDeletion`` is left, the finalizer
  is removed and the API server removes the owner.
- **attemptToOrphan** an owner with the ``orphan`` finalizer: the
  references to it are removed from its dependents, then the finalizer.

Background deletion needs nothing more: the owner is gone at once, and
its dependents' owners are now dangling.

Simplifications:
- A fixed list of watched resources (:data:`WATCHED`; kube discovers every
  deletable resource); owners of other kinds are read through the API.
- No ``absentOwnerCache``: a dangling owner is confirmed by a GET each time.
- No cycle detection among foreground deletions, no unblocking of owner
  references, no cluster-scoped dependents of namespaced owners (kube
  reports those as invalid), no Events or metrics.
- References are removed by a read and a replace (kube sends a strategic
  merge patch deleting them by UID); a conflict is retried by the queue.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kitlib.api.errors import Conflict, NotFound
from kitlib.api.meta import deep_copy, name, namespace, owner_references, uid
from kitlib.controllers.base import Controller, unwrap

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
OWNER_UID_INDEX = "ownerUID"
# What the collector watches (kube: every resource discovery lists with the delete verb).
WATCHED = (
    ("v1", "Pod"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
    ("apps/v1", "ReplicaSet"), ("apps/v1", "Deployment"), ("apps/v1", "DaemonSet"), ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"),
)
SOLID, DANGLING, WAITING = "solid", "dangling", "waiting"
UPDATE_RETRIES = 3


def owner_uid_index(obj: Obj) -> list[str]:
    """File an object under the UIDs of its owners: the graph's edges, read backwards."""
    return [ref["uid"] for ref in owner_references(obj) if ref.get("uid")]


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]  # "apps" of "apps/v1", "" of "v1": versions of one group are one kind


def finalizers(obj: Obj) -> list[str]:
    return (obj.get("metadata") or {}).get("finalizers") or []


def deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def item_key(action: str, api_version: str, kind: str, ns: str, obj_name: str) -> str:
    return "|".join((action, api_version, kind, ns, obj_name))


class GarbageCollector(Controller):
    """Owner references in, deletions and removed references or finalizers out."""

    name = "garbagecollector"
    workers = 4  # --concurrent-gc-syncs is 20

    def __init__(self, client, *, resources: tuple[tuple[str, str], ...] = WATCHED, **options: Any) -> None:
        super().__init__(client, **options)
        self.by_kind: dict[tuple[str, str], tuple[str, Any]] = {}  # (group, kind) -> (apiVersion, informer)
        for api_version, kind in resources:
            informer = self.informer((api_version, kind), indexers={OWNER_UID_INDEX: owner_uid_index})
            self.by_kind[(group_of(api_version), kind)] = (api_version, informer)
            informer.add_event_handler(
                on_add=lambda obj, av=api_version, k=kind: self.added(av, k, obj),
                on_update=lambda old, new, av=api_version, k=kind: self.updated(av, k, old, new),
                on_delete=lambda obj, av=api_version, k=kind: self.deleted(av, k, unwrap(obj)))

    # -- the graph builder: events become items ------------------------------------------------------

    def queue_item(self, action: str, api_version: str, kind: str, obj: Obj) -> None:
        self.queue.add(item_key(action, api_version, kind, namespace(obj), name(obj)))

    def queue_owners(self, obj: Obj, refs: list[Obj] | None = None) -> None:
        """An owner waiting in the foreground may be free once a dependent goes or lets go of it."""
        for ref in owner_references(obj) if refs is None else refs:
            if (group_of(ref.get("apiVersion", "")), ref.get("kind")) in self.by_kind:
                self.queue.add(item_key("delete", ref["apiVersion"], ref["kind"], namespace(obj), ref["name"]))

    def queue_dependents(self, owner: Obj) -> None:
        for api_version, kind, dependent in self.dependents(uid(owner)):
            self.queue_item("delete", api_version, kind, dependent)

    def added(self, api_version: str, kind: str, obj: Obj) -> None:
        self.transitions(api_version, kind, obj)
        if owner_references(obj):
            self.queue_item("delete", api_version, kind, obj)  # its owners may be gone already

    def updated(self, api_version: str, kind: str, old: Obj, new: Obj) -> None:
        self.transitions(api_version, kind, new)
        old_refs, new_refs = owner_references(old), owner_references(new)
        if old_refs != new_refs:
            self.queue_item("delete", api_version, kind, new)
            self.queue_owners(old, [r for r in old_refs if r not in new_refs])
        if deleting(new) and not deleting(old):
            self.queue_owners(new)

    def deleted(self, api_version: str, kind: str, obj: Obj) -> None:
        self.queue_dependents(obj)  # background deletion: their owner is now dangling
        self.queue_owners(obj)  # a foreground owner may have been waiting for this one

    def transitions(self, api_version: str, kind: str, obj: Obj) -> None:
        # processTransitions: the finalizers the API server added for Foreground and Orphan deletion.
        if deleting(obj) and FOREGROUND in finalizers(obj):
            self.queue_item("delete", api_version, kind, obj)
        if deleting(obj) and ORPHAN in finalizers(obj):
            self.queue_item("orphan", api_version, kind, obj)

    # -- reading the graph ---------------------------------------------------------------------------

    def dependents(self, owner_uid: str) -> list[tuple[str, str, Obj]]:
        """Every cached object naming ``owner_uid`` among its owners, with its apiVersion and kind."""
        return [(api_version, kind, obj) for (_, kind), (api_version, informer) in sorted(self.by_kind.items())
                for obj in informer.indexer.by_index(OWNER_UID_INDEX, owner_uid)]

    def cached(self, api_version: str, kind: str, ns: str, obj_name: str) -> Obj | None:
        watched = self.by_kind.get((group_of(api_version), kind))
        if watched is None:
            return None
        return watched[1].indexer.get_by_key(f"{ns}/{obj_name}" if ns else obj_name)

    def live(self, api_version: str, kind: str, ns: str, obj_name: str) -> Obj | None:
        """The object as stored now, or None if it does not exist."""
        try:
            return self.client.resource(api_version, kind).get(obj_name, namespace=ns)
        except NotFound:
            return None

    def classify(self, obj: Obj, fresh: bool) -> dict[str, list[Obj]]:
        """The owner references of ``obj`` by their owner's state: solid, dangling or waiting."""
        states: dict[str, list[Obj]] = {SOLID: [], DANGLING: [], WAITING: []}
        for ref in owner_references(obj):
            args = (ref.get("apiVersion", ""), ref.get("kind", ""), namespace(obj), ref.get("name", ""))
            if fresh:
                try:
                    owner = self.live(*args)
                except Exception as err:  # noqa: BLE001 (an owner we cannot read is kept, never assumed gone)
                    log.warning("cannot read owner %s of %s: %s", args, name(obj), err)
                    states[SOLID].append(ref)
                    continue
            else:
                owner = self.cached(*args)  # None also for kinds we do not watch: then the fresh read decides
            if owner is None or uid(owner) != ref.get("uid"):
                states[DANGLING].append(ref)  # gone, or another object under its name
            elif deleting(owner) and FOREGROUND in finalizers(owner):
                states[WAITING].append(ref)
            else:
                states[SOLID].append(ref)
        return states

    # -- the workers ---------------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        action, api_version, kind, ns, obj_name = key.split("|")
        obj = self.cached(api_version, kind, ns, obj_name)
        if obj is None:
            return  # gone: its deletion event did the rest
        if action == "orphan":
            self.orphan_dependents(api_version, kind, obj)
        elif deleting(obj):
            if FOREGROUND in finalizers(obj):
                self.process_deleting_dependents(api_version, kind, obj)
        elif owner_references(obj):
            self.attempt_to_delete(api_version, kind, obj)

    def attempt_to_delete(self, api_version: str, kind: str, obj: Obj) -> None:
        cached = self.classify(obj, fresh=False)
        if not cached[DANGLING] and not cached[WAITING]:
            return  # every owner is there in the cache: the common case costs no request
        latest = self.live(api_version, kind, namespace(obj), name(obj))
        if latest is None or uid(latest) != uid(obj) or deleting(latest):
            return
        owners = self.classify(latest, fresh=True)
        doomed = owners[DANGLING] + owners[WAITING]
        if owners[SOLID]:
            if doomed:
                # Some owner still holds it: only the references to the others go.
                gone = {ref["uid"] for ref in doomed}
                log.info("removing references to %s from %s %s", sorted(gone), kind, name(obj))
                self.update(api_version, kind, latest, lambda o: self.drop_owner_refs(o, gone))
            return
        if not doomed:
            return
        if owners[WAITING] and self.dependents(uid(latest)):
            policy = "Foreground"  # a foreground owner waits for this one's dependents too
        elif ORPHAN in finalizers(latest):
            policy = "Orphan"
        elif FOREGROUND in finalizers(latest):
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("deleting %s %s/%s (owners %s gone or being deleted; propagation %s)", kind, namespace(obj),
                 name(obj), [r.get("name") for r in doomed], policy)
        try:
            self.client.resource(api_version, kind).delete(name(latest), namespace=namespace(latest),
                                                           propagation_policy=policy, uid=uid(latest))
        except NotFound:
            pass

    def process_deleting_dependents(self, api_version: str, kind: str, owner: Obj) -> None:
        owner_uid = uid(owner)
        dependents = self.dependents(owner_uid)
        blocking = [d for _, _, d in dependents if any(
            ref.get("uid") == owner_uid and ref.get("blockOwnerDeletion") for ref in owner_references(d))]
        if not blocking:
            log.info("foreground deletion of %s %s/%s: no blocking dependents left", kind, namespace(owner),
                     name(owner))
            self.update(api_version, kind, owner, lambda o: self.drop_finalizer(o, FOREGROUND))
            return
        for dep_version, dep_kind, dependent in dependents:
            if not deleting(dependent):
                self.queue_item("delete", dep_version, dep_kind, dependent)

    def orphan_dependents(self, api_version: str, kind: str, owner: Obj) -> None:
        if not deleting(owner) or ORPHAN not in finalizers(owner):
            return
        owner_uid = uid(owner)
        for dep_version, dep_kind, dependent in self.dependents(owner_uid):
            self.update(dep_version, dep_kind, dependent, lambda o: self.drop_owner_refs(o, {owner_uid}))
        log.info("orphaned the dependents of %s %s/%s", kind, namespace(owner), name(owner))
        self.update(api_version, kind, owner, lambda o: self.drop_finalizer(o, ORPHAN))

    # -- writes ----------------------------------------------------------------------------------------

    @staticmethod
    def drop_owner_refs(obj: Obj, uids: set[str]) -> bool:
        refs = owner_references(obj)
        kept = [ref for ref in refs if ref.get("uid") not in uids]
        if len(kept) == len(refs):
            return False
        if kept:
            obj["metadata"]["ownerReferences"] = kept
        else:
            obj["metadata"].pop("ownerReferences", None)
        return True

    @staticmethod
    def drop_finalizer(obj: Obj, finalizer: str) -> bool:
        if finalizer not in finalizers(obj):
            return False
        kept = [f for f in finalizers(obj) if f != finalizer]
        if kept:
            obj["metadata"]["finalizers"] = kept
        else:
            obj["metadata"].pop("finalizers", None)
        return True

    def update(self, api_version: str, kind: str, obj: Obj, change: Callable[[Obj], bool]) -> None:
        """Apply ``change`` to a copy of ``obj`` and write it; on a conflict read it again (same UID only)."""
        resources = self.client.resource(api_version, kind)
        current = deep_copy(obj)
        for attempt in range(UPDATE_RETRIES + 1):
            if not change(current):
                return  # nothing (left) to change
            try:
                resources.update(current)
                return
            except NotFound:
                return
            except Conflict:
                if attempt >= UPDATE_RETRIES:
                    raise
            fresh = self.live(api_version, kind, namespace(obj), name(obj))
            if fresh is None or uid(fresh) != uid(obj):
                return  # gone, or another object now: nothing of ours to change
            current = fresh
