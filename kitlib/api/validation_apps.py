"""apps/v1 validation: Deployments, ReplicaSets, DaemonSets and StatefulSets.

A controller finds its Pods by label, so every workload's ``spec.selector``
must be given, must not be empty, and must match the labels of the pod
template it stamps out: the classic ``selector does not match template
labels``. Its Pods must restart ``Always`` (they are meant to keep
running), counts are never negative, a rolling update cannot have both
``maxSurge`` and ``maxUnavailable`` at zero (it could never progress), and
the selector may not change afterwards (the old Pods would be orphaned).
Messages are ``pkg/apis/apps/validation`` of v1.32, plus the selector
immutability the registry strategies add.

    >>> d = {"spec": {"selector": {"matchLabels": {"app": "web"}}, "replicas": 1,
    ...      "template": {"metadata": {"labels": {"app": "x"}}, "spec": {}}, "strategy": {"type": "Recreate"}}}
    >>> str(validate_deployment(d)[0])
    'spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`'

Simplifications:
- ``templateGeneration`` (extensions/v1beta1 DaemonSets) and ``rollbackTo``
  are ignored; StatefulSet ``serviceName`` is not checked (as in v1.32).
- A StatefulSet's pod template gets only labels and annotations checked,
  exactly as kube does (its volumes may come from ``volumeClaimTemplates``).
"""

from __future__ import annotations

import re
from typing import Any

from kitlib.api.field import FieldError, forbidden, invalid, not_supported, required
from kitlib.api.validation import validate_annotations, validate_label_selector, validate_labels
from kitlib.api.validation_common import (
    SELECTOR_MISMATCH,
    go_int_or_string,
    go_label_selector,
    go_labels,
    go_strategy,
    immutable,
    nonnegative,
    replica_status,
    selector_matches,
    semantic_equal,
)
from kitlib.api.validation_pod import validate_pod_template_spec

Obj = dict[str, Any]


def _labels(spec: Obj) -> dict | None:
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels")


def selector_rules(spec: Obj, word: str, bad_selector: str = "invalid label selector") -> tuple[list[FieldError], bool | None]:
    """``spec.selector`` required and not empty; returns the errors and whether it matches the template."""
    selector = spec.get("selector")
    if selector is None:
        errs = [required("spec.selector")]
    else:
        errs = validate_label_selector(selector, "spec.selector")
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errs.append(invalid("spec.selector", go_label_selector(selector), f"empty selector is invalid for {word}"))
    matches = selector_matches(selector, _labels(spec))
    if matches is None:
        errs.append(invalid("spec.selector", go_label_selector(selector), bad_selector))
    return errs, matches


def _template(spec: Obj, kind: str, matches: bool | None, full: bool = True) -> list[FieldError]:
    """``ValidatePodTemplateSpecFor<ReplicaSet|StatefulSet>`` and the restart policy every workload needs."""
    errs = [invalid("spec.template.metadata.labels", go_labels(_labels(spec)), SELECTOR_MISMATCH)] if matches is False else []
    template = spec.get("template") or {}
    if full:
        errs += validate_pod_template_spec(template, "spec.template")
    else:
        meta = template.get("metadata") or {}
        errs += validate_labels(meta.get("labels"), "spec.template.labels")
        errs += validate_annotations(meta.get("annotations"), "spec.template.annotations")
    tspec = template.get("spec") or {}
    if (policy := tspec.get("restartPolicy") or "") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


# --- maxSurge / maxUnavailable ------------------------------------------------------


def _percent(value: Any) -> int | None:
    return int(value[:-1]) if isinstance(value, str) and re.fullmatch(r"[0-9]+%", value) else None


def _int_or_percent(value: Any) -> int:
    if (percent := _percent(value)) is not None:
        return percent
    if isinstance(value, str):
        return int(value) if re.fullmatch(r"[+-]?[0-9]+", value) else 0
    return value or 0


def positive_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent``: ``25%`` or a count, not negative."""
    if isinstance(value, str):
        if _percent(value) is None:
            return [invalid(path, go_int_or_string(value), "a valid percent string must be a numeric string followed by "
                            "an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
        return []
    return nonnegative(path, value or 0)


def not_over_100(value: Any, path: str) -> list[FieldError]:
    percent = _percent(value)
    return [invalid(path, go_int_or_string(value), "must not be greater than 100%")] if percent and percent > 100 else []


# --- Deployments and ReplicaSets --------------------------------------------------------


def _deployment_strategy(strategy: Obj) -> list[FieldError]:
    kind, rolling = strategy.get("type") or "", strategy.get("rollingUpdate")
    path = "spec.strategy.rollingUpdate"
    if kind == "Recreate":
        return [forbidden(path, "may not be specified when strategy `type` is 'Recreate'")] if rolling is not None else []
    if kind != "RollingUpdate":
        return [not_supported("spec.strategy", go_strategy("DeploymentStrategy", strategy), ["Recreate", "RollingUpdate"])]
    if rolling is None:
        return [required(path, "this should be defaulted and never be nil")]
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    errs = positive_int_or_percent(unavailable, f"{path}.maxUnavailable") + positive_int_or_percent(surge, f"{path}.maxSurge")
    if _int_or_percent(unavailable) == 0 and _int_or_percent(surge) == 0:
        # Neither a new Pod above the count nor an old one removed: the rollout could never start.
        errs.append(invalid(f"{path}.maxUnavailable", go_int_or_string(unavailable), "may not be 0 when `maxSurge` is 0"))
    return errs + not_over_100(unavailable, f"{path}.maxUnavailable")


def validate_deployment(d: Obj) -> list[FieldError]:
    """``ValidateDeploymentSpec``."""
    spec = d.get("spec") or {}
    errs = nonnegative("spec.replicas", spec.get("replicas", 0))
    selector_errs, matches = selector_rules(spec, "deployment")
    errs += selector_errs + (_template(spec, "ReplicaSet", matches) if matches is not None else [])  # sic: "ReplicaSet"
    errs += _deployment_strategy(spec.get("strategy") or {})
    errs += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds", 0))
    if spec.get("revisionHistoryLimit") is not None:
        errs += nonnegative("spec.revisionHistoryLimit", spec["revisionHistoryLimit"])
    if (deadline := spec.get("progressDeadlineSeconds")) is not None:
        errs += nonnegative("spec.progressDeadlineSeconds", deadline)
        if deadline <= spec.get("minReadySeconds", 0):
            errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return errs


def validate_replica_set(rs: Obj) -> list[FieldError]:
    """``ValidateReplicaSetSpec`` (whose empty-selector message says "deployment", as kube's does)."""
    spec = rs.get("spec") or {}
    errs = nonnegative("spec.replicas", spec.get("replicas", 0))
    errs += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds", 0))
    selector_errs, matches = selector_rules(spec, "deployment")
    return errs + selector_errs + (_template(spec, "ReplicaSet", matches) if matches is not None else [])


def selector_unchanged(new: Obj, old: Obj) -> list[FieldError]:
    """The registry strategies' rule for apps/v1: a workload's selector never changes."""
    selector = (new.get("spec") or {}).get("selector")
    return immutable("spec.selector", selector, (old.get("spec") or {}).get("selector"), go_label_selector(selector))


def validate_deployment_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_deployment(new) + selector_unchanged(new, old)


def validate_replica_set_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_replica_set(new) + selector_unchanged(new, old)


# --- DaemonSets ------------------------------------------------------------------------


def _daemon_set_strategy(strategy: Obj) -> list[FieldError]:
    kind, rolling, path = strategy.get("type") or "", strategy.get("rollingUpdate"), "spec.updateStrategy.rollingUpdate"
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        return [not_supported("spec.updateStrategy", go_strategy("DaemonSetUpdateStrategy", strategy), ["RollingUpdate", "OnDelete"])]
    if rolling is None:
        return [required(path)]
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    errs = positive_int_or_percent(unavailable, f"{path}.maxUnavailable") + positive_int_or_percent(surge, f"{path}.maxSurge")
    errs += not_over_100(unavailable, f"{path}.maxUnavailable") + not_over_100(surge, f"{path}.maxSurge")
    has_unavailable, has_surge = _int_or_percent(unavailable) != 0, _int_or_percent(surge) != 0
    if has_unavailable and has_surge:  # one node at a time: either surge a new Pod or take the old one down
        errs.append(invalid(f"{path}.maxSurge", go_int_or_string(surge), "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def validate_daemon_set(ds: Obj) -> list[FieldError]:
    """``ValidateDaemonSetSpec``: a missing selector shows only as a template mismatch, as in kube."""
    spec = ds.get("spec") or {}
    selector = spec.get("selector")
    errs = validate_label_selector(selector, "spec.selector") if selector is not None else []
    if selector_matches(selector, _labels(spec)) is False:
        errs.append(invalid("spec.template.metadata.labels", go_labels(_labels(spec)), SELECTOR_MISMATCH))
    if selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.append(invalid("spec.selector", go_label_selector(selector), "empty selector is invalid for daemonset"))
    errs += _template(spec, "DaemonSet", None)
    errs += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds", 0))
    errs += _daemon_set_strategy(spec.get("updateStrategy") or {})
    if spec.get("revisionHistoryLimit") is not None:
        errs += nonnegative("spec.revisionHistoryLimit", spec["revisionHistoryLimit"])
    return errs


def validate_daemon_set_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_daemon_set(new) + selector_unchanged(new, old)


# --- StatefulSets ---------------------------------------------------------------------

STATEFUL_SET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds")


def _stateful_set_strategy(strategy: Obj) -> list[FieldError]:
    kind, rolling, path = strategy.get("type") or "", strategy.get("rollingUpdate"), "spec.updateStrategy"
    if not kind:
        return [required(path)]
    if kind == "OnDelete":
        return [invalid(f"{path}.rollingUpdate", rolling, "only allowed for updateStrategy 'RollingUpdate'")] if rolling else []
    if kind != "RollingUpdate":
        return [invalid(path, go_strategy("StatefulSetUpdateStrategy", strategy), "must be 'RollingUpdate' or 'OnDelete'")]
    if rolling is None:
        return []
    errs = nonnegative(f"{path}.rollingUpdate.partition", rolling.get("partition", 0))
    if (unavailable := rolling.get("maxUnavailable")) is not None:
        where = f"{path}.rollingUpdate.maxUnavailable"
        errs += positive_int_or_percent(unavailable, where)
        if _int_or_percent(unavailable) == 0:
            errs.append(invalid(where, go_int_or_string(unavailable), "cannot be 0"))
        errs += not_over_100(unavailable, where)
    return errs


def validate_stateful_set(sts: Obj) -> list[FieldError]:
    """``ValidateStatefulSetSpec``."""
    spec = sts.get("spec") or {}
    policy = spec.get("podManagementPolicy") or ""
    errs = [] if policy else [required("spec.podManagementPolicy")]
    if policy and policy not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    errs += _stateful_set_strategy(spec.get("updateStrategy") or {})
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    for key in ("whenDeleted", "whenScaled") if retention is not None else ():
        if (value := retention.get(key) or "") not in ("Retain", "Delete"):
            errs.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{key}", value, ["Retain", "Delete"]))
    errs += nonnegative("spec.replicas", spec.get("replicas", 0))
    errs += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds", 0))
    if spec.get("ordinals") is not None:
        errs += nonnegative("spec.ordinals.start", spec["ordinals"].get("start", 0))
    selector_errs, matches = selector_rules(spec, "statefulset", bad_selector="")
    return errs + selector_errs + (_template(spec, "StatefulSet", matches, full=False) if matches is not None else [])


def validate_stateful_set_update(new: Obj, old: Obj) -> list[FieldError]:
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    rest = lambda s: {k: v for k, v in s.items() if k not in STATEFUL_SET_MUTABLE}
    errs = validate_stateful_set(new)
    if not semantic_equal(rest(spec), rest(old_spec)):
        errs.append(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                      "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                                      "'minReadySeconds' are forbidden"))
    return errs


# --- status subresources ------------------------------------------------------------


def _collision_count(new: Obj, old: Obj) -> list[FieldError]:
    count, old_count = ((o.get("status") or {}).get("collisionCount") for o in (new, old))
    if old_count is not None and (count is None or count < old_count):
        return [invalid("status.collisionCount", count or 0, "cannot be decremented")]
    return []


def validate_deployment_status(new: Obj, old: Obj) -> list[FieldError]:
    counts = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
              "unavailableReplicas", "collisionCount")
    return replica_status(new.get("status") or {}, counts, counts[2:5], "cannot be greater than readyReplicas") + \
        _collision_count(new, old)


def validate_stateful_set_status(new: Obj, old: Obj) -> list[FieldError]:
    counts = ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
              "observedGeneration", "collisionCount")
    return replica_status(new.get("status") or {}, counts, counts[1:5], "cannot be greater than status.readyReplicas") + \
        _collision_count(new, old)


def validate_daemon_set_status(new: Obj, old: Obj) -> list[FieldError]:
    counts = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
              "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable", "collisionCount")
    return replica_status(new.get("status") or {}, counts) + _collision_count(new, old)
