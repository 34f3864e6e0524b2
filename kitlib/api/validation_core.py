"""Core (``v1``) validation of the kinds besides Pods and Services.

What kube-apiserver checks before it stores a ReplicationController, a
Namespace, a Node, a ConfigMap, a Secret or an Event, word for word as
``pkg/apis/core/validation`` of v1.32 says it: a ReplicationController's
selector is not empty and its template's labels satisfy it; ConfigMap and
Secret keys are file-name-safe and their data stays under 1 MiB; a typed
Secret carries its keys; an Event's namespace agrees with its object's.
Pods live in :mod:`kitlib.api.validation_pod`, Services in
:mod:`kitlib.api.validation_service`. Each ``validate_<kind>`` runs after
the metadata rules, each ``validate_<kind>_update`` after the update's.

    >>> [str(e) for e in validate_config_map({"data": {"app.conf": "x", "bad key": "y"}})][0][:59]
    'data[bad key]: Invalid value: "bad key": a valid config key'

Simplifications:
- The content of ``.dockercfg``/``.dockerconfigjson`` Secrets is not parsed;
  ``stringData`` keys are checked as ``data`` keys (kube merges them first).
- Node: only taints, resource quantities, Pod CIDRs' syntax and the update
  rules on Pod CIDRs, provider ID and addresses.
- Events: only the ``v1`` (legacy) rules; ``events.k8s.io`` is not served.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from kitlib.api.field import (
    DUPLICATE,
    FieldError,
    GoSyntax,
    duplicate,
    forbidden,
    go_quote,
    invalid,
    not_supported,
    required,
    too_long,
)
from kitlib.api.quantity import QuantityError, parse_quantity
from kitlib.api.validation import FIELD_IMMUTABLE, is_dns1123_subdomain, is_valid_label_value
from kitlib.api.validation_common import (
    NEGATIVE,
    SELECTOR_MISMATCH,
    go_labels,
    nonnegative,
    qualified_name,
    replica_status,
)
from kitlib.api.validation_container import config_map_key
from kitlib.api.validation_pod import taint_effect, validate_pod_template_spec
from kitlib.api.validation_service import cidr

Obj = dict[str, Any]
MAX_SECRET_SIZE = 1024 * 1024  # core.MaxSecretSize: ConfigMaps share it
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")


def kube_finalizer(name: str, path: str) -> list[FieldError]:
    """``validateKubeFinalizerName``: a finalizer without a domain must be one of Kubernetes' own."""
    if "/" in name or name in STANDARD_FINALIZERS:
        return []
    return [invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")]


# --- ReplicationControllers ---------------------------------------------------------


def validate_replication_controller(rc: Obj) -> list[FieldError]:
    """``ValidateReplicationControllerSpec``: a non-empty selector that the template's labels satisfy."""
    spec = rc.get("spec") or {}
    selector, template = spec.get("selector") or {}, spec.get("template")
    errs = nonnegative("spec.minReadySeconds", spec.get("minReadySeconds", 0))
    errs += [] if selector else [required("spec.selector")]
    errs += nonnegative("spec.replicas", spec.get("replicas", 0))
    if template is None:
        return errs + [required("spec.template")]
    labels = (template.get("metadata") or {}).get("labels")
    if selector and any((labels or {}).get(k) != v for k, v in selector.items()):
        errs.append(invalid("spec.template.metadata.labels", go_labels(labels), SELECTOR_MISMATCH))
    errs += validate_pod_template_spec(template, "spec.template")
    tspec = template.get("spec") or {}
    if (policy := tspec.get("restartPolicy") or "") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


REPLICA_SET_STATUS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")


def validate_replica_set_status(obj: Obj) -> list[FieldError]:
    """ReplicationController and ReplicaSet status updates (``ValidateReplicaSetStatus``)."""
    return replica_status(obj.get("status") or {}, REPLICA_SET_STATUS, REPLICA_SET_STATUS[1:4],
                          "cannot be greater than readyReplicas")


# --- Namespaces, Nodes -----------------------------------------------------------------


def validate_namespace(ns: Obj, path: str = "spec.finalizers", indexed: bool = False) -> list[FieldError]:
    """``ValidateNamespace``: ``spec.finalizers`` are qualified names (reported without an index on create)."""
    errs = []
    for i, name in enumerate((ns.get("spec") or {}).get("finalizers") or []):
        where = f"{path}[{i}]" if indexed else path
        errs += qualified_name(name, where) + kube_finalizer(name, where)
    return errs


def validate_namespace_finalize(ns: Obj) -> list[FieldError]:
    """The ``namespaces/finalize`` subresource (``ValidateNamespaceFinalizeUpdate``)."""
    return validate_namespace(ns, indexed=True)


def validate_namespace_status_update(new: Obj, old: Obj) -> list[FieldError]:
    phase = (new.get("status") or {}).get("phase") or ""
    if not (new.get("metadata") or {}).get("deletionTimestamp"):
        return [] if phase == "Active" else [
            invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
    return [] if phase == "Terminating" else [
        invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")]


def _go_taint(taint: Obj) -> Any:
    if taint.get("timeAdded"):
        return taint
    return GoSyntax(f"core.Taint{{Key:{go_quote(taint.get('key') or '')}, Value:{go_quote(taint.get('value') or '')}, "
                    f"Effect:{go_quote(taint.get('effect') or '')}, TimeAdded:(*v1.Time)(nil)}}")


def _node_common(node: Obj) -> list[FieldError]:
    errs, seen = [], set()
    for i, taint in enumerate((node.get("spec") or {}).get("taints") or []):
        where = f"metadata.taints[{i}]"  # sic: kube reports a Node's taints under metadata
        key, value, effect = (taint.get(k) or "" for k in ("key", "value", "effect"))
        errs += qualified_name(key, f"{where}.key")
        if msgs := is_valid_label_value(value):
            errs.append(invalid(f"{where}.value", value, ";".join(msgs)))
        errs += taint_effect(effect, f"{where}.effect", allow_empty=False)
        if (key, effect) in seen:
            errs.append(FieldError(DUPLICATE, where, _go_taint(taint), "taints must be unique by key and effect pair"))
        seen.add((key, effect))
    status = node.get("status") or {}
    for side in ("capacity", "allocatable"):
        for name in sorted(status.get(side) or {}):
            where, raw = f"status.{side}.{name}", status[side][name]
            try:
                quantity = parse_quantity(raw)
            except QuantityError as err:
                errs.append(invalid(where, raw, str(err)))
                continue
            errs += [invalid(where, str(quantity), NEGATIVE)] if quantity.value < 0 else []
    return errs


def validate_node(node: Obj) -> list[FieldError]:
    errs = _node_common(node)
    for i, value in enumerate((node.get("spec") or {}).get("podCIDRs") or []):
        errs += cidr(value, f"spec.podCIDRs[{i}]")
    return errs


def validate_node_update(new: Obj, old: Obj) -> list[FieldError]:
    """``ValidateNodeUpdate`` (also for ``nodes/status``): Pod CIDRs and provider ID are set once."""
    errs = _node_common(new)
    seen = set()
    for i, address in enumerate((new.get("status") or {}).get("addresses") or []):
        key = (address.get("type") or "", address.get("address") or "")
        if key in seen:
            errs.append(duplicate(f"status.addresses[{i}]", GoSyntax(
                f"core.NodeAddress{{Type:{go_quote(key[0])}, Address:{go_quote(key[1])}}}")))
        seen.add(key)
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if old_spec.get("podCIDRs") and old_spec["podCIDRs"] != spec.get("podCIDRs"):
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    if old_spec.get("providerID") and old_spec["providerID"] != spec.get("providerID"):
        errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    return errs


# --- ConfigMaps and Secrets ---------------------------------------------------------


def _size(value: Any, encoded: bool) -> int:
    text = value if isinstance(value, str) else ""
    if encoded:
        try:
            return len(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            return len(text)
    return len(text.encode())


def _immutable_data(new: Obj, old: Obj, keys: tuple[str, ...]) -> list[FieldError]:
    if not old.get("immutable"):
        return []
    why = "field is immutable when `immutable` is set"
    errs = [] if new.get("immutable") else [forbidden("immutable", why)]
    return errs + [forbidden(key, why) for key in keys if (new.get(key) or {}) != (old.get(key) or {})]


def validate_config_map(cm: Obj) -> list[FieldError]:
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    errs, total = [], 0
    for key in sorted(data):
        errs += [invalid(f"data[{key}]", key, m) for m in config_map_key(key)]
        errs += [invalid(f"data[{key}]", key, "duplicate of key present in binaryData")] if key in binary else []
        total += _size(data[key], encoded=False)
    for key in sorted(binary):
        errs += [invalid(f"binaryData[{key}]", key, m) for m in config_map_key(key)]
        total += _size(binary[key], encoded=True)
    return errs + ([too_long("", MAX_SECRET_SIZE)] if total > MAX_SECRET_SIZE else [])  # "" is the whole object


def validate_config_map_update(new: Obj, old: Obj) -> list[FieldError]:
    return _immutable_data(new, old, ("data", "binaryData")) + validate_config_map(new)


SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",), "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",), "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_secret(secret: Obj) -> list[FieldError]:
    data, plain = secret.get("data") or {}, secret.get("stringData") or {}
    errs, total = [], 0
    for key in sorted(set(data) | set(plain)):
        errs += [invalid(f"data[{key}]", key, m) for m in config_map_key(key)]
        total += _size(plain[key], encoded=False) if key in plain else _size(data[key], encoded=True)
    errs += [too_long("data", MAX_SECRET_SIZE)] if total > MAX_SECRET_SIZE else []
    kind, keys = secret.get("type") or "", set(data) | set(plain)
    if kind == "kubernetes.io/service-account-token":
        if not ((secret.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind == "kubernetes.io/basic-auth" and not keys & {"username", "password"}:
        errs += [required("data[username]"), required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth":
        errs += [] if data.get("ssh-privatekey") or plain.get("ssh-privatekey") else [required("data[ssh-privatekey]")]
    else:
        errs += [required(f"data[{key}]") for key in SECRET_REQUIRED_KEYS.get(kind, ()) if key not in keys]
    return errs


def validate_secret_update(new: Obj, old: Obj) -> list[FieldError]:
    kind, old_kind = new.get("type") or "", old.get("type") or ""
    errs = [invalid("type", kind, FIELD_IMMUTABLE)] if kind != old_kind else []
    return errs + _immutable_data(new, old, ("data",)) + validate_secret(new)


# --- Events ------------------------------------------------------------


def validate_event(event: Obj) -> list[FieldError]:
    """``legacyValidateEvent``: all kube checks of a ``v1`` Event (the strict ones are ``events.k8s.io``'s)."""
    ns = (event.get("metadata") or {}).get("namespace") or ""
    involved = (event.get("involvedObject") or {}).get("namespace") or ""
    mismatch = [invalid("involvedObject.namespace", involved, "does not match event.namespace")]
    if not event.get("eventTime"):
        errs = mismatch if (ns not in ("", "default") if not involved else ns != involved) else []
    else:
        errs = mismatch if not involved and ns not in ("default", "kube-system") else []
        controller = event.get("reportingController") or ""
        errs += [] if controller else [required("reportingController")]
        errs += qualified_name(controller, "reportingController")
        for key, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128), ("message", 1024)):
            value = event.get(key) or ""
            errs += [required(key)] if not value and key != "message" else []
            errs += [invalid(key, "", f"can have at most {limit} characters")] if len(value) > limit else []
    return errs + [invalid("namespace", ns, m) for m in is_dns1123_subdomain(ns)]
