"""OpenAPI v3: the documents kube-apiserver serves at ``/openapi/v3`` so clients can learn the kinds' fields.

``kubectl`` reads them for three things. ``kubectl apply`` (client side)
computes its strategic merge patch from the schema of the kind it applies:
which lists merge by which key (``x-kubernetes-patch-merge-key``). Before
any write it checks that the kind's PATCH operation takes a
``fieldValidation`` parameter, and only then leaves validation to the
server (``--validate=strict`` becomes ``?fieldValidation=Strict``).
``kubectl explain deployment.spec`` prints a schema and its descriptions.

``GET /openapi/v3`` answers :func:`index`: one entry per group version,
``{"paths": {"apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=..."}}}``;
the hash is the SHA-512 of the document's bytes (kube-openapi's ETag), so a
client caches a document for as long as its URL stays the same. Each URL
answers :func:`group_version_document`, an OpenAPI 3.0 document with:

- ``paths``: every REST path of the group version, built from the resource
  table through :func:`kitlib.apiserver.discovery.api_resource_list`; each
  operation carries ``x-kubernetes-action`` (get, list, post, put, patch,
  delete, deletecollection, watch, watchlist) and
  ``x-kubernetes-group-version-kind``, and writes take ``dryRun``,
  ``fieldManager`` and ``fieldValidation`` (PATCH also ``force``);
- ``components.schemas``: one schema per type the paths reach, built from
  :func:`kitlib.apiserver.schema.fields_of`, named as kube names them, with
  ``allOf: [{$ref}]`` for struct fields, the patch tags of
  :mod:`kitlib.apiserver.strategic`, and the group-version-kind on kinds.

Type names: ``io.k8s.apimachinery.pkg.apis.meta.v1.<T>`` for the meta types,
the apimachinery names for Time, Quantity, IntOrString and RawExtension, and
otherwise ``io.k8s.api.<group>.<version>.<T>``, where the group is that of
the first served kind the type is reached from, core kinds first (so
``Container`` is ``core``, ``DeploymentStrategy`` is ``apps``); a core
PersistentVolumeClaim is seeded as a root because only a StatefulSet holds one.

Simplifications:
- Descriptions come from the Python client's docstrings, which have them
  for fields of plain types only (not for struct-typed fields, nor for the
  types themselves); operations and parameters carry short ones.
- No ``required`` lists, defaults, ``x-kubernetes-list-type``/``map-keys``
  (server-side apply's), enums or validation keywords; only JSON responses.
- Patch strategies are the ``merge`` lists of :mod:`~kitlib.apiserver.strategic`
  plus the two ``retainKeys`` fields kubectl meets (a Deployment's
  ``strategy``, a PodSpec's ``volumes``); no ``apply-patch+yaml`` body type.
- Each document holds only the types its own paths reach, as kube's do,
  and no ``/api``, ``/apis`` or ``/version`` documents are listed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, Mapping

from kitlib.apiserver import discovery, schema, strategic
from kitlib.apiserver.patch import PATCH_TYPES
from kitlib.apiserver.resources import RESOURCES
from kitlib.apiserver.schema import FieldType

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_META_TYPES = {"ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement", "ManagedFieldsEntry",
               "OwnerReference", "Status", "StatusDetails", "StatusCause", "DeleteOptions", "Preconditions",
               "Condition", "WatchEvent", "APIResource", "APIResourceList"}
# Types with no client model: (schema name, schema).
_SPECIAL = {
    "time": (f"{META}.Time", {"type": "string", "format": "date-time", "description": "An RFC 3339 time in seconds."}),
    "microtime": (f"{META}.MicroTime", {"type": "string", "format": "date-time",
                                        "description": "An RFC 3339 time with microseconds."}),
    "fieldsv1": (f"{META}.FieldsV1", {"type": "object", "description": "A set of fields, as managedFields keep it."}),
    "intstr": ("io.k8s.apimachinery.pkg.util.intstr.IntOrString",
               {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}],
                "description": "An int32 or a string."}),
    "quantity": ("io.k8s.apimachinery.pkg.api.resource.Quantity",
                 {"oneOf": [{"type": "string"}, {"type": "number"}], "description": "A quantity: 100m, 1Gi, 2."}),
    "raw": ("io.k8s.apimachinery.pkg.runtime.RawExtension", {"type": "object", "description": "Any object."}),
}
PATCH_SCHEMA = f"{META}.Patch"
# kube's retainKeys strategies on the served kinds: kubectl then sends $retainKeys, so that
# switching a Deployment to Recreate clears rollingUpdate.
_RETAIN_KEYS = {("V1DeploymentSpec", "strategy"), ("V1PodSpec", "volumes")}
_META_ROOTS = [("V1DeleteOptions", ""), ("V1Status", ""), ("V1WatchEvent", ""), ("V1APIResourceList", "")]
_EXTRA_ROOTS = [("V1PersistentVolumeClaim", "")]  # core, though only a StatefulSet's template holds one


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _group_versions() -> list[tuple[str, str]]:
    return list(dict.fromkeys((r.group, r.version) for r in RESOURCES))


# --- Which types exist, and their names ----------------------------------------------------------------------

@functools.cache
def _roots() -> list[tuple[str, str, str, str]]:
    """(model, group, version, kind) of every kind a document names: resources, their lists, subresource bodies."""
    found: dict[tuple[str, str, str], None] = {}
    for group, version in _group_versions():
        for entry in discovery.api_resource_list(group, version)["resources"]:
            g, v, kind = entry.get("group", group), entry.get("version", version), entry["kind"]
            found.update(dict.fromkeys((g, v, k) for k in ([kind] if "/" in entry["name"] else [kind, f"{kind}List"])))
    models = [(schema.model_for(f"{g}/{v}" if g else v, k), g, v, k) for g, v, k in found]
    return [(m, g, v, k) for m, g, v, k in models if m]


def _leaf(t: FieldType) -> FieldType:
    """The element type at the bottom of lists and maps."""
    return _leaf(t.of) if t.of is not None else t


def _reachable(model: str, seen: dict[str, None]) -> None:
    """Every model a model's fields lead to, depth first, into ``seen`` (in order)."""
    if model in seen:
        return
    seen[model] = None
    for t in map(_leaf, schema.fields_of(model).values()):
        if t.kind == "struct":
            _reachable(t.model, seen)


@functools.cache
def schema_names() -> dict[str, str]:
    """Model -> kube's schema name; a type takes the group of the first root it is reached from, core first."""
    roots = [(m, g) for m, g, _, _ in _roots()] + _META_ROOTS + _EXTRA_ROOTS
    names: dict[str, str] = {}
    for model, group in sorted(roots, key=lambda root: root[1] != ""):  # stable: core first, then table order
        seen: dict[str, None] = {}
        _reachable(model, seen)
        for found in seen:
            short, version = schema.go_name(found), schema.model_version(found)
            if found not in names:
                package = META if short in _META_TYPES and version == "v1" else \
                    f"io.k8s.api.{group.split('.')[0] or 'core'}.{version}"
                names[found] = f"{package}.{short}"
    return names


@functools.cache
def _patch_tags() -> dict[tuple[str, str], tuple[str, str]]:
    """(model, field) -> (patch strategy, merge key), from strategic's tables and :data:`_RETAIN_KEYS`."""
    tags: dict[tuple[str, str], tuple[str, str]] = {}

    def walk(table: Mapping[str, Any], model: str) -> None:
        fields = schema.fields_of(model)
        for name, meta in table.items():
            t = fields.get(name)
            if t is None:
                continue
            if isinstance(meta, strategic.MergeList):
                tags[(model, name)] = ("merge", meta.key)
                meta, t = meta.item, t.of or t  # the elements' own fields may hold merge lists too
            if t.kind == "struct" and meta:
                walk(meta, t.model)

    versions = {(g, k): v for m, g, v, k in _roots()}
    for (group, kind), table in strategic.KINDS.items():
        version = versions.get((group, kind), "v1")
        model = schema.model_for(f"{group}/{version}" if group else version, kind)
        if model:
            walk(table, model)
    for model, name in _RETAIN_KEYS:
        strategy, key = tags.get((model, name), ("", ""))
        tags[(model, name)] = (f"{strategy},retainKeys" if strategy else "retainKeys", key)
    return tags


# --- Schemas -------------------------------------------------------------------------------------------------

def _type_schema(t: FieldType) -> dict:
    """A field's schema, as kube-openapi writes it for OpenAPI 3 (structs behind ``allOf``)."""
    if t.kind == "list":
        return {"type": "array", "items": _type_schema(t.of)}  # type: ignore[arg-type]
    if t.kind == "map":
        return {"type": "object", "additionalProperties": _type_schema(t.of)}  # type: ignore[arg-type]
    if t.kind == "struct":
        return {"allOf": [_ref(schema_names()[t.model])]}
    if t.kind in _SPECIAL:
        return {"allOf": [_ref(_SPECIAL[t.kind][0])]}
    if t.kind == "integer":
        return {"type": "integer", "format": f"int{t.bits}"}
    return {"string": {"type": "string"}, "boolean": {"type": "boolean"},
            "number": {"type": "number", "format": "double"}}[t.kind]


def _model_schema(model: str, gvks: list[dict]) -> dict:
    docs, tags, properties = schema.descriptions(model), _patch_tags(), {}
    for name, t in schema.fields_of(model).items():
        prop = _type_schema(t)
        if docs.get(name):
            prop["description"] = docs[name]
        strategy, key = tags.get((model, name), ("", ""))
        if key:
            prop["x-kubernetes-patch-merge-key"] = key
        if strategy:
            prop["x-kubernetes-patch-strategy"] = strategy
        properties[name] = prop
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if gvks:
        out["x-kubernetes-group-version-kind"] = gvks
    return out


def _components(roots: list[str]) -> dict[str, dict]:
    seen: dict[str, None] = {}
    for root in roots:
        _reachable(root, seen)
    gvks: dict[str, list[dict]] = {}
    for model, group, version, kind in _roots():
        gvks.setdefault(model, []).append({"group": group, "kind": kind, "version": version})
    for model, _ in _META_ROOTS:
        gvks.setdefault(model, [{"group": "", "kind": schema.go_name(model), "version": "v1"}])
    names = schema_names()
    out = {names[m]: _model_schema(m, gvks.get(m, [])) for m in seen}
    specials = {t.kind for m in seen for t in map(_leaf, schema.fields_of(m).values()) if t.kind in _SPECIAL}
    out.update({_SPECIAL[k][0]: dict(_SPECIAL[k][1]) for k in specials})
    out[PATCH_SCHEMA] = {"type": "object", "description": "The body of a PATCH; its format is its Content-Type."}
    return dict(sorted(out.items()))


# --- Paths ---------------------------------------------------------------------------------------------------

def _param(name: str, kind: str, text: str, where: str = "query") -> dict:
    out = {"description": text, "in": where, "name": name, "schema": {"type": kind, "uniqueItems": True}}
    return out | {"required": True} if where == "path" else out


_PRETTY = _param("pretty", "string", "If 'true', then the output is pretty printed.")
_NAMESPACE = _param("namespace", "string", "object name and auth scope, such as for teams and projects", "path")
_LIST_PARAMS = [_param(*p) for p in (
    ("allowWatchBookmarks", "boolean", "Ask for BOOKMARK events in a watch."),
    ("continue", "string", "The continue token of the previous page of a chunked list."),
    ("fieldSelector", "string", "A selector on the objects' fields. Defaults to everything."),
    ("labelSelector", "string", "A selector on the objects' labels. Defaults to everything."),
    ("limit", "integer", "The most objects to return; the rest follow with the continue token."),
    ("resourceVersion", "string", "The resource version the list or watch is served from."),
    ("resourceVersionMatch", "string", "How resourceVersion applies to a list: Exact or NotOlderThan."),
    ("sendInitialEvents", "boolean", "Begin a watch with the current objects as ADDED events."),
    ("timeoutSeconds", "integer", "The time limit of the list or watch call."),
    ("watch", "boolean", "Watch for changes to the described resources."))]
_WRITE_PARAMS = [_param(*p) for p in (
    ("dryRun", "string", "When present (All), the change is validated but not persisted."),
    ("fieldManager", "string", "The name of the actor making the change."),
    ("fieldValidation", "string", "What to do with unknown or duplicate fields: Ignore, Warn (the default) "
                                  "or Strict (fail the request)."))]
_FORCE = _param("force", "boolean", "Force an apply request, taking conflicting fields from other managers.")
_DELETE_PARAMS = [_WRITE_PARAMS[0]] + [_param(*p) for p in (
    ("gracePeriodSeconds", "integer", "The seconds before the object is deleted; zero means at once."),
    ("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    ("propagationPolicy", "string", "Garbage collection of dependents: Orphan, Background or Foreground."))]
_JSON = "application/json"


def _body(name: str) -> dict:
    return {"content": {_JSON: {"schema": _ref(name)}}, "required": True}


def _answers(name: str | None, *codes: str, stream: bool = False) -> dict:
    schema_ = _ref(name) if name else {"type": "string"}
    content = {_JSON: {"schema": schema_}} if name else {"text/plain": {"schema": schema_}}
    if stream:
        content[f"{_JSON};stream=watch"] = {"schema": schema_}
    words = {"200": "OK", "201": "Created", "202": "Accepted"}
    return {code: {"content": content, "description": words[code]} for code in codes}


def _gv_camel(group: str, version: str) -> str:
    words = group.removesuffix(".k8s.io").split(".") if group else ["core"]
    return "".join(w[:1].upper() + w[1:] for w in words) + version.capitalize()


def _operation(action: str, op_id: str, gvk: dict, tag: str, kind_name: str | None, list_name: str) -> dict:
    """One operation, as kube-apiserver's installer describes it."""
    status, options = f"{META}.Status", {"content": {_JSON: {"schema": _ref(f"{META}.DeleteOptions")}}}
    shapes: dict[str, tuple[list, dict | None, dict]] = {
        "get": ([], None, _answers(kind_name, "200")),
        "list": (_LIST_PARAMS, None, _answers(list_name, "200", stream=True)),
        "watch": (_LIST_PARAMS, None, _answers(f"{META}.WatchEvent", "200", stream=True)),
        "watchlist": (_LIST_PARAMS, None, _answers(f"{META}.WatchEvent", "200", stream=True)),
        "post": (_WRITE_PARAMS, _body(kind_name or ""), _answers(kind_name, "200", "201", "202")),
        "put": (_WRITE_PARAMS, _body(kind_name or ""), _answers(kind_name, "200", "201")),
        "patch": (_WRITE_PARAMS + [_FORCE], {"content": {t: {"schema": _ref(PATCH_SCHEMA)} for t in PATCH_TYPES},
                                             "required": True}, _answers(kind_name, "200", "201")),
        "delete": (_DELETE_PARAMS, options, _answers(status, "200", "202")),
        "deletecollection": (_DELETE_PARAMS + _LIST_PARAMS, options, _answers(status, "200")),
    }
    params, body, responses = shapes[action]
    out: dict[str, Any] = {"description": f"{action} {gvk['kind']}", "operationId": op_id}
    if params:
        out["parameters"] = params
    if body:
        out["requestBody"] = body
    out.update(responses=responses, tags=[tag], **{"x-kubernetes-action": action,
                                                 "x-kubernetes-group-version-kind": gvk})
    return out


# HTTP method and operationId verb of each action.
_ACTIONS = {"list": ("get", "list"), "post": ("post", "create"), "deletecollection": ("delete", "delete"),
            "get": ("get", "read"), "put": ("put", "replace"), "patch": ("patch", "patch"),
            "delete": ("delete", "delete"), "watch": ("get", "watch"), "watchlist": ("get", "watch")}
_BY_VERB = {"list": "list", "create": "post", "deletecollection": "deletecollection", "get": "get",
            "update": "put", "patch": "patch", "delete": "delete"}


def _paths(group: str, version: str) -> tuple[dict, list[str]]:
    """Every path of a group version, and the models its operations name."""
    prefix, camel = "/" + _gv_path(group, version), _gv_camel(group, version)
    tag = camel[:1].lower() + camel[1:-len(version)] + "_" + version
    names, paths, used = schema_names(), {}, []
    entries = discovery.api_resource_list(group, version)["resources"]
    parents = {e["name"]: e for e in entries if "/" not in e["name"]}

    def model(g: str, v: str, kind: str) -> str | None:
        found = schema.model_for(f"{g}/{v}" if g else v, kind)
        if found:
            used.append(found)
        return names[found] if found else None

    def add(path: str, action: str, entry: dict, suffix: str = "", all_namespaces: bool = False) -> None:
        parent = parents[entry["name"].split("/")[0]]
        gvk = {"group": entry.get("group", group), "kind": entry["kind"], "version": entry.get("version", version)}
        method, verb = _ACTIONS[action]
        scope = "Namespaced" if parent["namespaced"] and not all_namespaces else ""
        op_id = (f"{verb}{camel}{'Collection' if action == 'deletecollection' else ''}{scope}{parent['kind']}"
                 f"{suffix}{'List' if action == 'watchlist' else ''}{'ForAllNamespaces' if all_namespaces else ''}")
        kind_name = None if suffix == "Log" else model(gvk["group"], gvk["version"], gvk["kind"])
        item = paths.setdefault(path, {})
        item[method] = _operation(action, op_id, gvk, tag, kind_name,
                                  model(group, version, parent["kind"] + "List") or "")
        params = [p for p in (_param("name", "string", f"name of the {gvk['kind']}", "path"),) if "{name}" in path]
        item["parameters"] = params + ([_NAMESPACE] if "{namespace}" in path else []) + [_PRETTY]

    for entry in entries:
        plural, _, sub = entry["name"].partition("/")
        scoped = f"{prefix}/namespaces/{{namespace}}/{plural}" if entry["namespaced"] else f"{prefix}/{plural}"
        verbs = set(entry["verbs"])
        if sub:
            for verb in sorted(verbs):
                add(f"{scoped}/{{name}}/{sub}", _BY_VERB[verb], entry, sub.capitalize())
            continue
        for verb in ("list", "create", "deletecollection"):
            if verb in verbs:
                add(scoped, _BY_VERB[verb], entry)
        for verb in ("get", "update", "patch", "delete"):
            if verb in verbs:
                add(f"{scoped}/{{name}}", _BY_VERB[verb], entry)
        if entry["namespaced"] and "list" in verbs:
            add(f"{prefix}/{plural}", "list", entry, all_namespaces=True)
        if "watch" in verbs:
            watch = scoped.replace(prefix, f"{prefix}/watch", 1)
            add(watch, "watchlist", entry)
            add(f"{watch}/{{name}}", "watch", entry)
            if entry["namespaced"]:
                add(f"{prefix}/watch/{plural}", "watchlist", entry, all_namespaces=True)
    return dict(sorted(paths.items())), used


# --- Documents -----------------------------------------------------------------------------------------------

def _build(group: str, version: str) -> dict:
    paths, used = _paths(group, version)
    roots = list(dict.fromkeys(used + [m for m, _ in _META_ROOTS]))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": discovery.version_info()["gitVersion"]},
        "paths": paths,
        "components": {"schemas": _components(roots),
                       "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication",
                                                           "in": "header", "name": "authorization",
                                                           "type": "apiKey"}}},
        "security": [{"BearerToken": []}],
    }


@functools.cache
def _documents() -> dict[str, tuple[bytes, str]]:
    """Every document as the bytes served and their hash, built once (a few hundred ms)."""
    out = {}
    for group, version in _group_versions():
        body = json.dumps(_build(group, version), sort_keys=True, separators=(",", ":")).encode()
        out[_gv_path(group, version)] = (body, hashlib.sha512(body).hexdigest().upper())
    return out


def _key(path: str) -> str:
    """``/openapi/v3/apis/apps/v1?hash=...`` -> ``apis/apps/v1``."""
    return path.split("?", 1)[0].strip("/").removeprefix("openapi/v3").strip("/")


def index() -> dict:
    """``GET /openapi/v3``: every served group version and the URL of its document, hash included."""
    return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
                      for gv, (_, digest) in _documents().items()}}


def document_bytes(path: str) -> tuple[bytes, str] | None:
    """The bytes to serve for ``/openapi/v3/<gv>`` and their hash (the ETag), or ``None`` if not served.

    kube answers a request whose ``hash`` differs from the current one with a
    301 to the current URL, and one that matches with ``Cache-Control:
    public, immutable``.
    """
    return _documents().get(_key(path))


def group_version_document(path: str) -> dict | None:
    """``GET /openapi/v3/api/v1`` or ``.../apis/<group>/<version>``: a fresh copy of the document, or ``None``."""
    found = document_bytes(path)
    return json.loads(found[0]) if found else None
