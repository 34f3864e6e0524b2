"""autoscaling, RBAC, scheduling and coordination validation, as kube v1.32 words it."""

from __future__ import annotations

import pytest

from kitlib.api.validate import validate

from .manifests import DELETE, HPA, build, edit, stored

RBAC = "rbac.authorization.k8s.io"
METRIC_TYPES = 'supported values: "ContainerResource", "External", "Object", "Pods", "Resource"'


def _errors(obj: dict, namespaced: bool = True, old: dict | None = None, subresource: str = "") -> list[str]:
    return [str(e) for e in validate(obj, namespaced=namespaced, old=old, subresource=subresource)]


def _cpu(utilization):
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": utilization}}}


HPA_CASES = [
    ("valid, default metric", {}, []),
    ("min replicas 0", {"spec.minReplicas": 0},
     ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
      "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas"]),
    ("max below min", {"spec.maxReplicas": 1},
     ["spec.maxReplicas: Invalid value: 1: must be greater than or equal to `minReplicas`"]),
    ("max 0", {"spec.minReplicas": DELETE, "spec.maxReplicas": 0},
     ["spec.maxReplicas: Invalid value: 0: must be greater than 0",
      "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`"]),
    ("no target", {"spec.scaleTargetRef": {"apiVersion": "apps/v1"}},
     ["spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value"]),
    ("target name", {"spec.scaleTargetRef.name": "a/b"},
     ["spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'"]),
    ("utilization 0", {"spec.metrics": [_cpu(0)]},
     ["spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"]),
    ("metric type", {"spec.metrics": [{"type": "Memory"}]},
     [f'spec.metrics[0].type: Unsupported value: "Memory": {METRIC_TYPES}'] * 2),
    ("type without source", {"spec.metrics": [{"type": "Pods", "resource": _cpu(50)["resource"]}]},
     ["spec.metrics[0].pods: Required value: must populate information for the given metric source"]),
    ("two sources", {"spec.metrics": [{**_cpu(50), "pods": {"metric": {"name": "qps"},
                                                            "target": {"type": "AverageValue", "averageValue": "10"}}}]},
     ["spec.metrics[0].pods: Forbidden: must populate the given metric source only"]),
    ("target both ways", {"spec.metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50, "averageValue": "500m"}}}]},
     ["spec.metrics[0].resource.target.averageValue: Forbidden: may not set both a target raw value and a target utilization"]),
    ("target type", {"spec.metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Percent",
                                                                                                  "averageValue": "-1"}}}]},
     ['spec.metrics[0].resource.target.type: Invalid value: "Percent": must be either Utilization, Value, or AverageValue',
      'spec.metrics[0].resource.target.averageValue: Invalid value: "-1": must be positive']),
    ("behavior", {"spec.behavior": {"scaleUp": {"stabilizationWindowSeconds": 4000, "selectPolicy": "Sum",
                                                "policies": [{"type": "Nodes", "value": 0, "periodSeconds": 2000}]}}},
     ["spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600",
      'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Sum": supported values: "Disabled", "Max", "Min"',
      'spec.behavior.scaleUp.policies[0].type: Unsupported value: "Nodes": supported values: "Percent", "Pods"',
      "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
      "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be less than or equal to 1800"]),
]


@pytest.mark.parametrize("changes,expected", [c[1:] for c in HPA_CASES], ids=[c[0] for c in HPA_CASES])
def test_hpa(changes, expected):
    assert _errors(build(HPA, changes)) == expected


def test_hpa_status():
    old = stored(HPA)
    assert _errors(edit(old, {"status": {"currentReplicas": -1, "desiredReplicas": 2}}), old=old, subresource="status") == [
        "status.currentReplicas: Invalid value: -1: must be greater than or equal to 0"]


def _rbac(kind: str, name: str, namespace: str | None = None, **fields) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": meta, **fields}


READER = _rbac("Role", "pod-reader", "default", rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])
BINDING = _rbac("RoleBinding", "read-pods", "default", roleRef={"kind": "Role", "name": "pod-reader"},
                subjects=[{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "builder"}])
CLUSTER_BINDING = _rbac("ClusterRoleBinding", "read-all", roleRef={"kind": "ClusterRole", "name": "view"},
                        subjects=[{"kind": "Group", "name": "system:authenticated"}])

# (id, object, namespaced, changes, expected)
RBAC_CASES = [
    ("role", READER, True, {}, []),
    ("role names are path segments", READER, True, {"metadata.name": "system:reader"}, []),
    ("role name with a slash", READER, True, {"metadata.name": "a/b"},
     ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]),
    ("rule without verbs", READER, True, {"rules[0].verbs": []},
     ["rules[0].verbs: Required value: verbs must contain at least one value"]),
    ("rule without resources", READER, True, {"rules[0]": {"verbs": ["get"]}},
     ["rules[0].apiGroups: Required value: resource rules must supply at least one api group",
      "rules[0].resources: Required value: resource rules must supply at least one resource"]),
    ("URLs in a Role", READER, True, {"rules[0]": {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}},
     ['rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs']),
    ("URLs in a ClusterRole", _rbac("ClusterRole", "health", rules=[{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]),
     False, {}, []),
    ("URLs and resources", _rbac("ClusterRole", "mixed", rules=[
        {"nonResourceURLs": ["/healthz"], "resources": ["pods"], "verbs": ["get"]}]), False, {},
     ['rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: rules cannot apply to both regular resources and '
      "non-resource URLs"]),
    ("binding", BINDING, True, {}, []),
    ("roleRef kind", BINDING, True, {"roleRef.kind": "User"},
     ['roleRef.kind: Unsupported value: "User": supported values: "Role", "ClusterRole"']),
    ("roleRef group", BINDING, True, {"roleRef.apiGroup": "rbac"},
     ['roleRef.apiGroup: Unsupported value: "rbac": supported values: "rbac.authorization.k8s.io"']),
    ("roleRef name", BINDING, True, {"roleRef.name": ""}, ["roleRef.name: Required value"]),
    ("subjects", BINDING, True, {"subjects": [{"kind": "Robot", "name": "r2"}, {"kind": "User", "apiGroup": "x"},
                                              {"kind": "ServiceAccount", "name": "Builder", "apiGroup": "v1"}]},
     ['subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
      "subjects[1].name: Required value",
      'subjects[1].apiGroup: Unsupported value: "x": supported values: "rbac.authorization.k8s.io"',
      'subjects[2].name: Invalid value: "Builder": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
      "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
      "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      'subjects[2].apiGroup: Unsupported value: "v1": supported values: ""']),
    ("cluster binding", CLUSTER_BINDING, False, {}, []),
    ("cluster binding to a Role", CLUSTER_BINDING, False, {"roleRef.kind": "Role"},
     ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"']),
    ("cluster binding service account", CLUSTER_BINDING, False, {"subjects[0]": {"kind": "ServiceAccount", "name": "bot"}},
     ["subjects[0].namespace: Required value"]),
]


@pytest.mark.parametrize("base,namespaced,changes,expected", [c[1:] for c in RBAC_CASES], ids=[c[0] for c in RBAC_CASES])
def test_rbac(base, namespaced, changes, expected):
    assert _errors(build(base, changes), namespaced) == expected


@pytest.mark.parametrize("base,namespaced", [(BINDING, True), (CLUSTER_BINDING, False)], ids=["role", "cluster"])
def test_role_ref_is_immutable(base, namespaced):
    old = stored(base)
    assert _errors(edit(old, {"subjects": []}), namespaced, old=old) == []
    assert _errors(edit(old, {"roleRef.name": "edit", "roleRef.kind": "ClusterRole"}), namespaced, old=old) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: '
        "cannot change roleRef"]


PRIORITY = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}
LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
         "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}}

OTHER = [
    ("priority class", PRIORITY, False, {}, []),
    ("priority too high", PRIORITY, False, {"value": 1000000001},
     ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]),
    ("reserved name", PRIORITY, False, {"metadata.name": "system-high"},
     ["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
      "error: system-high is not a known system priority class"]),
    ("system class value", PRIORITY, False, {"metadata.name": "system-node-critical", "value": 1},
     ["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
      "error: value of system-node-critical PriorityClass must be 2000001000"]),
    ("system class", PRIORITY, False, {"metadata.name": "system-cluster-critical", "value": 2000000000}, []),
    ("preemption policy", PRIORITY, False, {"preemptionPolicy": "Always"},
     ['preemptionPolicy: Unsupported value: "Always": supported values: "PreemptLowerPriority", "Never"']),
    ("lease", LEASE, True, {}, []),
    ("lease durations", LEASE, True, {"spec.leaseDurationSeconds": 0, "spec.leaseTransitions": -1},
     ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
      "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]),
    ("lease finalizers are not kube's business", LEASE, True, {"metadata.finalizers": ["mine"]}, []),
]


@pytest.mark.parametrize("base,namespaced,changes,expected", [c[1:] for c in OTHER], ids=[c[0] for c in OTHER])
def test_priority_class_and_lease(base, namespaced, changes, expected):
    assert _errors(build(base, changes), namespaced) == expected


def test_priority_class_value_and_policy_are_frozen():
    old = stored(PRIORITY)
    assert _errors(edit(old, {"value": 2000, "preemptionPolicy": "Never"}), False, old=old) == [
        "value: Forbidden: may not be changed in an update.", 'preemptionPolicy: Invalid value: "Never": field is immutable']
