"""PATCH: the three patch formats kube-apiserver accepts, applied to an object held as a plain dict.

``kubectl patch``, ``kubectl apply`` (client side), ``kubectl scale`` and the
Python client's ``patch_namespaced_*`` send a PATCH whose Content-Type names
the format; the REST handler calls :func:`apply_patch` on the stored object,
then validates and stores the result like an update.

- ``application/json-patch+json``: RFC 6902 (:func:`json_patch`), operations
  (add, remove, replace, move, copy, test) on JSON Pointers, all or nothing.
- ``application/merge-patch+json``: RFC 7386 (:func:`merge_patch`), a partial
  object; ``null`` deletes, objects merge, anything else (lists too) replaces.
- ``application/strategic-merge-patch+json`` (:func:`strategic_merge_patch`):
  a merge patch that knows the kind's lists, merging containers by name and
  replacing tolerations; see :mod:`kitlib.apiserver.strategic`.

    >>> apply_patch({"spec": {"replicas": 1}}, b'{"spec":{"replicas":3}}', "application/merge-patch+json",
    ...             kind="Deployment", api_version="apps/v1")
    {'spec': {'replicas': 3}}

Nothing here changes its arguments. Failures raise what kube-apiserver's PATCH
handler answers (``kitlib.api.errors``): 400 for a body that does not decode
or has the wrong shape (``Invalid JSON Patch`` for a merge patch that is
``null`` or a scalar); 422 ``the server rejected our request due to an error
in our request`` when a JSON Patch operation fails (a ``test``, a missing
path, an unknown ``op``), with the library's own words in ``details.causes``;
413 past 10000 operations; 422 ``patch: Invalid value`` when the result is not
an object; 415 for another Content-Type; strategic merge failures as
``strategic`` says.

JSON Patch keeps the quirks of kube's library (``evanphx/json-patch.v4``),
which kubectl users meet: ``replace`` of a missing member adds it, ``copy``
from one copies ``null``, ``test`` for ``null`` passes on one, a negative
index counts from the end, text before a path's first ``/`` is ignored. Its
merge patch drops ``null`` elements from the lists it puts in place.

Simplifications:
- Syntax errors are worded by Python's ``json``, not Go's; the detail of the
  "not an object" error is approximate (kube quotes its Go decoder).
- fieldValidation (strict decoding), managedFields and retrying on conflict
  are the handler's; so is refusing strategic merge for custom resources.
- A JSON Patch is applied to the dict, not to its JSON encoding: where the Go
  library compares raw bytes (``"\\u0041"`` and ``"A"`` differ), this compares values.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any, Iterator

from kitlib.api.errors import APIError, BadRequest, Invalid, from_status
from kitlib.api.field import go_quote, invalid
from kitlib.api.meta import deep_copy
from kitlib.apiserver.strategic import schema_for, strategic_merge

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)
_KUBECTL_TYPES = {"json": JSON_PATCH, "merge": MERGE_PATCH, "strategic": STRATEGIC_MERGE_PATCH}  # kubectl patch --type
MAX_JSON_PATCH_OPERATIONS = 10000  # maxJSONPatchOperations in apiserver/pkg/endpoints/handlers/patch.go

_BAD_MERGE_PATCH = "Invalid JSON Patch"  # evanphx/json-patch's errBadJSONPatch
_REJECTED = "the server rejected our request due to an error in our request"
_MAP = "map[string]interface {}"


def apply_patch(obj: dict, patch: bytes | str | dict | list, patch_type: str, *, kind: str, api_version: str) -> dict:
    """``obj`` with ``patch`` applied, as a new dict. ``patch_type`` is the request's Content-Type.

    ``; charset=...`` is ignored as kube-apiserver ignores it; kubectl's
    ``--type`` names (``json``, ``merge``, ``strategic``) are accepted too.
    """
    media_type = _KUBECTL_TYPES.get(patch_type) or patch_type.split(";")[0].strip().lower()
    if media_type == JSON_PATCH:
        result = json_patch(obj, patch)
    elif media_type == MERGE_PATCH:
        body = _load(patch, _BAD_MERGE_PATCH)
        if not isinstance(body, (dict, list)):  # evanphx MergePatch: null and scalars are no patch
            raise BadRequest(_BAD_MERGE_PATCH)
        result = merge_patch(obj, body)
    elif media_type == STRATEGIC_MERGE_PATCH:
        result = strategic_merge_patch(obj, patch, kind=kind, api_version=api_version)
    else:
        raise _status(415, "the body of the request was in an unknown format - accepted media types include: "
                      + ", ".join(PATCH_TYPES), "UnsupportedMediaType")
    if not isinstance(result, dict):  # kube then decodes the JSON into the kind's Go type, and fails
        raise Invalid("", "", [invalid("patch", json.dumps(result, separators=(",", ":")),
                                       f"json: cannot unmarshal {_kind_of(result)} into Go value of type {_MAP}")])
    return result


# --- RFC 6902 JSON Patch, as gopkg.in/evanphx/json-patch.v4 applies it -------------------------------------


class _OpError(Exception):
    """A failed operation, worded as the library words it; the cause of a 422."""


def json_patch(doc: Any, patch: bytes | str | list) -> Any:
    """``doc`` after the RFC 6902 operations in ``patch``, applied in order; all or nothing."""
    ops = _load(patch)
    ops = [] if ops is None else ops  # Go decodes ``null`` into an empty patch
    if not isinstance(ops, list):
        raise BadRequest(f"json: cannot unmarshal {_kind_of(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise BadRequest(f"json: cannot unmarshal {_kind_of(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise _status(413, "Request entity too large: The allowed maximum operations in a JSON patch is "
                      f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}", "RequestEntityTooLarge")
    doc = deep_copy(doc)
    for op in ops:
        try:
            doc = _apply_op(doc, op or {})
        except _OpError as err:
            raise _rejected(str(err)) from None
    return doc


def _apply_op(doc: Any, op: dict) -> Any:
    kind = op["op"] if isinstance(op.get("op"), str) else "unknown"
    value = op.get("value")  # an absent value is null, as in the library
    if kind in ("add", "remove"):
        path = _read(op, "path", f"{kind} operation failed to decode path: missing value")
        parent, key = _at(doc, path, f'{kind} operation does not apply: doc is missing path: "{path}": missing value')
        with _context(f"error in {kind} for path: '{path}'"):
            if kind == "add":
                _add(parent, key, value)
            else:
                _remove(parent, key)
    elif kind == "replace":
        path = _read(op, "path", "replace operation failed to decode path: {inner}")
        if path == "":  # the whole document
            if not isinstance(value, (dict, list)):
                raise _OpError("replace operation value must be object or array: %!w(<nil>)")
            return value
        parent, key = _at(doc, path, f"replace operation does not apply: doc is missing path: {path}: missing value")
        try:
            parent[_slot(parent, key)] = value  # a missing object member is no error: it is added
        except _OpError:
            raise _OpError(f"replace operation does not apply: doc is missing key: {path}: missing value") from None
    elif kind in ("move", "copy"):
        source = _read(op, "from", f"{kind} operation failed to decode from: {{inner}}")
        parent, key = _at(doc, source,
                          f"{kind} operation does not apply: doc is missing from path: {source}: missing value")
        with _context(f"error in move for path: '{key}'" if kind == "move" else f"error in copy for from: '{source}'"):
            value = _get(parent, key)
            if kind == "move":
                _remove(parent, key)
        path = _read(op, "path", "move operation failed to decode path: {inner}" if kind == "move"
                     else "copy operation failed to decode path: missing value")
        parent, key = _at(doc, path,
                          f"{kind} operation does not apply: doc is missing destination path: {path}: missing value")
        with _context(f"error in move for path: '{path}'" if kind == "move"
                      else "error while adding value during copy"):
            _add(parent, key, value)
    elif kind == "test":
        path = _read(op, "path", "test operation failed to decode path: {inner}")
        actual = doc
        if path != "":
            parent, key = _at(doc, path, f"test operation does not apply: is missing path: {path}: missing value")
            with _context(f"error in test for path: '{path}'"):
                actual = _get(parent, key)
        if _key(actual) != _key(value):  # JSON equality: 10 is neither "10" nor 10.0
            raise _OpError(f"testing value {path} failed: test failed")
    else:
        raise _OpError(f"Unexpected kind: {kind}")
    return doc


@contextmanager
def _context(prefix: str) -> Iterator[None]:
    try:
        yield
    except _OpError as err:
        raise _OpError(f"{prefix}: {err}") from None


def _read(op: dict, member: str, wrap: str) -> str:
    """An operation's ``path`` or ``from``; a missing or mistyped one is worded as the library words it."""
    value = op.get(member)
    if isinstance(value, str):
        return value
    if value is None:
        inner = "operation missing path field" if member == "path" else "operation, missing from field"
        inner += ": missing value"
    else:
        inner = f"json: cannot unmarshal {_kind_of(value)} into Go value of type string"
    raise _OpError(wrap.format(inner=inner))


def _at(doc: Any, path: str, missing: str) -> tuple[dict | list, str]:
    """The container a JSON Pointer ends in, and its last token (``~1`` means ``/``, then ``~0`` means ``~``)."""
    tokens = [token.replace("~1", "/").replace("~0", "~") for token in path.split("/")]
    if len(tokens) < 2:  # "" is the whole document, which has no parent; tokens[0] is skipped, like the library
        raise _OpError(missing)
    node = doc
    for token in tokens[1:-1]:
        try:
            node = _get(node, token)
        except _OpError:
            raise _OpError(missing) from None
        if not isinstance(node, (dict, list)):  # a missing, null or scalar parent
            raise _OpError(missing)
    return node, tokens[-1]


def _atoi(token: str) -> int:
    """An array index as Go's ``strconv.Atoi`` reads it (a sign and leading zeros are accepted)."""
    if not re.fullmatch(r"[+-]?[0-9]+", token):
        raise _OpError(f"strconv.Atoi: parsing {go_quote(token)}: invalid syntax")
    return int(token)


def _bound(index: int, size: int) -> int:
    """``index`` among ``size`` elements; -1 is the last (json-patch v4's SupportNegativeIndices)."""
    if not -size <= index < size:
        raise _OpError(f"Unable to access invalid index: {index}: invalid index referenced")
    return index % size


def _slot(node: dict | list, token: str) -> str | int:
    return token if isinstance(node, dict) else _bound(_atoi(token), len(node))


def _get(node: dict | list, token: str) -> Any:
    return node.get(token) if isinstance(node, dict) else node[_slot(node, token)]  # missing members read as null


def _add(node: dict | list, token: str, value: Any) -> None:
    value = deep_copy(value)
    if isinstance(node, dict):
        node[token] = value
    elif token == "-":
        node.append(value)
    else:
        try:
            index = _atoi(token)
        except _OpError as err:
            raise _OpError(f"value was not a proper array index: '{token}': {err}") from None
        node.insert(_bound(index, len(node) + 1), value)  # one past the end appends


def _remove(node: dict | list, token: str) -> None:
    if isinstance(node, dict) and token not in node:
        raise _OpError(f"Unable to remove nonexistent key: {token}: missing value")
    del node[_slot(node, token)]


# --- RFC 7386 JSON Merge Patch -----------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 ``MergePatch(target, patch)``; ``patch`` is a decoded value, or JSON text or bytes.

    As in evanphx/json-patch, which kube uses, a value put in place also loses
    its ``null`` members and ``null`` list elements (RFC 7386 keeps the latter).
    """
    return _merge(deep_copy(target), _load(patch, _BAD_MERGE_PATCH))


def _merge(target: Any, patch: Any) -> Any:
    if isinstance(patch, dict) and isinstance(target, dict):
        for key, value in patch.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = _prune(value) if target.get(key) is None else _merge(target[key], value)
        return target
    return patch if isinstance(target, dict) else _prune(patch)  # the library prunes nothing that replaces an object


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value if v is not None]
    return value


# --- Strategic merge patch (the merge itself is in strategic) ---------------------------------------------


def strategic_merge_patch(obj: dict, patch: bytes | str | dict, *, kind: str, api_version: str) -> dict:
    """``obj`` merged with ``patch`` on the merge keys of ``kind`` (apimachinery's ``StrategicMergeMapPatch``)."""
    body = _load(patch)
    body = {} if body is None else body  # Go decodes ``null`` into an empty map: nothing changes
    if not isinstance(body, dict):
        raise BadRequest(f"json: cannot unmarshal {_kind_of(body)} into Go value of type {_MAP}")
    return strategic_merge(deep_copy(obj), body, schema_for(api_version, kind))


# --- Shared helpers ----------------------------------------------------------------------------------------


def _load(body: Any, syntax_error: str | None = None) -> Any:
    """A request body decoded (bytes or JSON text), or a private copy of an already decoded one."""
    if not isinstance(body, (bytes, bytearray, str)):
        return deep_copy(body)
    try:
        return json.loads(body, parse_constant=_no_constant)
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, NaN
        raise BadRequest(syntax_error or str(err)) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid number {name}: JSON has no NaN or Infinity")


def _status(code: int, message: str, reason: str = "", causes: list | None = None) -> APIError:
    """The error whose ``Status`` has exactly these members (``from_status`` picks its class)."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason, "code": code}
    if causes:
        body["details"] = {"causes": causes}
    return from_status(body)


def _rejected(why: str) -> APIError:
    """``NewGenericServerResponse(422, ...)``: a fixed message, the real one in a cause."""
    return _status(422, _REJECTED, "Invalid", [{"reason": "UnexpectedServerResponse", "message": why}])


def _key(value: Any) -> str:
    """A canonical text for JSON equality, as Go compares decoded values: 1, 1.0, "1" and true all differ."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _kind_of(value: Any) -> str:
    """The JSON type Go's decoder names in its errors (``cannot unmarshal array into ...``)."""
    if isinstance(value, (dict, list)):
        return "object" if isinstance(value, dict) else "array"
    return {str: "string", bool: "bool", type(None): "null"}.get(type(value), "number")
