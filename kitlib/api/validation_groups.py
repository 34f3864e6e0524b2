"""Validation of the small API groups: autoscaling, RBAC, scheduling and coordination.

- ``autoscaling/v2`` HorizontalPodAutoscaler: a target to scale (kind and
  name), ``1 <= minReplicas <= maxReplicas``, metrics whose ``type`` names
  the one source they fill, scaling policies within kube's bounds.
- ``rbac.authorization.k8s.io/v1`` Roles and bindings: every rule has verbs
  and either resources (with API groups) or, cluster-wide only, non-resource
  URLs; a binding's ``roleRef`` names a Role or ClusterRole and can never be
  changed (delete and recreate the binding: who is granted what must not
  shift under a name); subjects are Users, Groups or ServiceAccounts.
- ``scheduling.k8s.io/v1`` PriorityClass: user classes stay at or below one
  billion and ``system-`` names are reserved; value and preemption policy
  are frozen.
- ``coordination.k8s.io/v1`` Lease: positive durations.

Messages are those of ``pkg/apis/{autoscaling,rbac,scheduling,coordination}/validation``
of v1.32.

    >>> [str(e) for e in validate_role({"rules": [{"apiGroups": [""], "resources": ["pods"]}]})]
    ['rules[0].verbs: Required value: verbs must contain at least one value']

Simplifications:
- HPA: ``HPAScaleToZero`` is off, as by default; container resource names
  are not checked; quantities in messages print in canonical form.
- ClusterRole ``aggregationRule`` selectors are checked as label selectors
  only; Lease ``strategy``/``preferredHolder`` (alpha) are not checked.
"""

from __future__ import annotations

from typing import Any

from kitlib.api.field import FieldError, GoSyntax, forbidden, go_quote, invalid, not_supported, required
from kitlib.api.quantity import QuantityError, parse_quantity
from kitlib.api.validation import name_is_dns_subdomain, name_is_path_segment, validate_label_selector
from kitlib.api.validation_common import dns_label, immutable, nonnegative, one_of

Obj = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"


# --- HorizontalPodAutoscaler (autoscaling/v2) -------------------------------------------

METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]
_SOURCES = {"Object": "object", "Pods": "pods", "Resource": "resource", "External": "external",
            "ContainerResource": "containerResource"}
MAX_PERIOD_SECONDS, MAX_STABILIZATION_SECONDS = 1800, 3600


def _reference(ref: Obj, path: str) -> list[FieldError]:
    """``ValidateCrossVersionObjectReference``: kind and name are URL path segments."""
    errs = []
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        errs += [invalid(f"{path}.{key}", value, m) for m in name_is_path_segment(value)] if value else [required(f"{path}.{key}")]
    return errs


def _target(target: Obj, path: str) -> list[FieldError]:
    kind = target.get("type") or ""
    errs = [] if kind else [required(f"{path}.type", "must specify a metric target type")]
    if kind not in ("Utilization", "Value", "AverageValue"):
        errs.append(invalid(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue"))
    for key in ("value", "averageValue"):
        if target.get(key) is not None:
            try:
                quantity = parse_quantity(target[key])
            except QuantityError as err:
                errs.append(invalid(f"{path}.{key}", target[key], str(err)))
                continue
            errs += [] if quantity.value > 0 else [invalid(f"{path}.{key}", str(quantity), "must be positive")]
    if (utilization := target.get("averageUtilization")) is not None and utilization < 1:
        errs.append(invalid(f"{path}.averageUtilization", utilization, "must be greater than 0"))
    return errs


def _metric_name(metric: Obj, path: str) -> list[FieldError]:
    name = metric.get("name") or ""
    return [invalid(f"{path}.name", name, m) for m in name_is_path_segment(name)] if name else [
        required(f"{path}.name", "must specify a metric name")]


def _source(kind: str, src: Obj, path: str) -> list[FieldError]:
    target, errs = src.get("target") or {}, []
    if kind == "object":
        errs += _reference(src.get("describedObject") or {}, f"{path}.describedObject")
    if kind in ("object", "external", "pods"):
        errs += _metric_name(src.get("metric") or {}, f"{path}.metric")
    elif not src.get("name"):
        errs.append(required(f"{path}.name", "must specify a resource name"))
    if kind == "containerResource":
        container = src.get("container") or ""
        errs += dns_label(container, f"{path}.container") if container else [required(f"{path}.container", "must specify a container")]
    errs += _target(target, f"{path}.target")
    value, average, utilization = (target.get(k) for k in ("value", "averageValue", "averageUtilization"))
    if kind == "object" and value is None and average is None:
        errs.append(required(f"{path}.target.averageValue", "must set either a target value or averageValue"))
    elif kind == "external" and value is None and average is None:
        errs.append(required(f"{path}.target.averageValue", "must set either a target value for metric or a per-pod target"))
    elif kind == "external" and value is not None and average is not None:
        errs.append(forbidden(f"{path}.target.value", "may not set both a target value for metric and a per-pod target"))
    elif kind == "pods" and average is None:
        errs.append(required(f"{path}.target.averageValue", "must specify a positive target averageValue"))
    elif kind in ("resource", "containerResource") and utilization is None and average is None:
        errs.append(required(f"{path}.target.averageUtilization", "must set either a target raw value or a target utilization"))
    elif kind in ("resource", "containerResource") and utilization is not None and average is not None:
        errs.append(forbidden(f"{path}.target.averageValue", "may not set both a target raw value and a target utilization"))
    return errs


def _metric(metric: Obj, path: str) -> list[FieldError]:
    kind = metric.get("type") or ""
    errs = [] if kind else [required(f"{path}.type", "must specify a metric source type")]
    errs += [] if kind in METRIC_TYPES else [not_supported(f"{path}.type", kind, METRIC_TYPES)]
    present = [key for key in ("object", "external", "pods", "resource", "containerResource") if metric.get(key) is not None]
    if present:  # only the first source found is validated
        errs += _source(present[0], metric[present[0]], f"{path}.{present[0]}")
    expected = _SOURCES.get(kind)
    if expected is None:
        errs.append(not_supported(f"{path}.type", kind, METRIC_TYPES))
    elif metric.get(expected) is None:
        errs.append(required(f"{path}.{expected}", "must populate information for the given metric source"))
    if len(present) != 1:
        errs += [forbidden(f"{path}.{key}", "must populate the given metric source only") for key in sorted(present)
                 if key != expected]
    return errs


def _scaling_rules(rules: Obj | None, path: str) -> list[FieldError]:
    if rules is None:
        return []
    errs, window = [], rules.get("stabilizationWindowSeconds")
    if window is not None and window < 0:
        errs.append(invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero"))
    if window is not None and window > MAX_STABILIZATION_SECONDS:
        errs.append(invalid(f"{path}.stabilizationWindowSeconds", window, f"must be less than or equal to {MAX_STABILIZATION_SECONDS}"))
    if (select := rules.get("selectPolicy")) is not None and select not in ("Disabled", "Max", "Min"):
        errs.append(not_supported(f"{path}.selectPolicy", select, ["Disabled", "Max", "Min"]))
    policies = rules.get("policies") or []
    errs += [] if policies else [required(f"{path}.policies", "must specify at least one Policy")]
    for i, policy in enumerate(policies):
        where = f"{path}.policies[{i}]"
        if (kind := policy.get("type") or "") not in ("Pods", "Percent"):
            errs.append(not_supported(f"{where}.type", kind, ["Percent", "Pods"]))
        for key in ("value", "periodSeconds"):
            if policy.get(key, 0) <= 0:
                errs.append(invalid(f"{where}.{key}", policy.get(key, 0), "must be greater than zero"))
        if policy.get("periodSeconds", 0) > MAX_PERIOD_SECONDS:
            errs.append(invalid(f"{where}.periodSeconds", policy["periodSeconds"], f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    return errs


def validate_hpa(hpa: Obj, old: Obj | None = None) -> list[FieldError]:
    """``validateHorizontalPodAutoscalerSpec``; an update may keep a ``minReplicas: 0`` it already had."""
    spec = hpa.get("spec") or {}
    low = 0 if old is not None and (old.get("spec") or {}).get("minReplicas") == 0 else 1
    least, most = spec.get("minReplicas"), spec.get("maxReplicas", 0)
    errs = [invalid("spec.minReplicas", least, f"must be greater than or equal to {low}")] if least is not None and least < low else []
    errs += [invalid("spec.maxReplicas", most, "must be greater than 0")] if most < 1 else []
    if least is not None and most < least:
        errs.append(invalid("spec.maxReplicas", most, "must be greater than or equal to `minReplicas`"))
    errs += _reference(spec.get("scaleTargetRef") or {}, "spec.scaleTargetRef")
    metrics = spec.get("metrics") or []
    for i, metric in enumerate(metrics):
        errs += _metric(metric, f"spec.metrics[{i}]")
    if least == 0 and not any(m.get("type") in ("Object", "External") for m in metrics):
        errs.append(forbidden("spec.metrics", "must specify at least one Object or External metric to support scaling to zero replicas"))
    behavior = spec.get("behavior") or {}
    return errs + _scaling_rules(behavior.get("scaleUp"), "spec.behavior.scaleUp") + \
        _scaling_rules(behavior.get("scaleDown"), "spec.behavior.scaleDown")


def validate_hpa_status(new: Obj, old: Obj) -> list[FieldError]:
    status = new.get("status") or {}
    return [e for key in ("currentReplicas", "desiredReplicas") for e in nonnegative(f"status.{key}", status.get(key, 0))]


# --- RBAC ---------------------------------------------------------------------------------


def _rule(rule: Obj, namespaced: bool, path: str) -> list[FieldError]:
    """``ValidatePolicyRule``."""
    errs = [] if rule.get("verbs") else [required(f"{path}.verbs", "verbs must contain at least one value")]
    if urls := rule.get("nonResourceURLs"):
        if namespaced:
            errs.append(invalid(f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(invalid(f"{path}.nonResourceURLs", urls, "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    errs += [] if rule.get("apiGroups") else [required(f"{path}.apiGroups", "resource rules must supply at least one api group")]
    return errs + ([] if rule.get("resources") else [required(f"{path}.resources", "resource rules must supply at least one resource")])


def validate_role(role: Obj, namespaced: bool = True) -> list[FieldError]:
    """``ValidateRole`` / ``ValidateClusterRole`` after the metadata."""
    errs = [e for i, rule in enumerate(role.get("rules") or []) for e in _rule(rule, namespaced, f"rules[{i}]")]
    if (aggregation := role.get("aggregationRule")) is not None and not namespaced:
        selectors = aggregation.get("clusterRoleSelectors") or []
        if not selectors:
            errs.append(required("aggregationRule.clusterRoleSelectors",
                                 "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, selector in enumerate(selectors):
            errs += validate_label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return errs


def validate_cluster_role(role: Obj) -> list[FieldError]:
    return validate_role(role, namespaced=False)


def _subject(subject: Obj, namespaced: bool, path: str) -> list[FieldError]:
    name, kind, group = (subject.get(k) or "" for k in ("name", "kind", "apiGroup"))
    errs = [] if name else [required(f"{path}.name")]
    if kind == "ServiceAccount":
        errs += [invalid(f"{path}.name", name, m) for m in name_is_dns_subdomain(name)] if name else []
        errs += [not_supported(f"{path}.apiGroup", group, [""])] if group else []
        if not namespaced and not subject.get("namespace"):
            errs.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        errs += [] if group == RBAC_GROUP else [not_supported(f"{path}.apiGroup", group, [RBAC_GROUP])]
    else:
        errs.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def validate_role_binding(binding: Obj, namespaced: bool = True) -> list[FieldError]:
    """``ValidateRoleBinding`` / ``ValidateClusterRoleBinding`` after the metadata."""
    ref = binding.get("roleRef") or {}
    errs = [] if ref.get("apiGroup") == RBAC_GROUP else [not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", [RBAC_GROUP])]
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    errs += [] if ref.get("kind") in kinds else [not_supported("roleRef.kind", ref.get("kind") or "", kinds)]
    name = ref.get("name") or ""
    errs += [invalid("roleRef.name", name, m) for m in name_is_path_segment(name)] if name else [required("roleRef.name")]
    for i, subject in enumerate(binding.get("subjects") or []):
        errs += _subject(subject, namespaced, f"subjects[{i}]")
    return errs


def validate_cluster_role_binding(binding: Obj) -> list[FieldError]:
    return validate_role_binding(binding, namespaced=False)


def validate_role_binding_update(new: Obj, old: Obj, namespaced: bool = True) -> list[FieldError]:
    ref, old_ref = new.get("roleRef") or {}, old.get("roleRef") or {}
    errs = validate_role_binding(new, namespaced)
    if any((ref.get(k) or "") != (old_ref.get(k) or "") for k in ("apiGroup", "kind", "name")):
        shown = GoSyntax(f"rbac.RoleRef{{APIGroup:{go_quote(ref.get('apiGroup') or '')}, Kind:{go_quote(ref.get('kind') or '')}, "
                         f"Name:{go_quote(ref.get('name') or '')}}}")
        errs.append(invalid("roleRef", shown, "cannot change roleRef"))
    return errs


def validate_cluster_role_binding_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_role_binding_update(new, old, namespaced=False)


# --- PriorityClass and Lease ------------------------------------------------------------

HIGHEST_USER_PRIORITY = 1000000000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


def validate_priority_class(pc: Obj) -> list[FieldError]:
    """``ValidatePriorityClass``: priorities above a billion belong to the system's own classes."""
    name, value = (pc.get("metadata") or {}).get("name") or "", pc.get("value", 0)
    errs = []
    if name.startswith("system-"):
        if name not in SYSTEM_PRIORITY_CLASSES:
            why = f"{name} is not a known system priority class"
        elif SYSTEM_PRIORITY_CLASSES[name] != value:
            why = f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
        elif pc.get("globalDefault"):
            why = f"globalDefault of {name} PriorityClass must be false"
        else:
            why = ""
        if why:
            errs.append(forbidden("metadata.name", f"priority class names with 'system-' prefix are reserved for system "
                                                   f"use only. error: {why}"))
    elif value > HIGHEST_USER_PRIORITY:
        errs.append(forbidden("value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"))
    if pc.get("preemptionPolicy") is not None:
        errs += one_of(pc["preemptionPolicy"], "preemptionPolicy", ["PreemptLowerPriority", "Never"])
    return errs


def validate_priority_class_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = [forbidden("value", "may not be changed in an update.")] if new.get("value", 0) != old.get("value", 0) else []
    return errs + immutable("preemptionPolicy", new.get("preemptionPolicy"), old.get("preemptionPolicy"))


def validate_lease(lease: Obj) -> list[FieldError]:
    spec, errs = lease.get("spec") or {}, []
    if (duration := spec.get("leaseDurationSeconds")) is not None and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    if (transitions := spec.get("leaseTransitions")) is not None:
        errs += nonnegative("spec.leaseTransitions", transitions)
    return errs
