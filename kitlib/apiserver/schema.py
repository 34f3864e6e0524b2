"""Schemas: the fields of every kind the server serves, and the strict decoding kube-apiserver does with them.

kube-apiserver decodes a request body into the kind's Go struct. Whatever
the struct has no field for is dropped, and ``fieldValidation`` decides who
hears of it (KEP-2885): ``Strict`` refuses the request with ``400`` and
every unknown or duplicate field, ``Warn`` (the default) keeps going and
sends one ``Warning: 299`` header per field, ``Ignore`` says nothing. A
value of the wrong JSON type (a string where an integer belongs) fails the
decoding itself: ``400`` in every mode.

The kit keeps objects as dicts, so it borrows the Go structs' shape from the
official Python client, generated from the same OpenAPI document:
``V1DeploymentSpec.openapi_types`` gives each field's type (``'int'``,
``'list[V1Container]'``, ``'dict(str, str)'``...) and ``attribute_map`` its
JSON name. :func:`fields_of` reads them into :class:`FieldType` values, once
per model; :mod:`kitlib.apiserver.openapi` builds its documents from them.

    >>> pruned, problems = check_fields({"kind": "Pod", "spec": {"nodeNmae": "n1"}}, "v1", "Pod")
    >>> pruned, problems
    ({'kind': 'Pod', 'spec': {}}, ['unknown field "spec.nodeNmae"'])

Messages are kube's: ``unknown field "spec.template.spec.containers[0].imagee"``
and ``duplicate field "metadata.name"`` (``sigs.k8s.io/json``, first 100,
each once, in document order), ``Deployment in version "v1" cannot be
handled as a Deployment: strict decoding error: ...`` (the handler's
``transformDecodeError``), and Go's ``json: cannot unmarshal string into Go
struct field DeploymentSpec.spec.replicas of type int32``. As in Go, the
first plain type error wins unless a custom decoder (``Time``,
``IntOrString``, ``Quantity``) fails, which stops decoding at once.

Simplifications:
- The Python models lose what is not JSON: an ``int`` is ``int64`` for the
  field names in :data:`INT64` (checked against kube's types for the served
  kinds) and ``int32`` otherwise; Quantity, IntOrString and MicroTime fields
  are named in small tables. Named Go types print as their underlying type
  (``string``, not ``v1.PullPolicy``; ``v1.ResourceList`` is the one kept).
- A number is described by Python's spelling of it (``2.0``), not the
  request's bytes (``2.00``); Go refuses any non-integral literal for an int.
- Times are checked to be strings, not parsed as RFC 3339; null values are
  kept as sent (Go's round trip would drop most of them).
- Kinds with no Python model (custom resources) pass through unchecked.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from kitlib.api.errors import APIError, BadRequest, Invalid
from kitlib.api.field import go_quote, invalid, not_supported

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
MAX_PROBLEMS = 100  # sigs.k8s.io/json stops collecting strict errors here

# Go int64 fields, by JSON name, among the served kinds; every other int is int32.
INT64 = frozenset({
    "activeDeadlineSeconds", "deletionGracePeriodSeconds", "expirationSeconds", "fsGroup", "generation", "gid",
    "gracePeriodSeconds", "observedGeneration", "remainingItemCount", "revision", "runAsGroup", "runAsUser",
    "seconds", "sizeBytes", "startingDeadlineSeconds", "supplementalGroups", "terminationGracePeriodSeconds",
    "tolerationSeconds", "uid",
})
# resource.Quantity fields, which the client types as strings (or maps of them).
QUANTITY = frozenset({
    ("V1NodeStatus", "allocatable"), ("V1NodeStatus", "capacity"), ("V1PodSpec", "overhead"),
    ("V1ResourceFieldSelector", "divisor"), ("V1ResourceRequirements", "limits"),
    ("V1ResourceRequirements", "requests"),
    ("V1EmptyDirVolumeSource", "sizeLimit"), ("V1VolumeResourceRequirements", "limits"),
    ("V1VolumeResourceRequirements", "requests"), ("V1ContainerStatus", "allocatedResources"),
    ("V1PersistentVolumeClaimStatus", "allocatedResources"), ("V1PersistentVolumeClaimStatus", "capacity"),
    ("V2MetricTarget", "averageValue"), ("V2MetricTarget", "value"),
    ("V2MetricValueStatus", "averageValue"), ("V2MetricValueStatus", "value"),
})
# metav1.MicroTime fields (the client types them as plain datetimes).
MICRO_TIME = frozenset({("V1LeaseSpec", "acquireTime"), ("V1LeaseSpec", "renewTime"),
                        ("CoreV1Event", "eventTime"), ("CoreV1EventSeries", "lastObservedTime")})
# The client's 'object' is IntOrString for these names, FieldsV1 for fieldsV1, RawExtension otherwise.
INT_OR_STRING = frozenset({"port", "targetPort", "maxSurge", "maxUnavailable"})

_VERSIONED = re.compile(r"^(?:[A-Z][a-z]+)*?(V\d+(?:(?:alpha|beta)\d+)?)(?=[A-Z])")
_LIST, _DICT = re.compile(r"^list\[(.*)\]$"), re.compile(r"^dict\(str, (.*)\)$")


@dataclass(frozen=True)
class FieldType:
    """One field's type. ``kind`` is string, integer, boolean, number, time, microtime, intstr,
    quantity, fieldsv1, raw (any JSON), list or map (of ``of``), or struct (of ``model``)."""

    kind: str
    of: "FieldType | None" = None
    model: str = ""
    bits: int = 0


@functools.cache
def _models() -> Any:
    import kubernetes.client.models as models  # 0.3 s: only when a schema is first needed
    return models


def model_for(api_version: str, kind: str) -> str | None:
    """The client model of a kind: ``V1Deployment``, ``V2HorizontalPodAutoscaler``, ``CoreV1Event``."""
    group, _, version = api_version.rpartition("/")
    ver = version[:1].upper() + version[1:]
    prefix = (group.split(".")[0] or "core").capitalize()  # the client's prefix when names clash
    for name in (f"{prefix}{ver}{kind}", f"{ver}{kind}"):
        if hasattr(_models(), name) and hasattr(getattr(_models(), name), "openapi_types"):
            return name
    return None


def go_name(model: str) -> str:
    """The Go type's own name: ``V1DeploymentSpec`` -> ``DeploymentSpec``, ``RbacV1Subject`` -> ``Subject``."""
    match = _VERSIONED.match(model)
    return model[match.end():] if match else model


def model_version(model: str) -> str:
    """The API version in a model's name: ``V2MetricSpec`` -> ``v2``."""
    match = _VERSIONED.match(model)
    return match.group(1).lower() if match else "v1"


def _parse(text: str, model: str, name: str) -> FieldType:
    if (inner := _LIST.match(text)) or (inner := _DICT.match(text)):
        return FieldType("list" if text.startswith("list") else "map", _parse(inner.group(1), model, name))
    if text == "str":
        return FieldType("quantity" if (model, name) in QUANTITY else "string")
    if text == "int":
        return FieldType("integer", bits=64 if name in INT64 else 32)
    if text == "datetime":
        return FieldType("microtime" if (model, name) in MICRO_TIME else "time")
    if text == "object":
        return FieldType("intstr" if name in INT_OR_STRING else "fieldsv1" if name == "fieldsV1" else "raw")
    simple = {"bool": "boolean", "float": "number"}
    return FieldType(simple[text]) if text in simple else FieldType("struct", model=text)


@functools.cache
def fields_of(model: str) -> dict[str, FieldType]:
    """A model's fields by JSON name, sorted (kube's documents list them so)."""
    cls = getattr(_models(), model)
    out = {cls.attribute_map[attr]: _parse(text, model, cls.attribute_map[attr])
           for attr, text in cls.openapi_types.items()}
    return dict(sorted(out.items()))


@functools.cache
def descriptions(model: str) -> dict[str, str]:
    """Each field's description, from the client's property docstrings (the OpenAPI text)."""
    cls, out = getattr(_models(), model), {}
    for attr, name in cls.attribute_map.items():
        parts = (getattr(cls, attr).__doc__ or "").split("\n\n")
        text = parts[1].strip() if len(parts) > 1 else ""
        if text and not text.startswith(":return:"):
            out[name] = text.replace("  # noqa: E501", "")
    return out


def go_type(t: FieldType) -> str:
    """The Go type Go's decoder names in its errors: ``int32``, ``[]v1.Container``, ``map[string]string``."""
    if t.kind == "map" and t.of and t.of.kind == "quantity":
        return "v1.ResourceList"
    if t.kind in ("list", "map"):
        return ("[]" if t.kind == "list" else "map[string]") + go_type(t.of)  # type: ignore[arg-type]
    if t.kind == "struct":
        return f"{model_version(t.model)}.{go_name(t.model)}"
    return {"string": "string", "integer": f"int{t.bits}", "boolean": "bool", "number": "float64",
            "time": "v1.Time", "microtime": "v1.MicroTime", "intstr": "intstr.IntOrString",
            "quantity": "resource.Quantity", "fieldsv1": "v1.FieldsV1"}.get(t.kind, "runtime.RawExtension")


# --- Decoding, as kube-apiserver's strict JSON decoder walks a body -----------------------------------------

class _Pairs(list):
    """A JSON object as its (key, value) pairs in document order, duplicates kept (``object_pairs_hook``)."""


class _Abort(Exception):
    """A custom decoder failed: Go stops decoding at once with this message."""


_DROP = object()  # a value that did not decode, so the field keeps its zero value
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_SUFFIXES = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"}
QUANTITY_FORMAT = f"quantities must match the regular expression '{_QUANTITY.pattern}'"


def _json_kind(value: Any) -> str:
    """How Go's decoder names a JSON value in an UnmarshalTypeError."""
    if isinstance(value, (dict, _Pairs)):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "bool" if isinstance(value, bool) else "number"


def _items(value: dict | _Pairs) -> Iterable[tuple[str, Any]]:
    return value if isinstance(value, _Pairs) else value.items()


def _plain(value: Any) -> Any:
    """A value read with duplicates kept, as plain JSON (the last duplicate wins)."""
    if isinstance(value, _Pairs):
        return {k: _plain(v) for k, v in value}
    return [_plain(v) for v in value] if isinstance(value, list) else value


def _merge(old: Any, new: Any) -> Any:
    """A repeated field: Go decodes the second value into the first, so objects merge and the rest is replaced."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: _merge(old[k], v) if k in old else v for k, v in new.items()}}
    return new


def _parse_quantity(text: str) -> str | None:
    """``resource.ParseQuantity``'s error for ``text``, or ``None`` when it is a quantity."""
    if not _QUANTITY.match(text.strip()):
        return QUANTITY_FORMAT
    number = re.match(r"[+-]?(\d+(\.\d*)?|\.\d+)", text.strip())
    if not number:
        return "unable to parse numeric part of quantity"
    suffix = text.strip()[number.end():]
    return None if suffix in _SUFFIXES or re.fullmatch(r"[eE][-+]?\d+", suffix) else "unable to parse quantity's suffix"


class _Decoder:
    """One body's decoding: the pruned value, the strict problems, the first type error."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.error = ""

    def strict(self, what: str, path: str) -> None:
        text = f"{what} field {go_quote(path)}"
        if len(self.problems) < MAX_PROBLEMS and text not in self.problems:
            self.problems.append(text)

    def mismatch(self, value: Any, t: FieldType, where: tuple[str, tuple[str, ...]], fatal: bool = False,
                 described: str = "") -> Any:
        """Go's UnmarshalTypeError in the context of the enclosing struct and its field path (no indexes)."""
        struct, fields = where
        kind = described or _json_kind(value)
        target = "int32" if t.kind == "intstr" else "string" if t.kind in ("time", "microtime") else go_type(t)
        if struct or fields:
            text = f"json: cannot unmarshal {kind} into Go struct field {struct}.{'.'.join(fields)} of type {target}"
        else:
            text = f"json: cannot unmarshal {kind} into Go value of type {target}"
        if fatal:
            raise _Abort(text)
        self.error = self.error or text
        return _DROP

    def decode(self, value: Any, t: FieldType, path: str, where: tuple[str, tuple[str, ...]]) -> Any:
        if value is None:  # null is always accepted: Go zeroes pointers, maps and slices and skips the rest
            return None
        is_object = isinstance(value, (dict, _Pairs))
        if t.kind in ("struct", "map"):
            return self._object(value, t, path, where) if is_object else self.mismatch(value, t, where)
        if t.kind == "list":
            if not isinstance(value, list) or is_object:
                return self.mismatch(value, t, where)
            items = (self.decode(v, t.of, f"{path}[{i}]", where) for i, v in enumerate(value))  # type: ignore[arg-type]
            return [v for v in items if v is not _DROP]
        return self._scalar(value, t, where)

    def _object(self, value: dict | _Pairs, t: FieldType, path: str, where: tuple[str, tuple[str, ...]]) -> dict:
        """A struct's members (Go's error context moves to it) or a map's (the context stays)."""
        struct = t.kind == "struct"
        fields = fields_of(t.model) if struct else {}
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for key, item in _items(value):
            sub = f"{path}.{key}" if path else key
            if struct and key not in fields:
                self.strict("unknown", sub)  # skipped whole: nothing inside it is reported
                continue
            if key in seen:
                self.strict("duplicate", sub)
            seen.add(key)
            inner = (go_name(t.model), where[1] + (key,)) if struct else where
            decoded = self.decode(item, fields[key] if struct else t.of, sub, inner)  # type: ignore[arg-type]
            if decoded is not _DROP:
                out[key] = _merge(out[key], decoded) if key in out else decoded
        return out

    def _scalar(self, value: Any, t: FieldType, where: tuple[str, tuple[str, ...]]) -> Any:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if t.kind in ("raw", "fieldsv1"):  # opaque to the decoder: kept whole, never checked inside
            return _plain(value)
        if t.kind == "string":
            return value if isinstance(value, str) else self.mismatch(value, t, where)
        if t.kind == "boolean":
            return value if isinstance(value, bool) else self.mismatch(value, t, where)
        if t.kind == "number":
            return value if number else self.mismatch(value, t, where)
        if t.kind in ("time", "microtime"):  # metav1.Time.UnmarshalJSON decodes a string first
            return value if isinstance(value, str) else self.mismatch(value, t, where, fatal=True)
        if t.kind == "quantity":  # Quantity.UnmarshalJSON parses the literal, quoted or not
            problem = _parse_quantity(value if isinstance(value, str) else json.dumps(value))
            if problem:
                raise _Abort(problem)
            return value
        if isinstance(value, str) and t.kind == "intstr":
            return value
        bits = 32 if t.kind == "intstr" else t.bits
        if number and isinstance(value, int) and -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            return value
        described = f"number {value!r}" if number else ""  # Go names the literal an int could not take
        return self.mismatch(value, t, where, fatal=t.kind == "intstr", described=described)


def _decode(value: Any, model: str) -> tuple[Any, list[str], str]:
    decoder = _Decoder()
    try:
        out = decoder.decode(value, FieldType("struct", model=model), "", ("", ()))
    except _Abort as abort:
        return value, decoder.problems, str(abort)
    return out, decoder.problems, decoder.error


def _pairs(raw: bytes | str) -> Any:
    return json.loads(raw, object_pairs_hook=_Pairs)


# --- The public API ------------------------------------------------------------------------------------------

def decode_error(message: str, api_version: str, kind: str) -> APIError:
    """400 as kube's handler words a body that did not decode (``transformDecodeError``)."""
    version = api_version.rpartition("/")[2]
    return BadRequest(f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {message}")


def strict_error(problems: Iterable[str], api_version: str, kind: str) -> APIError:
    """400: ``Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: ...``."""
    return decode_error("strict decoding error: " + ", ".join(problems), api_version, kind)


def patch_strict_error(problems: Iterable[str], patched: str) -> APIError:
    """422 for a PATCH in Strict mode: kube's ``patch: Invalid value: <patched>: strict decoding error: ...``.

    ``patched`` is what kube prints: the patched object's JSON for JSON and
    merge patches, Go's ``%+v`` of the patch map for strategic ones.
    """
    return Invalid("", "", [invalid("patch", patched, "strict decoding error: " + ", ".join(problems))])


def check_fields(obj: dict, api_version: str, kind: str, *, raw: bytes | str | None = None) -> tuple[dict, list[str]]:
    """``(pruned copy without unknown fields, strict problems)``; raises 400 for a wrong JSON type.

    Pass the request body as ``raw`` to have duplicate fields reported too,
    in document order; the pruned object is then decoded from it (the last
    of duplicate values wins, objects merging, as in Go).
    """
    model = model_for(api_version, kind)
    if model is None:
        return json.loads(json.dumps(obj)), []
    out, problems, error = _decode(_pairs(raw) if raw is not None else obj, model)
    if error:
        raise decode_error(error, api_version, kind)
    return out, problems


def validate_fields(obj: dict, api_version: str, kind: str, mode: str = WARN, *,
                    raw: bytes | str | None = None) -> tuple[dict, list[str]]:
    """``(pruned object, warnings)`` for a fieldValidation mode; Strict raises :func:`strict_error`.

    Call it on whole objects (create, update, the result of a patch), never
    on a patch body, where fields of other shapes and nulls mean something.
    """
    pruned, problems = check_fields(obj, api_version, kind, raw=raw)
    if problems and mode == STRICT:
        raise strict_error(problems, api_version, kind)
    return pruned, problems if mode == WARN else []


def duplicate_fields(raw: bytes | str, api_version: str = "", kind: str = "") -> list[str]:
    """kube's ``duplicate field "metadata.labels.app"`` texts for a JSON body, in document order.

    With a kind, only where kube looks (not inside unknown fields); without,
    everywhere (what kube does for a JSON merge patch body).
    """
    model = model_for(api_version, kind) if kind else None
    if model:
        return [p for p in _decode(_pairs(raw), model)[1] if p.startswith("duplicate")]
    decoder = _Decoder()
    _walk_duplicates(_pairs(raw), "", decoder)
    return decoder.problems


def _walk_duplicates(value: Any, path: str, decoder: _Decoder) -> None:
    if isinstance(value, _Pairs):
        seen = set()
        for key, item in value:
            sub = f"{path}.{key}" if path else key
            if key in seen:
                decoder.strict("duplicate", sub)
            seen.add(key)
            _walk_duplicates(item, sub, decoder)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk_duplicates(item, f"{path}[{i}]", decoder)


def parse_mode(value: str | None, options_kind: str = "CreateOptions") -> str:
    """The ``fieldValidation`` query parameter: Strict, Warn (when absent) or Ignore.

    Anything else is refused as kube refuses it, with a 422 naming the
    request's options kind (``CreateOptions``, ``UpdateOptions``, ``PatchOptions``).
    """
    if value in (STRICT, WARN, IGNORE):
        return value
    if not value:
        return WARN
    raise Invalid(options_kind, "", [not_supported("fieldValidation", value, ["", IGNORE, STRICT, WARN])],
                  group="meta.k8s.io")


def warning_header(text: str) -> str:
    """A ``Warning`` header value as kube-apiserver writes one: ``299 - "unknown field \\"spec.foo\\""``."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
