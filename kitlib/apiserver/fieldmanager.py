"""Server-side apply and managedFields: who set which field, and the merge that respects it.

Every write records in ``metadata.managedFields`` which *manager* (the
request's ``?fieldManager=``, or the first word of its User-Agent) owns
which fields, as kube-apiserver's field manager
(``k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager`` over
``sigs.k8s.io/structured-merge-diff``) does:

- :meth:`FieldManager.update` (create, update, non-apply patch): the manager
  (operation ``Update``) takes every field the request added or changed,
  from whoever owned it; a field the request removed leaves every owner.
- :meth:`FieldManager.apply` (``PATCH`` as ``application/apply-patch+yaml``)
  merges the configuration into the live object; the manager (operation
  ``Apply``) owns exactly what it applied; what it applied before and left
  out now is removed unless someone else owns it; and changing a field that
  another manager owns is a ``409 Conflict``, unless ``force`` takes it.

    >>> from kitlib.clock import FakeClock
    >>> cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    >>> FieldManager(FakeClock()).apply(None, cm, "kubectl")["metadata"]["managedFields"][0]["fieldsV1"]
    {'f:data': {'f:a': {}}}

The API server validates ``?fieldManager=`` (:func:`validate_manager`)
before defaulting it (:func:`manager_from_user_agent`), as kube does.

Simplifications:
- Field types come from the strategic merge table, not OpenAPI (see
  :mod:`kitlib.apiserver.fieldpath`); the fields a Go object always has (so
  never "added") come from that table plus :data:`ZERO_FIELDS`.
- One version per resource: field sets are never converted, and an apply in
  another version than the live object's is refused.
- No cap of ten Update entries (kube folds the oldest into
  ``ancient-changes``), no upgrade from client-side apply's annotation.
- A ``null`` in an applied configuration owns the field and removes it
  (kube merges the null, which decoding into Go types drops).
- ``deletionTimestamp`` and ``deletionGracePeriodSeconds`` are never tracked
  either (kube's graceful deletion writes them without the field manager).
- Reset fields: on the main resource of a kind with a status subresource,
  ``status`` is neither owned nor applied; through ``/status`` only
  ``status`` is (kube's status strategies also reset some metadata). The
  object an apply returns has them reset; :meth:`FieldManager.update`
  leaves that to the registry's strategy.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from kitlib.api.errors import APIError, BadRequest, Invalid, from_status
from kitlib.api.field import go_quote, invalid, required, too_long
from kitlib.api.meta import MetaError, deep_copy, parse_rfc3339, rfc3339
from kitlib.apiserver import resources, strategic
from kitlib.apiserver.fieldpath import (FieldPathError, Path, compare, ensure_named_fields, from_fields, iterate,
                                        merge, object_fields, path_string, prune, same, to_fields)
from kitlib.clock import Clock

log = logging.getLogger(__name__)

APPLY, UPDATE = "Apply", "Update"
MAX_MANAGER_LENGTH = 128  # validation.FieldManagerMaxLength, in bytes
BEFORE_FIRST_APPLY = "before-first-apply"  # owns what an object had when it is first applied to

# stripMetaManager: never owned. Exact paths, as kube's Set.Difference: owning metadata.labels.app is fine.
STRIPPED: frozenset[Path] = frozenset({("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", "f:" + name) for name in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                             "clusterName", "generation", "managedFields", "resourceVersion",
                                             "deletionTimestamp", "deletionGracePeriodSeconds")})

# Non-pointer Go structs that the strategic table does not lead to; (group, kind) -> skeleton. With the table's own
# structs (metadata, spec, template...) and PodSpec's never-omitted ``containers``, they make the Go zero object.
ZERO_FIELDS: dict[tuple[str, str], dict] = {
    ("apps", "Deployment"): {"spec": {"strategy": {}}},
    ("apps", "DaemonSet"): {"spec": {"updateStrategy": {}}},
    ("apps", "StatefulSet"): {"spec": {"updateStrategy": {}}},
    ("", "Service"): {"status": {"loadBalancer": {}}},
    ("", "Node"): {"status": {"daemonEndpoints": {"kubeletEndpoint": {}}, "nodeInfo": {}}},
}


def manager_from_user_agent(user_agent: str) -> str:
    """kube's manager when ``?fieldManager=`` is absent: the User-Agent up to its first ``/``.

    Non-printable characters are dropped and the name is cut to 128 bytes,
    so the result always validates (``prefixFromUserAgent``).
    """
    out = ""
    for char in filter(str.isprintable, user_agent.split("/")[0]):
        if len((out + char).encode("utf-8", "surrogatepass")) > MAX_MANAGER_LENGTH:
            break
        out += char
    return out


def validate_manager(manager: str, options: str = "PatchOptions", *, apply: bool = False) -> None:
    """Refuse a ``?fieldManager=`` as ``ValidatePatchOptions`` does: 422 on ``<options>.meta.k8s.io``.

    ``options`` is ``CreateOptions``, ``UpdateOptions`` or ``PatchOptions``;
    an apply requires a manager, other verbs default it from the User-Agent.
    """
    errors = []
    if apply and not manager:
        errors.append(required("fieldManager", "is required for apply patch"))
    if len(manager.encode("utf-8", "surrogatepass")) > MAX_MANAGER_LENGTH:
        errors.append(too_long("fieldManager", MAX_MANAGER_LENGTH))
    position = 0
    for char in manager:
        if not char.isprintable():
            errors.append(invalid("fieldManager", manager,
                                  f"invalid character U+{ord(char):04X} (at position {position})"))
        position += len(char.encode("utf-8", "surrogatepass"))
    if errors:
        raise Invalid(options, "", errors, group="meta.k8s.io")


# --- Managed fields: decoded entries ------------------------------------------------------------------------------


@dataclass
class Entry:
    """One ``managedFields`` entry, its ``fieldsV1`` decoded to a set of paths."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    fields: frozenset
    time: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        # BuildManagerIdentifier: an applier is one manager whatever version it applied.
        return self.manager, self.operation, "" if self.operation == APPLY else self.api_version, self.subresource

    def identifier(self) -> str:
        """kube's manager identifier (the entry as JSON, without time and fields): conflicts sort on it."""
        ident = {"manager": self.manager, "operation": self.operation, "apiVersion": self.key[2],
                 "subresource": self.subresource}
        return json.dumps({k: v for k, v in ident.items() if v}, separators=(",", ":"), ensure_ascii=False)

    def printed(self) -> str:
        """``printManager``: ``"kubectl" with subresource "scale" using apps/v1``; appliers by name alone."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        return text + (f" using {self.api_version}" if self.operation == UPDATE else "")

    def encode(self) -> dict[str, Any]:
        entry = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                 "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields(self.fields),
                 "subresource": self.subresource}
        return {k: v for k, v in entry.items() if v or k == "fieldsV1"}

    def order(self) -> tuple:
        # sortEncodedManagedFields: appliers first ("Apply" < "Update"), then oldest first.
        try:
            seconds = parse_rfc3339(self.time) if self.time else 0
        except MetaError:
            seconds = 0
        return self.operation, seconds, self.manager, self.api_version, self.subresource


Managed = dict  # Entry.key -> Entry


def decode(entries: Any) -> Managed:
    """``DecodeManagedFields``: :class:`ValueError` with kube's words for an entry it cannot read."""
    managed: Managed = {}
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for index, raw in enumerate(entries):
        raw = raw if isinstance(raw, dict) else {}
        if raw.get("operation") not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        if not raw.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        fields_type = raw.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            raise ValueError(f"invalid fieldsType {go_quote(fields_type)} in managed fields entry {index}"
                             if fields_type else f"missing fieldsType in managed fields entry {index}")
        entry = Entry(str(raw.get("manager") or ""), raw["operation"], str(raw["apiVersion"]),
                      str(raw.get("subresource") or ""), frozenset(from_fields(raw.get("fieldsV1") or {})),
                      raw.get("time"))
        managed[entry.key] = entry  # a later duplicate wins, as it does in kube's map
    return managed


def _store(obj: dict, managed: Managed) -> None:
    entries = sorted((e for e in managed.values() if e.fields), key=Entry.order)
    if entries:
        obj.setdefault("metadata", {})["managedFields"] = [e.encode() for e in entries]
    elif isinstance(obj.get("metadata"), dict):
        obj["metadata"].pop("managedFields", None)


def _without_managed(obj: dict | None) -> dict:
    """``obj`` without managedFields, for reading only: a shallow copy, as this runs on every write."""
    if not isinstance(obj, dict):
        return {}
    if isinstance(obj.get("metadata"), dict) and "managedFields" in obj["metadata"]:
        return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "managedFields"}}
    return obj


def _fail(code: int, message: str, reason: str = "", details: dict | None = None) -> APIError:
    """The Status kube sends: a bare 500 (no reason) for the plain Go errors of its field manager."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details, "code": code}
    return from_status({k: v for k, v in body.items() if v is not None})


# --- The kind's shape: schema, Go zero object, reset fields -------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What the field manager knows of one kind at one endpoint (the main resource or a subresource)."""

    schema: Mapping
    zero: Mapping
    has_status: bool
    subresource: str

    def scope(self, paths: set[Path] | frozenset) -> set[Path]:
        """The paths this endpoint may own: the reset fields are filtered out (``IgnoredFields``)."""
        if self.subresource == "status":
            return {p for p in paths if p[0] == "f:status"}
        if not self.subresource and self.has_status:
            return {p for p in paths if p[0] != "f:status"}
        return set(paths)

    def reset(self, obj: dict, live: dict) -> dict:
        """``obj`` with the reset fields put back to ``live``'s (what the registry's strategy does)."""
        if self.subresource == "status":
            obj, source = deep_copy(live), obj  # all but the status comes from live
        elif not self.subresource and self.has_status:
            source = live
        else:
            return obj
        obj.pop("status", None)
        obj.update({"status": deep_copy(source["status"])} if "status" in source else {})
        return obj


def _zero(schema: Mapping, extra: Mapping) -> dict:
    out: dict = {"containers": None} if "containers" in schema else {}  # PodSpec.Containers: no omitempty
    for name in [*schema, *extra]:
        struct = schema.get(name) if isinstance(schema.get(name), Mapping) else None
        if struct is not None or name in extra:
            out[name] = _zero(struct or {}, extra.get(name, {}))
    return out


@lru_cache(maxsize=None)
def shape(api_version: str, kind: str, subresource: str = "") -> Shape:
    schema = strategic.schema_for(api_version, kind)
    group = api_version.rpartition("/")[0]
    resource = resources.for_kind(api_version, kind)
    zero = _zero(schema, ZERO_FIELDS.get((group, kind), {}))
    return Shape(schema, zero, bool(resource and "status" in resource.subresources), subresource)


# --- The field manager ----------------------------------------------------------------------------------------------


class FieldManager:
    """Keeps ``metadata.managedFields`` of every object written through the API server.

    Both methods take the live object as stored (``None`` on create) and
    return a new object; neither changes its arguments.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def _now(self) -> str:
        return rfc3339(self._clock.wall())

    def update(self, live: dict | None, new: dict, manager: str, *, subresource: str = "") -> dict:
        """``new`` (a copy) with ``manager`` owning, as ``Update``, every field the request added or changed.

        Called on create (``live`` is ``None``), update and non-apply patch,
        before the object is stored. A request may rewrite managedFields
        itself (``[]`` or ``[{}]`` clears them); through a subresource, or
        when absent or unreadable, the live ones are kept.
        """
        result = deep_copy(new)
        managed = self._managed_for_update(live, new, subresource)
        if isinstance(result.get("metadata"), dict):
            result["metadata"].pop("managedFields", None)
        api_version = result.get("apiVersion") or (live or {}).get("apiVersion") or ""
        at = shape(api_version, result.get("kind") or (live or {}).get("kind") or "", subresource)
        self._record(managed, _without_managed(live), result, manager, api_version, at)
        _store(result, managed)
        return result

    def _managed_for_update(self, live: dict | None, new: dict, subresource: str) -> Managed:
        # decodeLiveOrNew: the request's own managedFields win, unless it came through a subresource.
        metadata = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
        if not subresource and metadata.get("managedFields") is not None:
            sent = metadata["managedFields"]
            if sent == [] or sent == [{}]:
                return {}
            try:
                managed = decode(sent)
                if managed:
                    return managed
            except ValueError as err:
                log.debug("ignoring the request's managedFields: %s", err)
        try:
            return decode(((live or {}).get("metadata") or {}).get("managedFields"))
        except ValueError as err:
            log.warning("resetting unreadable managedFields: %s", err)
            return {}

    def _record(self, managed: Managed, before: dict, after: dict, manager: str, api_version: str,
                at: Shape) -> None:
        """One ``Update``: ``manager`` takes what changed; what was removed leaves every owner."""
        diff = compare(before, after, at.schema, at.zero)
        changed = at.scope(diff.added | diff.modified) - STRIPPED
        removed = at.scope(diff.removed)
        for entry in managed.values():
            entry.fields = entry.fields - changed - removed
        if changed:  # the time moves only when this manager changed something (managedFieldsUpdater)
            key = (manager, UPDATE, api_version, at.subresource)
            before_set = managed[key].fields if key in managed else frozenset()
            managed[key] = Entry(manager, UPDATE, api_version, at.subresource, before_set | changed, self._now())
        for key in [k for k, e in managed.items() if not e.fields]:
            del managed[key]

    def apply(self, live: dict | None, applied: dict, manager: str, *, force: bool = False,
              subresource: str = "") -> dict:
        """Server-side apply of ``applied`` by ``manager``: the object to store (``live`` is ``None`` to create).

        ``applied`` is the decoded body, an object; its kind and name are the
        caller's to check, as kube's handler does after the field manager.

        Raises 422 for a missing or invalid manager; 400 for a configuration
        carrying managedFields or another apiVersion; a bare 500 for a list
        element without its key or with a repeated one; 409 ``Conflict`` when
        it changes a field another manager owns and ``force`` is false. The
        same configuration applied again changes nothing, not even the time.
        """
        validate_manager(manager, apply=True)
        api_version, expected = applied.get("apiVersion") or "", (live or {}).get("apiVersion")
        if expected and api_version != expected:  # kube checks against the endpoint's version
            raise BadRequest(f"Incorrect version specified in apply patch. Specified patch version: "
                             f"{api_version}, expected: {expected}")
        sent_meta = applied.get("metadata") if isinstance(applied.get("metadata"), dict) else {}
        if sent_meta.get("managedFields") is not None:
            raise BadRequest("metadata.managedFields must be nil")
        at = shape(api_version, applied.get("kind") or (live or {}).get("kind") or "", subresource)
        try:
            managed = decode(((live or {}).get("metadata") or {}).get("managedFields"))
        except ValueError as err:
            raise _fail(500, f"failed to decode managed fields: {err}") from None
        before = _without_managed(live)
        if live is not None and not managed:  # skipNonAppliedManager: what was there before belongs to someone
            self._record(managed, {}, before, BEFORE_FIRST_APPLY, api_version, at)
        try:
            config = at.scope(object_fields(applied, at.schema))
        except FieldPathError as err:
            raise _fail(500, f"failed to create typed patch object ({_gvknn(applied)}): {err}") from None

        key = (manager, APPLY, "", subresource)
        last = managed[key] if key in managed else None
        managed[key] = Entry(manager, APPLY, api_version, subresource, frozenset(config), last and last.time)
        merged = merge(deep_copy(before), applied, at.schema)
        if last and last.fields:
            owned = ensure_named_fields(set().union(*(e.fields for e in managed.values())))
            prune(merged, at.schema, ensure_named_fields(last.fields), owned)
        result = at.reset(merged, before)

        diff = compare(before, result, at.schema, at.zero)
        changed, removed = at.scope(diff.added | diff.modified), at.scope(diff.removed)
        conflicts = {k: e.fields & changed for k, e in managed.items() if k != key and e.fields & changed}
        if conflicts and not force:
            raise conflict_error([managed[k] for k in conflicts], conflicts)
        for k, entry in managed.items():
            entry.fields = entry.fields - STRIPPED - (frozenset() if k == key else changed | removed)
        if not same(result, before):  # a no-op apply leaves the time alone (Updater.Apply returns no object)
            managed[key].time = self._now()
        for k in [k for k, e in managed.items() if not e.fields]:
            del managed[k]
        _store(result, managed)
        return result


def conflict_error(entries: list[Entry], conflicts: Mapping[tuple, set[Path]]) -> APIError:
    """``NewConflictError``: 409 Conflict, the paths grouped by manager, one cause per path."""
    groups = [(e, iterate(conflicts[e.key])) for e in sorted(entries, key=Entry.identifier)]
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {e.printed()}", "field": path_string(p)}
              for e, paths in groups for p in paths]
    if len(causes) == 1:
        entry, (path,) = groups[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.printed()}: {path_string(path)}"
    else:
        lines = [line for e, paths in groups
                 for line in [f"conflicts with {e.printed()}:", *(f"- {path_string(p)}" for p in paths)]]
        message = f"Apply failed with {len(causes)} conflicts: " + "\n".join(lines)
    return _fail(409, message, "Conflict", {"causes": causes})


def _gvknn(obj: dict) -> str:
    """``objectGVKNN``: ``default/web; apps/v1, Kind=Deployment`` (``/v1`` for the core group)."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    api_version = str(obj.get("apiVersion") or "")
    group_version = api_version if "/" in api_version else "/" + api_version
    name = f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}"
    return f"{name}; {group_version}, Kind={obj.get('kind') or ''}"

