"""Validation: the rules an object's metadata must pass before the API server stores it.

A validator returns a list of :class:`~kitlib.api.field.FieldError` values,
one per broken rule, and never raises: the API server gathers them all and
answers ``422 Invalid`` with every one as a ``cause`` (see
:class:`kitlib.api.errors.Invalid`), so the user fixes everything in one
round. Rules and messages are Kubernetes' own, word for word
(``apimachinery/pkg/util/validation`` and ``api/validation/objectmeta.go`` of
v1.32): names are DNS subdomains or labels, label keys are qualified names,
annotations stay under 256 KiB, a namespaced object names its namespace.

    >>> [str(e) for e in validate_object_meta({"metadata": {}}, namespaced=False)]
    ['metadata.name: Required value: name or generateName is required']

Simplifications:
- Lengths are UTF-8 bytes, as Go's ``len``.
- Not checked: ``managedFields``, banned owners (Events), standard finalizer
  names, and ``ValidateObjectMetaUpdate``'s timestamp and generation rules
  (the API server restores those fields from the stored object before it
  validates, so they can never fire); per-kind spec rules come with each kind.
"""

from __future__ import annotations

import re
from typing import Callable

from kitlib.api.field import (
    FieldError,
    forbidden,
    invalid,
    render_value,
    required,
    too_long,
)

# --- names (apimachinery/pkg/util/validation) --------------------------------

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def _bytes(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def _matches(pattern: str, value: str) -> bool:
    # fullmatch, not match + "$": Python's "$" also matches before a final newline.
    return re.fullmatch(pattern, value) is not None


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def empty_error() -> str:
    return "must be non-empty"


def regex_error(message: str, pattern: str, *examples: str) -> str:
    """A regex failure as Kubernetes words it, examples and all (note its doubled spaces)."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{pattern}')"


def is_dns1123_label(value: str) -> list[str]:
    """Namespace names, container names: at most 63 of ``a-z0-9-``, alphanumeric at both ends."""
    errs = []
    if _bytes(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _matches(_DNS1123_LABEL, value):
        if _matches(_DNS1123_SUBDOMAIN, value):
            # A valid subdomain but not a label: the length is checked, so it is the dots.
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character",
                _DNS1123_LABEL, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """Most object names (Pods, Deployments, ConfigMaps): labels joined by dots, at most 253."""
    errs = []
    if _bytes(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _matches(_DNS1123_SUBDOMAIN, value):
        errs.append(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character",
            _DNS1123_SUBDOMAIN, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """Service names: a DNS label that starts with a letter (it becomes a DNS name and env var)."""
    errs = []
    if _bytes(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _matches(_DNS1035_LABEL, value):
        errs.append(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character",
            _DNS1035_LABEL, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """Label and annotation keys: an optional DNS-subdomain prefix and ``/``, then a name of at most 63."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name " + regex_error(
                _QUALIFIED_NAME_MESSAGE, _QUALIFIED_NAME, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif _bytes(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _matches(_QUALIFIED_NAME, name):
        errs.append("name part " + regex_error(_QUALIFIED_NAME_MESSAGE, _QUALIFIED_NAME, "MyName", "my.name", "123-abc"))
    return errs


_QUALIFIED_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)


def is_valid_label_value(value: str) -> list[str]:
    """Label values: empty, or at most 63 of ``A-Za-z0-9-_.`` with alphanumeric ends."""
    errs = []
    if _bytes(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _matches(_LABEL_VALUE, value):
        errs.append(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character",
            _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errs


# --- object names: ValidateNameFunc(name, prefix) ------------------------------
# ``prefix`` is True when checking a generateName: the random suffix will
# follow, so a trailing "-" is fine there.

NameRule = Callable[[str, bool], "list[str]"]


def mask_trailing_dash(name: str) -> str:
    """Kubernetes' ``maskTrailingDash``: replace the last two characters with ``a`` if it ends in ``-``."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_subdomain(mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_label(mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1035_label(mask_trailing_dash(name) if prefix else name)


def name_is_path_segment(name: str, prefix: bool = False) -> list[str]:
    """RBAC names (``system:controller:...``): anything that is safe as one URL path segment."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


validate_namespace_name = name_is_dns_label

# Which rule names which kind (each kind's ``ValidateXName`` in Kubernetes);
# every kind not listed uses DNS subdomains.
NAME_RULES: dict[str, NameRule] = {
    "Namespace": name_is_dns_label,
    "Service": name_is_dns1035_label,
    "Role": name_is_path_segment,
    "ClusterRole": name_is_path_segment,
    "RoleBinding": name_is_path_segment,
    "ClusterRoleBinding": name_is_path_segment,
}


def name_rule(kind: str) -> NameRule:
    return NAME_RULES.get(kind, name_is_dns_subdomain)


# --- metadata (apimachinery/pkg/api/validation/objectmeta.go) -----------------


def validate_labels(labels: dict[str, str] | None, path: str = "metadata.labels") -> list[FieldError]:
    """Every key a qualified name, every value a valid label value (keys in sorted order)."""
    errs = []
    for key in sorted(labels or {}):
        errs.extend(invalid(path, key, msg) for msg in is_qualified_name(key))
        value = labels[key]
        errs.extend(invalid(path, value, msg) for msg in is_valid_label_value(value))
    return errs


def validate_annotations(annotations: dict[str, str] | None, path: str = "metadata.annotations") -> list[FieldError]:
    """Keys are qualified names in any case; keys and values together at most 256 KiB.

    The size limit is the one ``kubectl apply`` meets with huge CRDs, whose
    whole text it keeps in ``last-applied-configuration``.
    """
    errs = []
    total = 0
    for key in sorted(annotations or {}):
        errs.extend(invalid(path, key, msg) for msg in is_qualified_name(key.lower()))
        total += _bytes(key) + _bytes(annotations[key])
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _version_of(api_version: str) -> str:
    # schema.ParseGroupVersion: "v1" -> version v1; "apps/v1" -> v1; more
    # than one "/" fails to parse, leaving the version empty.
    if not api_version or api_version == "/":
        return ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return parts[0]
    return parts[1] if len(parts) == 2 else ""


def validate_owner_references(refs: list[dict] | None, path: str = "metadata.ownerReferences") -> list[FieldError]:
    """Each reference complete, and at most one of them the controller."""
    errs = []
    first_controller = ""
    for ref in refs or []:
        if not _version_of(ref.get("apiVersion") or ""):
            errs.append(invalid(f"{path}.apiVersion", ref.get("apiVersion") or "", "version must not be empty"))
        if not ref.get("kind"):
            errs.append(invalid(f"{path}.kind", ref.get("kind") or "", "kind must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(f"{path}.name", ref.get("name") or "", "name must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(f"{path}.uid", ref.get("uid") or "", "uid must not be empty"))
        if ref.get("controller"):
            current = f"{ref.get('kind') or ''}/{ref.get('name') or ''}"
            if first_controller:
                errs.append(invalid(
                    path, refs,
                    f'Only one reference can have Controller set to true. Found "true" in references for '
                    f"{first_controller} and {current}"))
            else:
                first_controller = current
    return errs


def validate_finalizers(finalizers: list[str] | None, path: str = "metadata.finalizers") -> list[FieldError]:
    """Qualified names, and not both ``orphan`` and ``foregroundDeletion`` (they contradict)."""
    errs = []
    finalizers = finalizers or []
    for finalizer in finalizers:
        errs.extend(invalid(path, finalizer, msg) for msg in is_qualified_name(finalizer))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def validate_object_meta(
    obj: dict,
    *,
    namespaced: bool = True,
    name_fn: NameRule = name_is_dns_subdomain,
    path: str = "metadata",
) -> list[FieldError]:
    """The rules every object's ``metadata`` obeys on create (``ValidateObjectMeta``).

    ``namespaced`` says whether the kind lives in a namespace (Pods do,
    Nodes do not); ``name_fn`` is the kind's name rule (:func:`name_rule`).
    """
    meta = obj.get("metadata") or {}
    errs: list[FieldError] = []
    generate_name = meta.get("generateName") or ""
    if generate_name:
        errs.extend(invalid(f"{path}.generateName", generate_name, msg) for msg in name_fn(generate_name, True))
    name = meta.get("name") or ""
    if not name:
        errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errs.extend(invalid(f"{path}.name", name, msg) for msg in name_fn(name, False))
    ns = meta.get("namespace") or ""
    if namespaced:
        if not ns:
            errs.append(required(f"{path}.namespace"))
        else:
            errs.extend(invalid(f"{path}.namespace", ns, msg) for msg in validate_namespace_name(ns, False))
    elif ns:
        errs.append(forbidden(f"{path}.namespace", "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        errs.append(invalid(f"{path}.generation", generation, "must be greater than or equal to 0"))
    errs.extend(validate_labels(meta.get("labels"), f"{path}.labels"))
    errs.extend(validate_annotations(meta.get("annotations"), f"{path}.annotations"))
    errs.extend(validate_owner_references(meta.get("ownerReferences"), f"{path}.ownerReferences"))
    errs.extend(validate_finalizers(meta.get("finalizers"), f"{path}.finalizers"))
    return errs


FIELD_IMMUTABLE = "field is immutable"


def validate_object_meta_update(new: dict, old: dict, path: str = "metadata") -> list[FieldError]:
    """The rules an update's ``metadata`` obeys (``ValidateObjectMetaUpdate``).

    An update names the version it read (``resourceVersion``, optimistic
    concurrency), and may not rename, move or re-identify the object.
    """
    new_meta, old_meta = new.get("metadata") or {}, old.get("metadata") or {}
    errs: list[FieldError] = []
    if old_meta.get("deletionTimestamp"):
        # Once deletion has begun, finalizers may only be removed, never added.
        added = sorted(set(new_meta.get("finalizers") or []) - set(old_meta.get("finalizers") or []))
        if added:
            errs.append(forbidden(
                f"{path}.finalizers",
                f"no new finalizers can be added if the object is being deleted, found new finalizers {_go_list(added)}"))
    if not new_meta.get("resourceVersion"):
        errs.append(invalid(f"{path}.resourceVersion", new_meta.get("resourceVersion") or "", "must be specified for an update"))
    for member in ("name", "namespace", "uid"):
        if (new_meta.get(member) or "") != (old_meta.get(member) or ""):
            errs.append(invalid(f"{path}.{member}", new_meta.get(member) or "", FIELD_IMMUTABLE))
    errs.extend(validate_labels(new_meta.get("labels"), f"{path}.labels"))
    errs.extend(validate_annotations(new_meta.get("annotations"), f"{path}.annotations"))
    errs.extend(validate_owner_references(new_meta.get("ownerReferences"), f"{path}.ownerReferences"))
    return errs


def _go_list(values: list[str]) -> str:
    # Go's %#v of a []string.
    return render_value(list(values))


# --- label selectors as API fields (metav1/validation) -------------------------

SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: dict | None, path: str) -> list[FieldError]:
    """A ``LabelSelector`` field (a Deployment's ``spec.selector``) as ``ValidateLabelSelector`` checks it."""
    if selector is None:
        return []
    errs = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        where = f"{path}.matchExpressions[{i}]"
        operator, values = expr.get("operator") or "", expr.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{where}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(f"{where}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(f"{where}.operator", operator, "not a valid selector operator"))
        key = expr.get("key") or ""
        errs.extend(invalid(f"{where}.key", key, msg) for msg in is_qualified_name(key))
        for j, value in enumerate(values):
            errs.extend(invalid(f"{where}.values[{j}]", value, msg) for msg in is_valid_label_value(value))
    return errs
