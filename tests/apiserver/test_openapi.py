"""OpenAPI v3: the index and documents kubectl reads to validate, patch and explain."""

from __future__ import annotations

import hashlib
import json

import pytest

from kitlib.apiserver import openapi
from kitlib.apiserver.openapi import document_bytes, group_version_document, index, schema_names
from kitlib.apiserver.patch import STRATEGIC_MERGE_PATCH
from kitlib.apiserver.resources import RESOURCES



def gv_of(group: str, version: str) -> str:
    """The index's key of a group version: ``api/v1``, ``apis/apps/v1``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


GROUP_VERSIONS = list(dict.fromkeys(gv_of(r.group, r.version) for r in RESOURCES))
ACTIONS = {"get", "list", "post", "put", "patch", "delete", "deletecollection", "watch", "watchlist"}


@pytest.fixture(scope="module")
def documents():
    return {gv: group_version_document(gv) for gv in GROUP_VERSIONS}


def operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def resolve(document, node):
    """A schema with ``allOf: [{$ref}]`` or ``$ref`` followed, as strategicpatch's PatchMetaFromOpenAPIV3 does."""
    if node.get("allOf"):
        node = node["allOf"][0]
    if "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].removeprefix("#/components/schemas/")]
    return node


def kind_schema(document, group, version, kind):
    """The one schema whose x-kubernetes-group-version-kind names the kind (kubectl's gvkMatchesArray)."""
    found = [s for s in document["components"]["schemas"].values()
             if {"group": group, "version": version, "kind": kind} in s.get("x-kubernetes-group-version-kind", [])]
    assert len(found) == 1, kind
    return found[0]


def field(document, schema, path):
    """The property schema at a dotted path; ``[]`` steps into a list's items."""
    prop = None
    for step in path.split("."):
        if step == "[]":
            schema = resolve(document, prop["items"])
            continue
        prop = schema["properties"][step]
        schema = resolve(document, prop)
    return prop


def test_index_lists_every_served_group_version_with_the_hash_of_its_bytes():
    paths = index()["paths"]
    assert list(paths) == GROUP_VERSIONS
    for gv, entry in paths.items():
        body, digest = document_bytes(gv)
        assert entry == {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
        assert digest == hashlib.sha512(body).hexdigest().upper()
        assert json.loads(body) == group_version_document(gv)


@pytest.mark.parametrize("path, found", [
    ("apis/apps/v1", True), ("/openapi/v3/apis/apps/v1?hash=ABC", True), ("/openapi/v3/api/v1", True),
    ("api/v1/", True), ("apis/apps/v2", False), ("apis/example.com/v1", False), ("", False), ("api", False)])
def test_group_version_document_paths(path, found):
    assert (group_version_document(path) is not None) == found


def test_documents_are_built_once_and_stay_the_same():
    assert document_bytes("apis/apps/v1") is document_bytes("/openapi/v3/apis/apps/v1")
    copy = group_version_document("apis/apps/v1")
    copy["paths"].clear()
    assert group_version_document("apis/apps/v1")["paths"]


@pytest.mark.parametrize("gv", GROUP_VERSIONS)
def test_every_patch_operation_has_the_gvk_and_the_parameters_kubectl_checks(documents, gv):
    patches = [(path, op) for path, method, op in operations(documents[gv]) if method == "patch"]
    assert patches
    for path, op in patches:
        gvk = op["x-kubernetes-group-version-kind"]
        assert set(gvk) == {"group", "version", "kind"}, path
        names = [p["name"] for p in op["parameters"]]
        assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= set(names), path
        assert STRATEGIC_MERGE_PATCH in op["requestBody"]["content"], path


@pytest.mark.parametrize("resource", RESOURCES, ids=[r.group_resource for r in RESOURCES])
def test_every_resource_has_its_paths_and_a_kind_schema(documents, resource):
    document = documents[gv_of(resource.group, resource.version)]
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    scope = f"{prefix}/namespaces/{{namespace}}/{resource.plural}" if resource.namespaced else \
        f"{prefix}/{resource.plural}"
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    item = document["paths"][f"{scope}/{{name}}"]
    assert item["get"]["x-kubernetes-group-version-kind"] == gvk
    assert item["patch"]["x-kubernetes-action"] == "patch"
    assert document["paths"][scope]["get"]["x-kubernetes-action"] == "list"
    for sub in resource.subresources:
        assert f"{scope}/{{name}}/{sub}" in document["paths"]
    schema = kind_schema(document, resource.group, resource.version, resource.kind)
    assert {"apiVersion", "kind", "metadata"} <= set(schema["properties"])
    kind_schema(document, resource.group, resource.version, resource.list_kind)


@pytest.mark.parametrize("gv", GROUP_VERSIONS)
def test_operations_are_well_formed(documents, gv):
    ids = []
    for path, method, op in operations(documents[gv]):
        assert op["x-kubernetes-action"] in ACTIONS
        assert "x-kubernetes-group-version-kind" in op
        ids.append(op["operationId"])
        declared = {p["name"] for p in documents[gv]["paths"][path]["parameters"] if p["in"] == "path"}
        assert declared == {name for name in ("name", "namespace") if f"{{{name}}}" in path}, path
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("gv", GROUP_VERSIONS)
def test_every_ref_resolves_inside_the_document(documents, gv):
    document, refs = documents[gv], []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"], ref


# (operationId, path, method, x-kubernetes-action, gvk): kube's names for kube's operations
OPERATIONS = [
    ("patchAppsV1NamespacedDeployment", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "patch",
     ("apps", "v1", "Deployment")),
    ("listAppsV1DeploymentForAllNamespaces", "/apis/apps/v1/deployments", "get", "list", ("apps", "v1", "Deployment")),
    ("patchAppsV1NamespacedDeploymentScale", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "patch",
     "patch", ("autoscaling", "v1", "Scale")),
    ("replaceAppsV1NamespacedDeploymentStatus", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
     "put", "put", ("apps", "v1", "Deployment")),
    ("deleteAppsV1CollectionNamespacedDeployment", "/apis/apps/v1/namespaces/{namespace}/deployments", "delete",
     "deletecollection", ("apps", "v1", "Deployment")),
    ("watchAppsV1NamespacedDeploymentList", "/apis/apps/v1/watch/namespaces/{namespace}/deployments", "get",
     "watchlist", ("apps", "v1", "Deployment")),
    ("createCoreV1NamespacedPodBinding", "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post", "post",
     ("", "v1", "Binding")),
    ("createCoreV1NamespacedPodEviction", "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post", "post",
     ("policy", "v1", "Eviction")),
    ("readCoreV1NamespacedPodLog", "/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "get", ("", "v1", "Pod")),
    ("replaceCoreV1NamespaceFinalize", "/api/v1/namespaces/{name}/finalize", "put", "put", ("", "v1", "Namespace")),
    ("readCoreV1Node", "/api/v1/nodes/{name}", "get", "get", ("", "v1", "Node")),
    ("createRbacAuthorizationV1ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "post", "post",
     ("rbac.authorization.k8s.io", "v1", "ClusterRole")),
    ("watchCoordinationV1NamespacedLease", "/apis/coordination.k8s.io/v1/watch/namespaces/{namespace}/leases/{name}",
     "get", "watch", ("coordination.k8s.io", "v1", "Lease")),
]


@pytest.mark.parametrize("op_id, path, method, action, gvk", OPERATIONS, ids=[row[0] for row in OPERATIONS])
def test_operations_are_named_and_tagged_as_kube_does(documents, op_id, path, method, action, gvk):
    document = next(d for gv, d in documents.items() if path.startswith(f"/{gv}/"))
    op = document["paths"][path][method]
    assert op["operationId"] == op_id
    assert op["x-kubernetes-action"] == action
    assert op["x-kubernetes-group-version-kind"] == dict(zip(("group", "version", "kind"), gvk))


# (kind, field path, merge key, strategy): the tags kubectl's client-side apply reads
PATCH_TAGS = [
    (("apps", "v1", "Deployment"), "spec.template.spec.containers", "name", "merge"),
    (("apps", "v1", "Deployment"), "spec.template.spec.containers.[].ports", "containerPort", "merge"),
    (("apps", "v1", "Deployment"), "spec.template.spec.containers.[].env", "name", "merge"),
    (("apps", "v1", "Deployment"), "spec.template.spec.volumes", "name", "merge,retainKeys"),
    (("apps", "v1", "Deployment"), "spec.strategy", None, "retainKeys"),
    (("apps", "v1", "Deployment"), "metadata.finalizers", None, "merge"),
    (("apps", "v1", "Deployment"), "metadata.ownerReferences", "uid", "merge"),
    (("apps", "v1", "Deployment"), "status.conditions", "type", "merge"),
    (("apps", "v1", "Deployment"), "spec.template.spec.tolerations", None, None),
    (("", "v1", "Pod"), "spec.initContainers.[].volumeMounts", "mountPath", "merge"),
    (("", "v1", "Service"), "spec.ports", "port", "merge"),
    (("batch", "v1", "CronJob"), "spec.jobTemplate.spec.template.spec.containers", "name", "merge"),
    (("", "v1", "Node"), "status.addresses", "type", "merge"),
    (("", "v1", "ServiceAccount"), "secrets", "name", "merge"),
    (("rbac.authorization.k8s.io", "v1", "Role"), "rules", None, None),
]


@pytest.mark.parametrize("gvk, path, key, strategy", PATCH_TAGS, ids=[f"{r[0][2]} {r[1]}" for r in PATCH_TAGS])
def test_patch_tags_follow_strategic_tables(documents, gvk, path, key, strategy):
    group, version, kind = gvk
    document = documents[gv_of(group, version)]
    prop = field(document, kind_schema(document, group, version, kind), path)
    assert prop.get("x-kubernetes-patch-merge-key") == key
    assert prop.get("x-kubernetes-patch-strategy") == strategy


# (model, kube's schema name): the package rule of the module docstring
NAMES = [("V1Deployment", "io.k8s.api.apps.v1.Deployment"), ("V1Container", "io.k8s.api.core.v1.Container"),
         ("V1PodTemplateSpec", "io.k8s.api.core.v1.PodTemplateSpec"),
         ("V1ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
         ("V1LabelSelector", "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
         ("V1Condition", "io.k8s.apimachinery.pkg.apis.meta.v1.Condition"),
         ("V1DeploymentStrategy", "io.k8s.api.apps.v1.DeploymentStrategy"),
         ("V1PersistentVolumeClaim", "io.k8s.api.core.v1.PersistentVolumeClaim"),
         ("V1JobTemplateSpec", "io.k8s.api.batch.v1.JobTemplateSpec"),
         ("V1Scale", "io.k8s.api.autoscaling.v1.Scale"), ("V1Eviction", "io.k8s.api.policy.v1.Eviction"),
         ("V2MetricSpec", "io.k8s.api.autoscaling.v2.MetricSpec"),
         ("V1LeaseSpec", "io.k8s.api.coordination.v1.LeaseSpec"),
         ("RbacV1Subject", "io.k8s.api.rbac.v1.Subject"), ("CoreV1Event", "io.k8s.api.core.v1.Event"),
         ("V1PriorityClass", "io.k8s.api.scheduling.v1.PriorityClass")]


@pytest.mark.parametrize("model, name", NAMES, ids=[row[0] for row in NAMES])
def test_schema_names(model, name):
    assert schema_names()[model] == name


def test_schema_names_are_unique():
    names = list(schema_names().values())
    assert len(names) == len(set(names))


# (kind, field path, the property's schema without its description)
TYPES = [
    (("apps", "v1", "Deployment"), "spec.replicas", {"type": "integer", "format": "int32"}),
    (("apps", "v1", "Deployment"), "metadata.generation", {"type": "integer", "format": "int64"}),
    (("apps", "v1", "Deployment"), "metadata.labels", {"type": "object", "additionalProperties": {"type": "string"}}),
    (("apps", "v1", "Deployment"), "spec.selector",
     {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"}]}),
    (("apps", "v1", "Deployment"), "metadata.creationTimestamp",
     {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}]}),
    (("", "v1", "Service"), "spec.ports.[].targetPort",
     {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]}),
    (("", "v1", "Pod"), "spec.containers.[].resources.limits",
     {"type": "object", "additionalProperties": {
         "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}]}}),
    (("", "v1", "Pod"), "spec.containers.[].args", {"type": "array", "items": {"type": "string"}}),
    (("coordination.k8s.io", "v1", "Lease"), "spec.renewTime",
     {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"}]}),
]


@pytest.mark.parametrize("gvk, path, expected", TYPES, ids=[f"{r[0][2]} {r[1]}" for r in TYPES])
def test_property_schemas_are_shaped_as_kube_shapes_them(documents, gvk, path, expected):
    group, version, kind = gvk
    document = documents[gv_of(group, version)]
    prop = field(document, kind_schema(document, group, version, kind), path)
    assert {k: v for k, v in prop.items() if k != "description"} == expected


def test_descriptions_come_from_the_client(documents):
    document = documents["apis/apps/v1"]
    spec = resolve(document, kind_schema(document, "apps", "v1", "Deployment")["properties"]["spec"])
    assert spec["properties"]["replicas"]["description"].startswith("Number of desired pods.")
    int_or_string = document["components"]["schemas"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert int_or_string["oneOf"] == [{"type": "integer"}, {"type": "string"}]


def test_documents_are_openapi_3(documents):
    for document in documents.values():
        assert document["openapi"] == "3.0.0"
        assert document["paths"] and document["components"]["schemas"]
        assert openapi.PATCH_SCHEMA in document["components"]["schemas"]
