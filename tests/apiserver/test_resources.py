"""The resource table: the names, scopes and storage keys kube-apiserver uses."""

from __future__ import annotations

import pytest

from kitlib.apiserver import resources
from kitlib.apiserver.resources import RESOURCES, for_kind, lookup, resolve

# (group, version, plural, kind, namespaced, key of default/x or x)
TABLE = [
    ("", "v1", "pods", "Pod", True, "/registry/pods/default/x"),
    ("", "v1", "nodes", "Node", False, "/registry/minions/x"),
    ("", "v1", "services", "Service", True, "/registry/services/specs/default/x"),
    ("", "v1", "endpoints", "Endpoints", True, "/registry/services/endpoints/default/x"),
    ("", "v1", "namespaces", "Namespace", False, "/registry/namespaces/x"),
    ("", "v1", "replicationcontrollers", "ReplicationController", True, "/registry/controllers/default/x"),
    ("apps", "v1", "deployments", "Deployment", True, "/registry/deployments/default/x"),
    ("batch", "v1", "cronjobs", "CronJob", True, "/registry/cronjobs/default/x"),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, "/registry/horizontalpodautoscalers/default/x"),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, "/registry/leases/default/x"),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, "/registry/priorityclasses/x"),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, "/registry/clusterrolebindings/x"),
]


@pytest.mark.parametrize("group, version, plural, kind, namespaced, key", TABLE, ids=[row[2] for row in TABLE])
def test_lookup_by_path_and_kind_agree(group, version, plural, kind, namespaced, key):
    resource = lookup(group, version, plural)
    assert resource is not None
    assert resource.kind == kind and resource.namespaced == namespaced
    assert for_kind(resource.api_version, kind) is resource
    assert resource.storage_key("default", "x") == key


@pytest.mark.parametrize(
    "name, expected",
    [
        ("po", ["pods"]),
        ("pod", ["pods"]),
        ("deploy", ["deployments"]),
        ("deployments.apps", ["deployments"]),
        ("Deployment", ["deployments"]),
        ("svc", ["services"]),
        ("hpa", ["horizontalpodautoscalers"]),
        ("no", ["nodes"]),
        ("unknown", []),
    ],
)
def test_resolve_accepts_what_kubectl_accepts(name, expected):
    assert [r.plural for r in resolve(name)] == expected


def test_every_resource_is_unique_and_its_prefix_is_its_own():
    assert len({(r.group, r.plural) for r in RESOURCES}) == len(RESOURCES)
    prefixes = [r.storage_prefix + "/" for r in RESOURCES]
    for a in prefixes:
        for b in prefixes:
            assert a == b or not b.startswith(a), f"{b} is inside {a}: a range over one would read the other"


def test_issue_kinds_are_all_served():
    wanted = {
        "v1": ["Namespace", "Node", "Pod", "Service", "Endpoints", "ConfigMap", "Secret", "Event", "ServiceAccount",
               "ReplicationController"],
        "apps/v1": ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"],
        "batch/v1": ["Job", "CronJob"],
        "autoscaling/v2": ["HorizontalPodAutoscaler"],
        "coordination.k8s.io/v1": ["Lease"],
        "scheduling.k8s.io/v1": ["PriorityClass"],
        "rbac.authorization.k8s.io/v1": ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"],
    }
    for api_version, kinds in wanted.items():
        for kind in kinds:
            assert for_kind(api_version, kind) is not None, f"{api_version} {kind}"
    assert list(resources.groups())[:2] == ["", "apps"]
