"""Field paths and field sets: how server-side apply names the parts of an object, and writes them as fieldsV1.

Server-side apply (``sigs.k8s.io/structured-merge-diff``) records who owns
which field. A *path* walks from an object's root to one of its parts, one
*path element* per step, each kept as the key it gets in ``fieldsV1``:
``f:replicas`` (a field of a struct or a key of a map), ``k:{"name":"nginx"}``
(the element of an associative list with these key values),
``v:"example.com/cleanup"`` (an element of a set, a list of primitives that
merges) and ``i:0`` (an atomic list's element by index; never produced here,
as an atomic list is owned whole, as one leaf). A *field set* is a Python
set of paths; ``fieldsV1`` writes it as a trie in which ``{}`` ends a path
and ``".": {}`` marks a node owned itself as well as through its children.

    >>> to_fields({("f:spec", "f:replicas"), ("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:app")})
    {'f:metadata': {'f:labels': {'.': {}, 'f:app': {}}}, 'f:spec': {'f:replicas': {}}}
    >>> path_string(("f:spec", 'k:{"name":"nginx"}', "f:image"))
    '.spec[name="nginx"].image'

The walks over objects follow structured-merge-diff's ``typed`` package:
:func:`object_fields` (``ToFieldSet``), :func:`compare`, :func:`merge`.

Simplifications:
- kube reads every field's type from OpenAPI; the kit knows only the
  strategic merge table (:mod:`kitlib.apiserver.strategic`): a list with a
  merge key is associative on that one key (kube keys container ports on
  ``containerPort`` and ``protocol``), a list without one is a set, any other
  list is atomic, and any other object is a map, merged key by key.
- Atomic objects are recognised by shape: an object holding ``matchLabels``
  or ``matchExpressions`` is a ``metav1.LabelSelector``, and ``roleRef`` a
  ``RoleRef``, both ``+structType=atomic`` in kube.
- Struct fields and map keys are alike: :func:`ensure_named_fields` treats
  every ``f:`` as a named field. Values are not checked against their types.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from kitlib.api.field import go_quote
from kitlib.apiserver.strategic import MergeList

Path = tuple[str, ...]
ABSENT: Any = object()  # a field the object does not have (unlike one that holds null)

# What one node of an object is for apply: a map merged key by key, a list merged element by element (on a key, or
# on the value for a set), or a leaf owned and replaced whole.
MAP, ASSOC, SET, LEAF = "map", "assoc", "set", "leaf"

_SELECTOR_FIELDS = ("matchLabels", "matchExpressions")
# encoding/json escapes these even inside strings; fieldsV1 keys are Go's JSON, so they must match byte for byte.
_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


class FieldPathError(ValueError):
    """An object that has no field set: a list element without its key, or two elements with the same key."""


def json_text(value: Any) -> str:
    """``value`` as Go marshals it: compact, keys sorted, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escaped in _GO_ESCAPES:
        text = text.replace(char, escaped)
    return text


def same(a: Any, b: Any) -> bool:
    """JSON equality as Go's ``value.Equals``: ``1 == 1.0``, but ``true != 1`` (which Python's ``==`` accepts)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


# --- What a node is ----------------------------------------------------------------------------------------------


def child_meta(meta: Any, name: str) -> Any:
    """The schema of field ``name`` of a struct described by ``meta`` (``None`` when the table says nothing)."""
    return meta.get(name) if isinstance(meta, dict) else None


def kind_of(meta: Any, name: str, value: Any) -> str:
    """:data:`MAP`, :data:`ASSOC`, :data:`SET` or :data:`LEAF`, for ``value`` held in field ``name``."""
    if isinstance(meta, MergeList) and isinstance(value, list):
        return ASSOC if meta.key else SET
    if isinstance(value, dict) and not isinstance(meta, MergeList):
        return LEAF if name == "roleRef" or any(f in value for f in _SELECTOR_FIELDS) else MAP
    return LEAF


def node_kind(meta: Any, name: str, a: Any, b: Any) -> str:
    """The kind of a node seen in two objects; null or absent takes the other side's shape (Go's typed nil)."""
    kinds = {kind_of(meta, name, v) for v in (a, b) if v is not ABSENT and v is not None}
    return kinds.pop() if len(kinds) == 1 else LEAF


def empty(value: Any) -> bool:
    """Absent, null, ``{}`` or ``[]``: two empty nodes compare and merge as leaves (``emptyPromoteToLeaf``)."""
    return value is ABSENT or value is None or value == {} or value == []


def element(meta: MergeList, item: Any) -> str:
    """The path element of one list element: ``k:`` on the merge key, ``v:`` with the value in a set."""
    if not meta.key:
        return "v:" + json_text(item)
    if not isinstance(item, dict):
        raise FieldPathError("associative list with keys may not have non-map elements")
    if meta.key not in item:
        raise FieldPathError(f"associative list with keys has an element that omits key field {go_quote(meta.key)} "
                             "(and doesn't have default value)")
    return "k:" + json_text({meta.key: item[meta.key]})


def elements(items: list, meta: MergeList, path: Path, errors: list[str] | None = None) -> list[tuple[str, Any]]:
    """``(path element, item)`` per element, the first of each key only; with ``errors`` (an applied
    configuration), unkeyed and repeated elements are reported, else (kube's ``AllowDuplicates``) skipped."""
    out, seen = [], set()
    for index, item in enumerate(items):
        try:
            pe = element(meta, item)
        except FieldPathError as err:
            if errors is not None:
                errors.append(f"{path_string(path)}: element {index}: {err}")
            continue
        if pe in seen and errors is not None:
            errors.append(f"{path_string(path)}: duplicate entries for key {path_string((pe,))}")
        elif pe not in seen:
            seen.add(pe)
            out.append((pe, item))
    return out


# --- Walks over objects ------------------------------------------------------------------------------------------


def object_fields(obj: dict, schema: Mapping) -> set[Path]:
    """Every path an applied configuration sets (``ToFieldSet``); :class:`FieldPathError` for a bad list."""
    out: set[Path] = set()
    errors: list[str] = []

    def walk(node: dict, meta: Any, path: Path) -> None:
        for name, value in node.items():
            sub, here = child_meta(meta, name), path + ("f:" + name,)
            kind = kind_of(sub, name, value)
            if kind == MAP and value:
                walk(value, sub, here)  # a map is owned through its fields, not itself
            elif kind in (ASSOC, SET):
                for pe, item in elements(value, sub, here, errors):
                    out.add(here + (pe,))  # an element is owned itself (".") and through its fields
                    if kind == ASSOC:
                        walk(item, sub.item, here + (pe,))
            else:
                out.add(here)  # leaves, atomic lists and objects, empty maps, nulls

    walk(obj, schema, ())
    if errors:
        raise FieldPathError(errors[0] if len(errors) == 1 else "\n  ".join(["errors:", *errors]))
    return out


class Comparison:
    """What changed from one version of an object to the next (``typed.Comparison``)."""

    def __init__(self) -> None:
        self.added: set[Path] = set()
        self.modified: set[Path] = set()
        self.removed: set[Path] = set()


def compare(before: dict, after: dict, schema: Mapping, zero: Mapping) -> Comparison:
    """The paths ``after`` added, modified and removed relative to ``before``.

    ``zero`` is the skeleton of the fields a Go object always has
    (non-pointer structs such as ``spec.template``, and ``containers:
    null``): kube compares Go objects, so such a field is never added itself
    (no ``"."`` in ``fieldsV1``); only what is put inside it is.
    """
    out = Comparison()

    def node(a: Any, b: Any, meta: Any, name: str, zero: Any, path: Path) -> None:
        if type(a) is type(b) and isinstance(a, (dict, list)) and a == b:
            # An unchanged subtree holds no change: skip walking it (``==`` runs in C). Most updates change
            # a few leaves (a Lease's renewTime, a status condition), so this is most of compare's work saved.
            return
        kind = node_kind(meta, name, a, b)
        if kind == MAP and not (empty(a) and empty(b)):
            fields(a if isinstance(a, dict) else {}, b if isinstance(b, dict) else {}, meta, zero, path)
        elif kind in (ASSOC, SET) and not (empty(a) and empty(b)):
            item_meta = meta.item if meta.key else None
            left, right = (dict(elements(v if isinstance(v, list) else [], meta, path)) for v in (a, b))
            for pe in list(right) + [pe for pe in left if pe not in right]:
                node(left.get(pe, ABSENT), right.get(pe, ABSENT), item_meta, "", None, path + (pe,))
        elif a is not ABSENT and b is not ABSENT:
            if not same(a, b):
                out.modified.add(path)
            return
        if a is ABSENT:
            out.added.add(path)
        elif b is ABSENT:
            out.removed.add(path)

    def fields(a: dict, b: dict, meta: Any, zero: Any, path: Path) -> None:
        zero = zero if isinstance(zero, dict) else {}
        for name in list(a) + [k for k in b if k not in a]:
            left, right = a.get(name, ABSENT), b.get(name, ABSENT)
            if name in zero:  # a field Go always has: absent is empty, neither added nor removed
                blank = {} if isinstance(zero[name], dict) else None
                left, right = (blank if v is ABSENT else v for v in (left, right))
            node(left, right, child_meta(meta, name), name, zero.get(name), path + ("f:" + name,))

    fields(before, after, schema, zero, ())
    return out


def merge(live: Any, applied: Any, meta: Any, name: str = "") -> Any:
    """``applied`` merged into ``live`` (``Merge``): maps by key, keyed lists by element, leaves replaced."""
    kind = node_kind(meta, name, live, applied)
    if empty(live) and empty(applied) or kind_of(meta, name, applied) != kind or kind == LEAF:
        return _clean(applied)
    if kind in (ASSOC, SET):
        return _merge_list(live if isinstance(live, list) else [], applied, meta)
    out = dict(live) if isinstance(live, dict) else {}
    for key, value in applied.items():
        if value is None:
            out.pop(key, None)  # the applier owns the field, and Go drops the null it merged
        else:
            out[key] = merge(out.get(key, ABSENT), value, child_meta(meta, key), key)
    return out


def _merge_list(live: list, applied: list, meta: MergeList) -> list:
    """Both lists' elements in structured-merge-diff's order (``visitListItems``).

    The applied order wins among the elements both have; an element only
    the live list has keeps its place next to its live neighbours.
    """
    left, right = elements(live, meta, ()), elements(applied, meta, ())
    left_at, right_at = dict(left), dict(right)
    shared = iter([pe for pe, _ in right if pe in left_at])
    next_shared, done, out = next(shared, None), set(), []
    li = ri = 0
    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right) and left[li][0] != right[ri][0]:
            if left[li][0] in right_at and next_shared not in (None, left[li][0]):
                li += 1  # shared, but the applied order puts it later: taken there
                continue
        if li < len(left) and (left[li][0] not in right_at or left[li][0] in done):
            if left[li][0] not in right_at:
                out.append(left[li][1])  # live only
            li += 1
            continue
        pe = right[ri][0]
        item = right_at[pe]
        out.append(merge(left_at.get(pe, ABSENT), item, meta.item) if meta.key else _clean(item))
        done.add(pe)
        if li < len(left) and left[li][0] == pe:
            li += 1
        ri += 1
        if pe == next_shared:
            next_shared = next(shared, None)
    kept = {id(item) for _, item in left}
    return out + [item for item in live if id(item) not in kept]  # unkeyed live elements (kube refuses them)


def _clean(value: Any) -> Any:
    """An applied value put in place whole, without its null members (decoding into Go drops them)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    return [_clean(v) for v in value] if isinstance(value, list) else value


def prune(obj: dict, meta: Any, last: set[Path], owned: set[Path], path: Path = ()) -> None:
    """Remove, in place, each node applied ``last`` time that no one ``owned`` now (``Updater.prune``)."""
    for name in list(obj):
        here, value, sub = path + ("f:" + name,), obj[name], child_meta(meta, name)
        kind = kind_of(sub, name, value)
        if here in last and here not in owned:
            del obj[name]
        elif kind == MAP:
            prune(value, sub, last, owned, here)
        elif kind in (ASSOC, SET):
            keyed = {id(item): pe for pe, item in elements(value, sub, here)}
            obj[name] = [item for item in value if id(item) not in keyed
                         or here + (keyed[id(item)],) not in last or here + (keyed[id(item)],) in owned]
            for item in obj[name]:
                if kind == ASSOC and id(item) in keyed:
                    prune(item, sub.item, last, owned, here + (keyed[id(item)],))


def ensure_named_fields(paths: Iterable[Path]) -> set[Path]:
    """``paths`` plus the fields leading to them (``EnsureNamedFieldsAreMembers``): pruning removes whole
    nodes, and ``.spec.strategy`` counts as owned (or last applied) when ``.spec.strategy.type`` is."""
    out = set(paths)
    out.update(p[:i] for p in list(out) for i in range(1, len(p)) if p[i - 1].startswith("f:"))
    return out


# --- Order, printing and fieldsV1 ---------------------------------------------------------------------------------


def _value_order(value: Any) -> tuple:
    # value.Compare: numbers, then strings, booleans, lists, maps, and null last.
    if isinstance(value, (bool, str)):
        return (2 if isinstance(value, bool) else 1, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, list):
        return (3, [_value_order(v) for v in value])
    if isinstance(value, dict):
        return (4, [(k, _value_order(value[k])) for k in sorted(value)])
    return (5,)


def element_order(pe: str) -> tuple:
    """``PathElement.Compare``: fields by name, then keyed elements, set values, and indexes."""
    kind, text = pe[0], pe[2:]
    if kind == "f":
        return (0, text)
    if kind == "i":
        return (3, int(text))
    return (1, _value_order(json.loads(text))[1]) if kind == "k" else (2, _value_order(json.loads(text)))


def _to_string(value: Any) -> str:
    # value.ToString: strings as Go's %q, the rest much as JSON.
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[" + ",".join(map(_to_string, value)) + "]"
    if isinstance(value, dict):
        return "{" + ";".join(f"{k}={_to_string(value[k])}" for k in sorted(value)) + "}"
    return repr(value)


def path_string(path: Path) -> str:
    """A path as kube prints it in conflicts: ``.spec.template.spec.containers[name="nginx"].image``."""
    out = []
    for pe in path:
        kind, text = pe[0], pe[2:]
        if kind == "k":
            key = json.loads(text)
            out.append("[" + ",".join(f"{k}={_to_string(key[k])}" for k in sorted(key)) + "]")
        else:
            out.append({"f": f".{text}", "i": f"[{text}]"}.get(kind) or f"[={_to_string(json.loads(text))}]")
    return "".join(out)


def _trie(paths: Iterable[Path]) -> dict:
    # path element -> [owned itself?, children]
    root: dict = {}
    for path in paths:
        node = root
        for pe in path[:-1]:
            node = node.setdefault(pe, [False, {}])[1]
        node.setdefault(path[-1], [False, {}])[0] = True
    return root


def iterate(paths: Iterable[Path]) -> list[Path]:
    """The paths in structured-merge-diff's order (``Set.Iterate``): a node's own members, then its children."""
    out: list[Path] = []

    def walk(node: dict, prefix: Path) -> None:
        order = sorted(node, key=element_order)
        out.extend(prefix + (pe,) for pe in order if node[pe][0])
        for pe in order:
            walk(node[pe][1], prefix + (pe,))

    walk(_trie(paths), ())
    return out


def to_fields(paths: Iterable[Path]) -> dict:
    """A field set as ``fieldsV1`` (``Set.ToJSON``), keys in structured-merge-diff's order."""
    def emit(node: dict, owned: bool) -> dict:
        out: dict = {".": {}} if owned and node else {}
        for pe in sorted(node, key=element_order):
            out[pe] = emit(node[pe][1], node[pe][0])
        return out

    return emit(_trie(paths), False)


def from_fields(fields: Any, prefix: Path = ()) -> set[Path]:
    """The field set a ``fieldsV1`` trie holds (``Set.FromJSON``); :class:`ValueError` if malformed.

    Unknown kinds of keys are skipped (a newer server's); the others are put in canonical form.
    """
    if not isinstance(fields, dict):
        raise ValueError(f"expected an object, got {json_text(fields)}")
    out: set[Path] = set()
    for key, value in fields.items():
        kind, colon, text = key.partition(":")
        if not colon or kind not in ("f", "k", "v", "i"):
            continue  # "." (handled by the parent) or a kind from the future
        try:
            if kind == "k" and not isinstance(json.loads(text), dict):
                raise ValueError("a key must be an object")
            text = str(int(text)) if kind == "i" else text if kind == "f" else json_text(json.loads(text))
        except ValueError as err:
            raise ValueError(f"parsing key as path element: {key}: {err}") from None
        here = prefix + (f"{kind}:{text}",)
        children = from_fields(value, here)
        if "." in value or not children:
            out.add(here)
        out |= children
    return out
