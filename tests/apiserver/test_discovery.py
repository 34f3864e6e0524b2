"""Discovery: the legacy and aggregated documents kubectl reads before any request, and /version."""

from __future__ import annotations

import pytest

from kitlib.apiserver.discovery import (
    AGGREGATED_CONTENT_TYPE,
    aggregated_discovery,
    api_group_list,
    api_resource_list,
    api_versions,
    storage_version_hash,
    version_info,
    wants_aggregated,
)
from kitlib.apiserver.resources import RESOURCES

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def entry(document, name):
    return next(r for r in document["resources"] if r["name"] == name)


# (group, version, name, expected APIResourceList entry)
LEGACY = [
    ("", "v1", "pods", {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ALL_VERBS,
                        "shortNames": ["po"], "categories": ["all"], "storageVersionHash": "xPOwRZ+Yhw8="}),
    ("", "v1", "pods/status", {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
                               "verbs": ["get", "patch", "update"]}),
    ("", "v1", "pods/binding", {"name": "pods/binding", "singularName": "", "namespaced": True, "kind": "Binding",
                                "verbs": ["create"]}),
    ("", "v1", "pods/eviction", {"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                                 "version": "v1", "kind": "Eviction", "verbs": ["create"]}),
    ("", "v1", "pods/log", {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]}),
    ("", "v1", "nodes", {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node", "verbs": ALL_VERBS,
                         "shortNames": ["no"], "storageVersionHash": storage_version_hash("", "v1", "Node")}),
    ("", "v1", "namespaces/finalize", {"name": "namespaces/finalize", "singularName": "", "namespaced": False,
                                       "kind": "Namespace", "verbs": ["update"]}),
    ("apps", "v1", "deployments/scale", {"name": "deployments/scale", "singularName": "", "namespaced": True,
                                         "group": "autoscaling", "version": "v1", "kind": "Scale",
                                         "verbs": ["get", "patch", "update"]}),
    ("rbac.authorization.k8s.io", "v1", "clusterroles",
     {"name": "clusterroles", "singularName": "clusterrole", "namespaced": False, "kind": "ClusterRole", "verbs": ALL_VERBS,
      "storageVersionHash": storage_version_hash("rbac.authorization.k8s.io", "v1", "ClusterRole")}),
]


@pytest.mark.parametrize("group, version, name, expected", LEGACY, ids=[row[2] for row in LEGACY])
def test_api_resource_list_entries(group, version, name, expected):
    document = api_resource_list(group, version, RESOURCES)
    assert document["kind"] == "APIResourceList" and document["apiVersion"] == "v1"
    assert document["groupVersion"] == (f"{group}/{version}" if group else version)
    assert entry(document, name) == expected


def test_api_resource_list_is_sorted_and_complete():
    document = api_resource_list("", "v1", RESOURCES)
    names = [r["name"] for r in document["resources"]]
    assert names == sorted(names), "kube-apiserver lists paths alphabetically"
    core = [r for r in RESOURCES if r.group == ""]
    assert len(names) == len(core) + sum(len(r.subresources) for r in core)
    assert api_resource_list("apps", "v2", RESOURCES) is None
    assert api_resource_list("nosuch.example.com", "v1", RESOURCES) is None


def test_storage_version_hash_is_kubernetes_own():
    # Values a real cluster reports for these resources.
    assert storage_version_hash("", "v1", "Pod") == "xPOwRZ+Yhw8="
    assert storage_version_hash("apps", "v1", "Deployment") == "8aSe+NMegvE="


def test_api_versions():
    assert api_versions("10.0.0.1:6443") == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}],
    }


# (group, preferred version)
GROUPS = [("apps", "v1"), ("batch", "v1"), ("autoscaling", "v2"), ("coordination.k8s.io", "v1"),
          ("scheduling.k8s.io", "v1"), ("rbac.authorization.k8s.io", "v1")]


@pytest.mark.parametrize("group, version", GROUPS)
def test_api_group_list_preferred_version(group, version):
    document = api_group_list(RESOURCES)
    assert document["kind"] == "APIGroupList" and document["apiVersion"] == "v1"
    item = next(g for g in document["groups"] if g["name"] == group)
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    assert item == {"name": group, "versions": [gv], "preferredVersion": gv}


def test_api_group_list_omits_core_group():
    assert "" not in [g["name"] for g in api_group_list(RESOURCES)["groups"]]


def test_aggregated_core_document():
    document = aggregated_discovery(True, RESOURCES)
    assert document["kind"] == "APIGroupDiscoveryList" and document["apiVersion"] == "apidiscovery.k8s.io/v2"
    [core] = document["items"]
    assert core["metadata"] == {}, "the core group's name is empty"
    [v1] = core["versions"]
    assert v1["version"] == "v1" and v1["freshness"] == "Current"
    pods = next(r for r in v1["resources"] if r["resource"] == "pods")
    assert pods == {
        "resource": "pods",
        "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
        "scope": "Namespaced",
        "singularResource": "pod",
        "verbs": ALL_VERBS,
        "shortNames": ["po"],
        "categories": ["all"],
        "subresources": [
            {"subresource": "binding", "responseKind": {"group": "", "version": "v1", "kind": "Binding"}, "verbs": ["create"]},
            {"subresource": "eviction", "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"},
             "verbs": ["create"]},
            {"subresource": "log", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get"]},
            {"subresource": "status", "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
             "verbs": ["get", "patch", "update"]},
        ],
    }
    nodes = next(r for r in v1["resources"] if r["resource"] == "nodes")
    assert nodes["scope"] == "Cluster" and "categories" not in nodes


# (group, resource, scope, subresources)
AGGREGATED = [
    ("apps", "deployments", "Namespaced", ["scale", "status"]),
    ("autoscaling", "horizontalpodautoscalers", "Namespaced", ["status"]),
    ("coordination.k8s.io", "leases", "Namespaced", None),
    ("scheduling.k8s.io", "priorityclasses", "Cluster", None),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "Cluster", None),
]


@pytest.mark.parametrize("group, resource, scope, subresources", AGGREGATED, ids=[row[1] for row in AGGREGATED])
def test_aggregated_named_groups(group, resource, scope, subresources):
    document = aggregated_discovery(False, RESOURCES)
    assert "" not in [item["metadata"].get("name") for item in document["items"]]
    item = next(i for i in document["items"] if i["metadata"] == {"name": group})
    found = next(r for v in item["versions"] for r in v["resources"] if r["resource"] == resource)
    assert found["scope"] == scope
    assert found["responseKind"]["group"] == group
    assert [s["subresource"] for s in found.get("subresources", [])] == (subresources or [])


def test_aggregated_scale_speaks_autoscaling_v1():
    apps = next(i for i in aggregated_discovery(False, RESOURCES)["items"] if i["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments["subresources"][0] == {
        "subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
        "verbs": ["get", "patch", "update"],
    }


# (Accept header, aggregated?)
ACCEPTS = [
    ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", True),
    (AGGREGATED_CONTENT_TYPE, True),
    ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", False),
    ("application/json, */*", False),
    ("", False),
]


@pytest.mark.parametrize("accept, aggregated", ACCEPTS)
def test_wants_aggregated(accept, aggregated):
    assert wants_aggregated(accept) is aggregated


def test_version_info_fields_are_version_info():
    info = version_info()
    assert list(info) == ["major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                          "compiler", "platform"]
    assert (info["major"], info["minor"], info["gitVersion"]) == ("1", "32", "v1.32.0-kit")
    assert (info["compiler"], info["platform"], info["gitTreeState"]) == ("gc", "linux/amd64", "clean")
    assert info["goVersion"].startswith("go1.") and info["buildDate"].endswith("Z")
    assert version_info("linux/arm64")["platform"] == "linux/arm64"
