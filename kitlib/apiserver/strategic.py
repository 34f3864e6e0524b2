"""Strategic merge patch: the merge keys of the kinds the kit serves, and the merge that follows them.

A strategic merge patch is a JSON merge patch that knows, for every list it
meets, whether Kubernetes merges it element by element or replaces it whole.
kube-apiserver reads this from the Go types' struct tags
(``patchStrategy:"merge" patchMergeKey:"name"`` on ``PodSpec.Containers``);
:data:`KINDS` writes the same tags down, and :func:`strategic_merge` walks an
object and a patch side by side as apimachinery's ``strategicpatch`` package
does. :mod:`kitlib.apiserver.patch` decodes the request and calls it.

A schema is a dict from field name to either a nested schema (a struct whose
own fields matter) or a :class:`MergeList` (a list with patch strategy
``merge``, its merge key, and the schema of its elements). Any other field is
a default one: a map merges key by key, a list is atomic and is replaced.

    >>> schema = schema_for("apps/v1", "Deployment")
    >>> schema["spec"]["template"]["spec"]["containers"].key
    'name'
    >>> live = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    >>> patch = {"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "busybox"}]}}}}
    >>> [c["name"] for c in strategic_merge(live, patch, schema)["spec"]["template"]["spec"]["containers"]]
    ['log', 'web']

Directives steer the merge: ``$patch: replace|delete`` in a map or a list
element, ``$retainKeys`` (clear the fields not listed),
``$setElementOrder/<list>`` (the order of a merged list) and
``$deleteFromPrimitiveList/<list>``. A ``null`` deletes a field. Elements
new to a list go before the live ones unless an order is set. Failures are
kube-apiserver's: 400 for a malformed ``$retainKeys``, ``$setElementOrder``
or ``$deleteFromPrimitiveList``, 422 for a list of lists, and otherwise (a
missing merge key, an unknown ``$patch``, ``$patch: merge``) a bare 500 with
apimachinery's message, as kube passes those plain Go errors through.

Simplifications:
- Only fields with the ``merge`` strategy, and the structs that lead to them,
  are written down; a kind or field missing from the table merges maps and
  replaces lists. kube-apiserver refuses strategic merge for custom resources
  (415) and answers 500 for an unknown field present in object and patch.
- ``retainKeys`` strategies (``Deployment.spec.strategy``, Pod volumes) are
  left out: they only tell clients to send ``$retainKeys``, which the server
  honours wherever it appears.
- Lists that server-side apply keys on several fields (ports by port and
  protocol) merge, as in strategic merge patch, on the tag's one merge key.
- Kinds are keyed by API group and kind, not version.
- kube decodes the merged map into the Go type, dropping ``null`` members,
  leftover directives and unknown fields; the object stays a dict here, so
  values put in place whole (new fields, replaced lists, appended elements)
  are cleaned of ``null`` members and directives instead.
- Go walks a patch map in random order; this walks it in the patch's order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from kitlib.api.errors import APIError, BadRequest, from_status


@dataclass(frozen=True)
class MergeList:
    """A list with patch strategy ``merge``: elements match on ``key``; primitives when ``key`` is empty."""

    key: str = ""
    item: Mapping[str, "Field"] = field(default_factory=dict)


Field = Union[MergeList, Mapping[str, "Field"]]
Schema = Mapping[str, Field]

# k8s.io/apimachinery ObjectMeta, in every kind (and in pod templates).
OBJECT_META: Schema = {"finalizers": MergeList(), "ownerReferences": MergeList("uid")}

# k8s.io/api/core/v1 Container (and EphemeralContainerCommon, which has the same tags).
CONTAINER: Schema = {
    "ports": MergeList("containerPort"),
    "env": MergeList("name"),
    "volumeMounts": MergeList("mountPath"),
    "volumeDevices": MergeList("devicePath"),
}

POD_SPEC: Schema = {
    "containers": MergeList("name", CONTAINER),
    "initContainers": MergeList("name", CONTAINER),
    "ephemeralContainers": MergeList("name", CONTAINER),
    "volumes": MergeList("name"),
    "imagePullSecrets": MergeList("name"),
    "hostAliases": MergeList("ip"),
    "topologySpreadConstraints": MergeList("topologyKey"),
    "resourceClaims": MergeList("name"),
    "schedulingGates": MergeList("name"),
    # tolerations, readinessGates, dnsConfig lists: atomic (no patchStrategy tag).
}

POD_STATUS: Schema = {
    "conditions": MergeList("type"),
    "podIPs": MergeList("ip"),
    "hostIPs": MergeList("ip"),
    "resourceClaimStatuses": MergeList("name"),
    # containerStatuses and friends: atomic; the kubelet sends them whole.
}

POD_TEMPLATE_SPEC: Schema = {"metadata": OBJECT_META, "spec": POD_SPEC}

# The status of most workloads: conditions merge by type, so a controller can
# patch one condition without resending the others.
CONDITIONS: Schema = {"conditions": MergeList("type")}


def _kind(spec: Schema | None = None, status: Schema | None = None, **fields: Field) -> Schema:
    return {"metadata": OBJECT_META, "spec": spec or {}, "status": status or {}, **fields}


_WORKLOAD = _kind({"template": POD_TEMPLATE_SPEC}, CONDITIONS)

KINDS: dict[tuple[str, str], Schema] = {
    ("", "Pod"): _kind(POD_SPEC, POD_STATUS),
    ("", "PodTemplate"): {"metadata": OBJECT_META, "template": POD_TEMPLATE_SPEC},
    ("", "ReplicationController"): _WORKLOAD,
    ("apps", "Deployment"): _WORKLOAD,
    ("apps", "ReplicaSet"): _WORKLOAD,
    ("apps", "DaemonSet"): _WORKLOAD,
    ("apps", "StatefulSet"): _WORKLOAD,  # volumeClaimTemplates: atomic
    ("batch", "Job"): _WORKLOAD,
    ("batch", "CronJob"): _kind({"jobTemplate": {"metadata": OBJECT_META, "spec": {"template": POD_TEMPLATE_SPEC}}}),
    ("", "Service"): _kind({"ports": MergeList("port")}, CONDITIONS),
    ("", "Endpoints"): _kind(),  # subsets: atomic, the endpoints controller rewrites them whole
    ("discovery.k8s.io", "EndpointSlice"): _kind(),  # endpoints, ports: atomic
    ("", "Node"): _kind({"podCIDRs": MergeList()}, {"conditions": MergeList("type"), "addresses": MergeList("type")}),
    ("", "Namespace"): _kind(None, CONDITIONS),  # spec.finalizers: atomic, unlike metadata.finalizers
    ("", "PersistentVolumeClaim"): _kind(None, CONDITIONS),
    ("", "ServiceAccount"): _kind(secrets=MergeList("name")),  # imagePullSecrets: atomic here
    ("policy", "PodDisruptionBudget"): _kind(None, CONDITIONS),
    ("autoscaling", "HorizontalPodAutoscaler"): _kind(None, CONDITIONS),
    **{(group, kind): _kind() for group, kind in [
        ("", "ConfigMap"), ("", "Secret"), ("", "Event"), ("", "LimitRange"), ("", "ResourceQuota"),
        ("", "PersistentVolume"), ("coordination.k8s.io", "Lease"), ("events.k8s.io", "Event"),
        ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("autoscaling", "Scale"), ("scheduling.k8s.io", "PriorityClass"),
    ]},
}


def schema_for(api_version: str, kind: str) -> Schema:
    """The strategic merge schema of a kind; ``{}`` (every list atomic) for kinds not in :data:`KINDS`."""
    group = api_version.rpartition("/")[0]  # "apps/v1" -> "apps"; "v1" -> "" (the core group)
    return KINDS.get((group, kind), {})


# --- The merge, as k8s.io/apimachinery/pkg/util/strategicpatch applies a patch -------------------------------

DIRECTIVE, RETAIN_KEYS = "$patch", "$retainKeys"
DELETE_PREFIX, ORDER_PREFIX = "$deleteFromPrimitiveList", "$setElementOrder"
_MAP, _LIST = "map[string]interface {}", "[]interface {}"
_ABSENT = object()  # a key the object does not have (unlike one that holds null)


def strategic_merge(original: dict, patch: dict, schema: Schema) -> dict:
    """``original`` merged with ``patch`` (apimachinery's ``mergeMap``); both are changed: pass private copies."""
    if DIRECTIVE in patch:
        if patch[DIRECTIVE] == "replace":
            return _clean({k: v for k, v in patch.items() if k != DIRECTIVE})
        if patch[DIRECTIVE] == "delete":
            return {}
        raise _fail(500, f"unknown patch type: {_go(patch[DIRECTIVE])} in map: {_go(patch)}")
    _retain_keys(original, patch)
    _set_element_order(original, patch, schema)
    for key, value in patch.items():
        delete_list = key.startswith(DELETE_PREFIX)
        if delete_list:
            key = _field_of(key, DELETE_PREFIX, "invalid patch format of primitive list")
        current = original.get(key, _ABSENT)
        if value is None:  # null deletes the field (a null delete list too)
            original.pop(key, None)
        elif isinstance(current, dict) and isinstance(value, dict):
            sub = schema.get(key)
            original[key] = strategic_merge(current, value, sub if isinstance(sub, dict) else {})
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list(current, value, schema.get(key), delete_list)
        elif not delete_list or (current is not _ABSENT and _go_type(current) == _go_type(value)):
            value = _clean(value)  # a new field, or a new type: the patch's value, as decoding keeps it
            if value is _ABSENT:
                original.pop(key, None)
            else:
                original[key] = value
    return original


def _merge_list(original: list, patch: list, meta: Any, delete_list: bool) -> list:
    """``mergeSliceHandler``: lists tagged ``merge`` (and delete lists) merge; the others are replaced."""
    if not isinstance(meta, MergeList) and not delete_list:
        return _clean(patch)
    key, item_schema = (meta.key, meta.item) if isinstance(meta, MergeList) else ("", {})
    if not original and not patch:
        return original
    if _element_type(original, patch) != _MAP:
        if delete_list:
            doomed = {_key(v) for v in patch}
            return [v for v in original if _key(v) not in doomed]
        merged = list({_key(v): v for v in original + patch}.values())  # primitives: a set union
    else:
        if not key:
            raise _fail(500, "cannot merge lists without merge key")
        original, patch = _special_elements(original, patch, key)
        merged = list(original)
        for item in patch:
            wanted = _key(_merge_value(item, key))
            match = next((i for i, v in enumerate(merged) if key in v and _key(v[key]) == wanted), None)
            if match is None:
                merged.append(_clean(item))
            else:
                merged[match] = strategic_merge(merged[match], item, item_schema)
    return _order(merged, patch, original, key)


def _special_elements(original: list, patch: list, key: str) -> tuple[list, list]:
    """``mergeSliceWithSpecialElements``: apply the ``$patch`` elements; return the live list and the rest."""
    rest, replace = [], False
    for item in patch:
        directive = item.get(DIRECTIVE, _ABSENT)
        if directive is _ABSENT:
            rest.append(item)
        elif directive == "delete":
            doomed = _key(_merge_value(item, key))
            original = [v for v in original if not (key in v and _key(v[key]) == doomed)]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _fail(500, "merging lists cannot yet be specified in the patch")
        else:
            raise _fail(500, f"unknown patch type: {_go(directive)} in map: {_go(item)}")
    return ([_clean(v) for v in rest], []) if replace else (original, rest)


def _retain_keys(original: dict, patch: dict) -> None:
    """``$retainKeys``: clear the fields of ``original`` it does not list; the patch may set only listed ones."""
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    kept = {_key(k) for k in keep} if isinstance(keep, list) else set()
    if not isinstance(keep, list) or any(
            v is not None and not k.startswith((DELETE_PREFIX, ORDER_PREFIX)) and _key(k) not in kept
            for k, v in patch.items()):
        raise BadRequest("invalid patch format of retainKeys")
    for key in [k for k in original if _key(k) not in kept]:
        del original[key]


def _set_element_order(original: dict, patch: dict, schema: Schema) -> None:
    """``mergePatchIntoOriginal``: merge each list that has a ``$setElementOrder``, then put it in that order."""
    for directive in [k for k in patch if k.startswith(ORDER_PREFIX)]:
        order = patch.pop(directive)
        name = _field_of(directive, ORDER_PREFIX, "invalid patch format of setElementOrder list")
        live, new = original.get(name, _ABSENT), patch.get(name, _ABSENT)
        for value in (order, live, new):
            if value is not _ABSENT and not isinstance(value, list):
                raise _fail(500, f"expected a {_LIST}, but received a {_go_type(value)}")
        meta = schema.get(name)
        key = meta.key if isinstance(meta, MergeList) else ""
        live_list, new_list = ([] if v is _ABSENT else v for v in (live, new))
        _check_order(new_list, order, key)
        if live is _ABSENT and new is _ABSENT:
            continue
        if live is _ABSENT or new is _ABSENT:
            merged = live_list if new is _ABSENT else _clean(new_list)
        else:
            merged = _merge_list(live_list, new_list, meta, False)
        _element_type(live_list, new_list)
        original[name] = _order(merged, order, live_list, key)
        patch.pop(name, None)


def _check_order(patch_list: list, order: list, key: str) -> None:
    """``validatePatchWithSetOrderList``: the patch's elements must all be in ``order``, in its order."""
    if not order or not patch_list:
        return
    items = patch_list
    if key:  # elements must be maps; deletions take no place in the order
        for item in items:
            if not isinstance(item, dict):
                raise _fail(500, f"expected a {_MAP}, but received a {_go_type(item)}")
        items = [item for item in items if item.get(DIRECTIVE) != "delete"]
    i = j = 0  # walk both lists: every patch element must be found, in order
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and DIRECTIVE in items[i]:
            i += 1
            continue
        if _key(_merge_value(items[i], key)) == _key(_merge_value(order[j], key)):
            i += 1
        j += 1
    if i < len(items):
        raise _fail(500, f"the order in patch list:\n{_go(patch_list)}\n"
                         f" doesn't match {ORDER_PREFIX} list:\n{_go(order)}")


def _order(merged: list, wanted: list, live: list, key: str) -> list:
    """``normalizeElementOrder``: elements ``wanted`` names in its order, the others in ``live``'s, interleaved.

    A live-only element goes first only if the live list had it before the
    wanted one: the patch's order wins, the server's is kept where it can be.
    """
    def positions(items: list) -> dict[str, int]:
        found: dict[str, int] = {}
        for index, item in enumerate(items):
            found.setdefault(_key(_merge_value(item, key)), index)
        return found

    wanted_at, live_at = positions(wanted), positions(live)
    ours = sorted((v for v in merged if _key(_merge_value(v, key)) in wanted_at),
                  key=lambda v: wanted_at[_key(_merge_value(v, key))])
    theirs = sorted((v for v in merged if _key(_merge_value(v, key)) not in wanted_at),
                    key=lambda v: live_at.get(_key(_merge_value(v, key)), len(live)))
    result: list = []
    while ours or theirs:
        mine = live_at.get(_key(_merge_value(ours[0], key))) if ours else None
        other = live_at.get(_key(_merge_value(theirs[0], key))) if theirs else None
        take_theirs = not ours or (theirs and mine is not None and other is not None and other < mine)
        result.append(theirs.pop(0) if take_theirs else ours.pop(0))
    return result


def _merge_value(item: Any, key: str) -> Any:
    """What an element is matched on: its merge key's value, or itself in a list of primitives."""
    if not key:
        return item
    if not isinstance(item, dict):
        raise _fail(500, f"expected a {_MAP}, but received a {_go_type(item)}")
    if key not in item:
        raise _fail(500, f"map: {_go(item)} does not contain declared merge key: {key}")
    return item[key]


def _element_type(*lists: list) -> str:
    """``sliceElementType``: the one Go type of all elements, the first one's; lists of lists are refused."""
    types = [_go_type(v) for values in lists for v in values]
    if types and types[0] == _LIST:
        raise _fail(422, "the server rejected our request due to an error in our request",
                    [{"reason": "UnexpectedServerResponse", "message": "lists of lists are not supported"}])
    if len(set(types)) > 1:
        raise _fail(500, f"list element types are not identical: {_go(list(lists))}")
    if not types:
        raise _fail(500, "no elements in any of the given slices")
    return types[0]


def _field_of(directive: str, prefix: str, error: str) -> str:
    head, slash, name = directive.partition("/")
    if not slash or head != prefix:
        raise BadRequest(error)
    return name


def _clean(value: Any) -> Any:
    """A patch value as the decoded object holds it: no null members, no directives; a map with ``$patch`` is gone."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return _ABSENT
        cleaned = {k: _clean(v) for k, v in value.items()
                   if v is not None and k != RETAIN_KEYS and not k.startswith((DELETE_PREFIX, ORDER_PREFIX))}
        return {k: v for k, v in cleaned.items() if v is not _ABSENT}
    if isinstance(value, list):
        return [c for c in map(_clean, value) if c is not _ABSENT]
    return value


def _fail(code: int, message: str, causes: list | None = None) -> APIError:
    """The error kube-apiserver sends: a bare 500 for a plain Go error, or a 422 with the library's words as cause."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": "Invalid" if code == 422 else "", "code": code}
    if causes:
        body["details"] = {"causes": causes}
    return from_status(body)


def _key(value: Any) -> str:
    """A canonical text for JSON equality, as Go compares decoded values: 1, 1.0, "1" and true all differ."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _go_type(value: Any) -> str:
    """The Go type of a decoded JSON value, as ``reflect.TypeOf`` prints it."""
    if isinstance(value, (dict, list)):
        return _MAP if isinstance(value, dict) else _LIST
    return {str: "string", bool: "bool", int: "int64", float: "float64"}.get(type(value), "%!s(<nil>)")


def _go(value: Any) -> str:
    """``value`` as Go's ``%v`` prints a decoded JSON value (``map[image:nginx name:web]``)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(map(_go, value)) + "]"
    if value is None or isinstance(value, bool):
        return {None: "<nil>", True: "true", False: "false"}[value]
    return f"{value:g}" if isinstance(value, float) and float(f"{value:g}") == value else str(value)
