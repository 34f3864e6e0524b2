"""The registry: API objects kept in the store, with Kubernetes' rules for each verb.

This is kube-apiserver's generic registry (``genericregistry.Store``): the
code between a REST request and the key-value store. It turns an object
into a key (``/registry/deployments/default/web``) and JSON, and gives
each verb its Kubernetes meaning:

- **create** fills in what the server owns (``uid``,
  ``creationTimestamp``, ``generation``, a name from ``generateName``) and
  writes only if the key is free (a transaction comparing its
  ``create_revision`` with 0);
- **get** and **list** read; an object's ``resourceVersion`` is the
  revision of the store write that produced it, and a list's is the
  store's revision when it was read;
- **update** writes only if the client's ``resourceVersion`` is still the
  object's (else ``409 Conflict``), keeps what the client may not change,
  bumps ``generation`` when the spec changes, and respects the ``status``
  subresource: the main resource ignores status, ``/status`` ignores the
  rest;
- **delete** removes the key, or, while finalizers remain, only stamps
  ``deletionTimestamp`` and leaves the object for its finalizers' owners;
- **watch** turns the store's events into ``ADDED``, ``MODIFIED`` and
  ``DELETED``, filtered by selectors, and answers ``410 Gone`` when the
  revision asked for was compacted.

Every write is one compare-and-swap transaction on the object's key, so
nothing is ever locked and no concurrent update is lost.

Simplifications:
- Pods are deleted at once; graceful deletion (the kubelet confirming the
  containers stopped) arrives with the kubelet.
- Objects are stored as JSON, not protobuf, and never encrypted at rest.
- List pagination keeps the revision of the first page, as Kubernetes does,
  but ``remainingItemCount`` is not reported. A list with a
  ``resourceVersion`` is answered from the newest state (which is "not
  older than" it); ``resourceVersionMatch=Exact`` is not offered.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from dataclasses import dataclass
from typing import Any, Callable

from kitlib.api import meta
from kitlib.api.errors import AlreadyExists, BadRequest, Conflict, Gone, NotFound
from kitlib.api.fields import EVERYTHING_FIELDS, FieldSelector
from kitlib.api.selectors import EVERYTHING, Selector
from kitlib.apiserver.resources import Resource
from kitlib.clock import Clock, RealClock
from kitlib.store import Compacted, Compare, EventType, KeyValue, Op, Store
from kitlib.store.watch import WatchIteration

Obj = dict[str, Any]
# Kinds whose spec changes bump metadata.generation (their controllers
# report status.observedGeneration against it).
_GENERATION = {"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "CronJob", "HorizontalPodAutoscaler",
               "ReplicationController"}
# How often create retries a generateName that collided before giving up.
_GENERATE_ATTEMPTS = 8


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch, as the API server streams it: ``{"type": ..., "object": ...}``."""

    type: str  # ADDED | MODIFIED | DELETED
    object: Obj


def _encode(obj: Obj) -> bytes:
    # resourceVersion is not stored: it is the revision of the write itself,
    # which is only known once the store has made it (kube does the same).
    stored = dict(obj)
    stored["metadata"] = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return json.dumps(stored, separators=(",", ":"), sort_keys=False).encode()


def _same(a: Obj, b: Obj) -> bool:
    """Equal as stored: everything but metadata.resourceVersion (key order does not matter)."""
    def stored_meta(obj: Obj) -> Obj:
        return {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}

    return (stored_meta(a) == stored_meta(b)
            and {k: v for k, v in a.items() if k != "metadata"} == {k: v for k, v in b.items() if k != "metadata"})


def _decode(kv: KeyValue, revision: int | None = None) -> Obj:
    obj = json.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision if revision is not None else kv.mod_revision)
    return obj


def _parse_rv(resource_version: str) -> int:
    try:
        value = int(resource_version)
    except ValueError:
        raise BadRequest(f"invalid resource version {resource_version!r}: a resourceVersion is a number the server gave you") from None
    if value < 0:
        raise BadRequest(f"invalid resource version {resource_version!r}")
    return value


def encode_continue(revision: int, start_key: str) -> str:
    """A list's ``continue`` token: the revision of the first page and where the next starts (kube's format)."""
    token = {"v": "meta.k8s.io/v1", "rv": revision, "start": start_key}
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise BadRequest("continue key is not valid: ask for the list again without it") from None


class Registry:
    """Kubernetes objects in a :class:`~kitlib.store.types.Store`, one key per object."""

    def __init__(self, store: Store, *, clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.store = store
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        # generateName draws from one stream per (namespace, base), not from the shared rng: a controller
        # makes its Pods one after another, so their names replay on a seeded run whatever other writers
        # (the scheduler's Events, kubelets' Leases) draw from the shared rng in between. The streams are
        # seeded from a copy of rng, so the shared stream (uids, Service IPs) is unchanged.
        fork = random.Random()
        fork.setstate(self.rng.getstate())
        self._name_seed = fork.getrandbits(64)
        self._name_rngs: dict[tuple[str, str], random.Random] = {}
        self._name_lock = threading.Lock()

    # -- reads ----------------------------------------------------------------

    def get(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        kv = self.store.get(resource.storage_key(namespace, name))
        if kv is None:
            raise NotFound(resource.plural, name, group=resource.group)
        return _decode(kv)

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: Selector = EVERYTHING,
        field_selector: FieldSelector = EVERYTHING_FIELDS,
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
    ) -> Obj:
        """A ``<Kind>List``, filtered; with ``limit``, a page and a ``continue`` token."""
        prefix = resource.storage_range(namespace)
        start, revision = prefix, 0
        if continue_token:
            # Later pages read at the first page's revision: one consistent list.
            revision, start = decode_continue(continue_token)
        elif resource_version:
            _parse_rv(resource_version)  # "not older than": the newest state always qualifies
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # just past every key under the prefix
        items: list[Obj] = []
        next_start = ""
        try:
            while True:
                # Read in pages of the store, keeping selectors' rejects out
                # of the count, until the page the client asked for is full.
                page = self.store.range(start, end, revision=revision, limit=limit + 1 if limit else 0)
                revision = revision or page.revision
                for kv in page.kvs:
                    if limit and len(items) == limit:
                        next_start = kv.key
                        break
                    obj = _decode(kv)
                    if label_selector.matches(meta.labels(obj)) and field_selector.matches(obj):
                        items.append(obj)
                if next_start or not page.more:
                    break
                start = page.kvs[-1].key + "\0"
        except Compacted as err:
            raise Gone(f"The provided continue parameter is too old to display a consistent list result. "
                       f"You can start a new list without the continue parameter. ({err.requested})") from err
        metadata: Obj = {"resourceVersion": str(revision)}
        if next_start:
            metadata["continue"] = encode_continue(revision, next_start)
        return {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": metadata, "items": items}

    # -- create ---------------------------------------------------------------

    def create(self, resource: Resource, obj: Obj, namespace: str | None = None, *,
               admit: Callable[[Obj], Obj] | None = None, dry_run: bool = False) -> Obj:
        """Store a new object; ``AlreadyExists`` if the name is taken.

        ``admit(obj)`` (the API server's admission and validation) sees the
        object with the server's fields set (uid, creation time, a name made
        from ``generateName``) and may change or refuse it, as kube's
        ``BeforeCreate`` and create validation do. ``dry_run``: everything
        but the write.
        """
        obj = meta.deep_copy(obj)
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        md = obj.setdefault("metadata", {})
        self._check_namespace(resource, md, namespace)
        for owned in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation"):
            md.pop(owned, None)  # the server's to set, whatever the client sent
        md["uid"] = meta.new_uid(self.rng)
        md["creationTimestamp"] = meta.rfc3339(self.clock.wall())
        if resource.kind in _GENERATION:
            md["generation"] = 1
        generate = not md.get("name") and md.get("generateName")
        for _ in range(_GENERATE_ATTEMPTS if generate else 1):
            if generate:
                md["name"] = self._generate_name(md.get("namespace", ""), md["generateName"])
            candidate = admit(meta.deep_copy(obj)) if admit else obj
            name = candidate["metadata"].get("name")
            if not name:
                raise BadRequest("name or generateName is required")
            if dry_run:
                return candidate
            key = resource.storage_key(candidate["metadata"].get("namespace"), name)
            result = self.store.txn([Compare.create_revision(key, "=", 0)], [Op.put(key, _encode(candidate))])
            if result.succeeded:
                candidate["metadata"]["resourceVersion"] = str(result.revision)
                return candidate
        raise AlreadyExists(resource.plural, md["name"], group=resource.group)

    def _generate_name(self, namespace: str, base: str) -> str:
        with self._name_lock:
            rng = self._name_rngs.get((namespace, base))
            if rng is None:
                rng = self._name_rngs[(namespace, base)] = random.Random(f"{self._name_seed}/{namespace}/{base}")
            return meta.generate_name(base, rng)

    def _check_namespace(self, resource: Resource, md: Obj, namespace: str | None) -> None:
        if not resource.namespaced:
            md.pop("namespace", None)
            return
        if md.get("namespace") and namespace and md["namespace"] != namespace:
            raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
        md["namespace"] = md.get("namespace") or namespace or "default"

    # -- update ---------------------------------------------------------------

    def update(self, resource: Resource, namespace: str | None, name: str, obj: Obj, *, subresource: str = "",
               admit: Callable[[Obj, Obj], Obj] | None = None) -> Obj:
        """Replace an object; with a ``resourceVersion``, only if it is still current.

        ``admit(current, new)`` (the API server's admission and validation)
        may change or refuse the new object on each attempt.
        """
        wanted = (obj.get("metadata") or {}).get("resourceVersion", "")
        precondition = _parse_rv(str(wanted)) if wanted else 0

        def replace(current: Obj) -> Obj:
            if precondition and int(current["metadata"]["resourceVersion"]) != precondition:
                raise Conflict(resource.plural, name, group=resource.group)
            new = self.merge_update(resource, current, obj, subresource)
            return admit(current, new) if admit else new

        return self.guaranteed_update(resource, namespace, name, replace)

    def merge_update(self, resource: Resource, current: Obj, new: Obj, subresource: str = "") -> Obj:
        """``new`` as an update of ``current``: server-owned metadata kept, status subresource and generation rules applied.

        :meth:`update` uses it on the object a client sent; a PATCH handler on
        the object its patch produced, inside :meth:`guaranteed_update`.
        """
        new = meta.deep_copy(new)
        new["apiVersion"], new["kind"] = resource.api_version, resource.kind
        md, old_md = new.setdefault("metadata", {}), current["metadata"]
        if md.get("name", old_md["name"]) != old_md["name"]:
            raise BadRequest(f"the name of the object ({md['name']}) does not match the name on the URL ({old_md['name']})")
        if resource.namespaced and md.get("namespace", old_md["namespace"]) != old_md["namespace"]:
            raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
        if md.get("uid") and md["uid"] != old_md.get("uid"):
            # A uid in an update or patch is a precondition: it names the object the writer means.
            raise Conflict(resource.plural, old_md["name"],
                           f"Precondition failed: UID in precondition: {md['uid']}, UID in object meta: {old_md.get('uid')}",
                           group=resource.group)
        for owned in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation"):
            if owned in old_md:
                md[owned] = old_md[owned]
            else:
                md.pop(owned, None)
        if "status" in resource.subresources:
            if subresource == "status":
                # /status changes status only (and nothing else the spec owns).
                new = {**meta.deep_copy(current), "status": new.get("status", {})}
                new["metadata"] = meta.deep_copy(old_md)
                old_qos = (current.get("status") or {}).get("qosClass")
                if resource.kind == "Pod" and old_qos and isinstance(new["status"], dict):
                    # Computed once at create: a status written without it keeps it (it is immutable).
                    new["status"].setdefault("qosClass", old_qos)
            elif "status" in current:
                new["status"] = meta.deep_copy(current["status"])
            else:
                new.pop("status", None)
        if resource.kind in _GENERATION and new.get("spec") != current.get("spec"):
            new["metadata"]["generation"] = old_md.get("generation", 1) + 1
        return new

    def guaranteed_update(self, resource: Resource, namespace: str | None, name: str, update: Callable[[Obj], Obj]) -> Obj:
        """Read, apply ``update`` to a copy, write if nobody wrote meanwhile; retry otherwise (Kubernetes' GuaranteedUpdate).

        ``update`` may raise (an ``APIError``) to refuse; nothing is written then.
        """
        key = resource.storage_key(namespace, name)
        while True:
            kv = self.store.get(key)
            if kv is None:
                raise NotFound(resource.plural, name, group=resource.group)
            current = _decode(kv)
            new = update(meta.deep_copy(current))
            if self._finalized(new):
                ops = [Op.delete(key)]
            else:
                if _same(new, current):
                    # Nothing changed: no write, the same resourceVersion, no watch event (as kube's
                    # GuaranteedUpdate, which compares the bytes before it writes).
                    return current
                ops = [Op.put(key, _encode(new))]
            result = self.store.txn([Compare.mod_revision(key, "=", kv.mod_revision)], ops)
            if result.succeeded:
                new["metadata"]["resourceVersion"] = str(result.revision)
                return new

    @staticmethod
    def _finalized(obj: Obj) -> bool:
        # An object being deleted goes away when its last finalizer is removed; a Namespace also
        # waits for spec.finalizers ("kubernetes"), which the namespace's emptying removes.
        md = obj.get("metadata", {})
        if not md.get("deletionTimestamp") or md.get("finalizers"):
            return False
        return not (obj.get("kind") == "Namespace" and (obj.get("spec") or {}).get("finalizers"))

    # -- delete ---------------------------------------------------------------

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        *,
        uid: str = "",
        resource_version: str = "",
        propagation_policy: str = "",
    ) -> Obj:
        """Delete an object, or mark it for deletion while finalizers remain; return its last state."""
        precondition = _parse_rv(resource_version) if resource_version else 0

        def mark(current: Obj) -> Obj:
            md = current["metadata"]
            if uid and md.get("uid") != uid:
                raise Conflict(resource.plural, name,
                               f"Precondition failed: UID in precondition: {uid}, UID in object meta: {md.get('uid')}",
                               group=resource.group)
            if precondition and int(md["resourceVersion"]) != precondition:
                raise Conflict(resource.plural, name, group=resource.group)
            finalizers = list(md.get("finalizers", []))
            # Foreground and Orphan deletion are carried out by the garbage
            # collector, which finds the object by these finalizers.
            extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation_policy)
            if extra and extra not in finalizers:
                finalizers.append(extra)
            if finalizers:
                md["finalizers"] = finalizers
                md.setdefault("deletionTimestamp", meta.rfc3339(self.clock.wall()))
                md.setdefault("deletionGracePeriodSeconds", 0)
            else:
                md["deletionTimestamp"] = meta.rfc3339(self.clock.wall())
            return current

        return self.guaranteed_update(resource, namespace, name, mark)

    # -- watch ----------------------------------------------------------------

    def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        label_selector: Selector = EVERYTHING,
        field_selector: FieldSelector = EVERYTHING_FIELDS,
    ) -> "RegistryWatch":
        """Changes after ``resource_version``; without one, the current objects as ADDED first."""
        prefix = resource.storage_range(namespace)
        initial: list[WatchEvent] = []
        if resource_version in ("", "0"):
            listed = self.list(resource, namespace, label_selector=label_selector, field_selector=field_selector)
            initial = [WatchEvent("ADDED", obj) for obj in listed["items"]]
            start = int(listed["metadata"]["resourceVersion"]) + 1
        else:
            start = _parse_rv(resource_version) + 1
        stream = self.store.watch(prefix, prefix=True, start_revision=start, prev_kv=True)
        return RegistryWatch(stream, initial, label_selector, field_selector, start - 1)


class RegistryWatch(WatchIteration):
    """A watch on one resource: iterate for :class:`WatchEvent`\\ s; ``cancel()`` when done."""

    def __init__(self, stream, initial: list[WatchEvent], labels: Selector, fields: FieldSelector, since: int) -> None:
        self._stream = stream
        self._initial = initial
        self._labels = labels
        self._fields = fields
        self._since = since
        self.progress = since  # the newest revision read from the store, matching or not (for bookmarks)

    def _matches(self, obj: Obj | None) -> bool:
        return obj is not None and self._labels.matches(meta.labels(obj)) and self._fields.matches(obj)

    def get(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, or ``None`` after ``timeout`` seconds without one (or once cancelled)."""
        if self._initial:
            return self._initial.pop(0)
        while True:
            try:
                event = self._stream.get(timeout=timeout)
            except Compacted as err:
                raise Gone(f"too old resource version: {self._since} ({err.compact_revision})") from err
            if event is None:
                return None
            self.progress = max(self.progress, event.revision)
            old = _decode(event.prev_kv) if event.prev_kv is not None else None
            if event.type == EventType.DELETE:
                if self._matches(old):
                    return WatchEvent("DELETED", _decode(event.prev_kv, event.revision))
                continue
            new = _decode(event.kv)
            # A change that moves an object into or out of the selection is,
            # for this watcher, its creation or its deletion (as in Kubernetes).
            was, now = self._matches(old), self._matches(new)
            if now and not was:
                return WatchEvent("ADDED", new)
            if now:
                return WatchEvent("MODIFIED", new)
            if was:
                return WatchEvent("DELETED", new)

    @property
    def cancelled(self) -> bool:
        return bool(getattr(self._stream, "cancelled", False))

    def cancel(self) -> None:
        self._stream.cancel()
