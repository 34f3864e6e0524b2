"""The request handler without HTTP: bodies, the Pod's binding and log subresources, watch bookmarks."""

from __future__ import annotations

import json
import threading

import pytest

from kitlib.apiserver.request import MAX_BODY, MAX_DEPTH, Request
from kitlib.apiserver.server import APIServer
from kitlib.store import open_store

ADMIN = {"subject": ((("organizationName", "system:masters"),), (("commonName", "kit-admin"),))}
PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture()
def api(tmp_path):
    store = open_store("memory://", lessor=False)
    server = APIServer(store, tmp_path / "pki")
    server.pki.ensure()
    server.bootstrap()
    yield server
    store.close()


def call(api, method, target, body=None, content_type="application/json", raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    response = api.handler.handle(Request(method, target, {"content-type": content_type}, data, ADMIN))
    if response.stream is not None:
        return response.code, response
    return response.code, response.json()


def pod(name, *containers, node=None):
    spec = {"containers": [{"name": c, "image": "busybox"} for c in containers or ("app",)]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def nested(depth):
    value: object = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "raw, content_type, code, message",
    [
        (b"{not json", "application/json", 400, "the body of the request was in an unknown format"),
        (b"[1, 2]", "application/json", 400, "must be a JSON object"),
        (b"a: &x [1]\nb: *x\n", "application/yaml", 400, "YAML aliases are not accepted"),
        (json.dumps({"metadata": nested(MAX_DEPTH + 1)}).encode(), "application/json", 400, "nests deeper than"),
        (b"[" * 100_000, "application/json", 400, "the body of the request"),
        (b" " * (MAX_BODY + 1), "application/json", 413, "Request entity too large"),
    ],
    ids=["broken-json", "not-an-object", "yaml-alias", "too-deep", "recursion-bomb", "too-large"],
)
def test_bad_bodies_are_4xx_statuses(api, raw, content_type, code, message):
    status, body = call(api, "POST", PODS, raw=raw, content_type=content_type)
    assert status == code
    assert body["kind"] == "Status" and body["code"] == code and message in body["message"]


def test_yaml_bodies_are_accepted(api):
    manifest = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n"
    status, body = call(api, "POST", "/api/v1/namespaces/default/configmaps", raw=manifest,
                        content_type="application/yaml")
    assert (status, body["data"]) == (201, {"k": "v"})


# -- binding -------------------------------------------------------------------------------


def binding(name, node, kind="Node", **annotations):
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "annotations": annotations},
            "target": {"kind": kind, "name": node}}


def test_binding_assigns_the_node_once(api):
    assert call(api, "POST", PODS, pod("web"))[0] == 201
    status, body = call(api, "POST", f"{PODS}/web/binding", binding("web", "node-1", why="test"))
    assert (status, body["status"], body["code"]) == (201, "Success", 201)
    bound = call(api, "GET", f"{PODS}/web")[1]
    assert bound["spec"]["nodeName"] == "node-1"
    assert bound["metadata"]["annotations"] == {"why": "test"}
    assert [c["type"] for c in bound["status"]["conditions"]] == ["PodScheduled"]
    status, body = call(api, "POST", f"{PODS}/web/binding", binding("web", "node-2"))
    assert status == 409
    assert body["message"] == 'Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node "node-1"'


@pytest.mark.parametrize(
    "body, code, message",
    [
        (binding("web", ""), 422, "target.name: Required value"),
        (binding("web", "n", kind="Pod"), 422, 'target.kind: Unsupported value: "Pod": supported values: "Node"'),
        ([], 400, "must be a JSON object"),
    ],
    ids=["no-node", "wrong-kind", "not-an-object"],
)
def test_bad_bindings(api, body, code, message):
    call(api, "POST", PODS, pod("web"))
    status, answer = call(api, "POST", f"{PODS}/web/binding", body)
    assert status == code and message in answer["message"]


def test_binding_a_missing_pod_is_404(api):
    status, body = call(api, "POST", f"{PODS}/ghost/binding", binding("ghost", "node-1"))
    assert (status, body["message"]) == (404, 'pods "ghost" not found')


# -- log -----------------------------------------------------------------------------------


class FakeKubelet:
    def logs(self, namespace, pod, container, *, follow=False, tail_lines=None, timestamps=False, previous=False):
        lines = [f"{namespace}/{pod}/{container} line {i}\n".encode() for i in range(3)]
        return iter(lines[-tail_lines:] if tail_lines else lines)


@pytest.mark.parametrize(
    "pod_obj, query, code, message",
    [
        (pod("a"), "", 400, "pod a does not have a host assigned"),
        (pod("b", "x", "y", node="n1"), "", 400, "a container name must be specified for pod b, choose one of: [x y]"),
        (pod("c", node="n1"), "?container=nope", 400, "container nope is not valid for pod c"),
        (pod("d", node="n1"), "", 400, 'container "app" in pod "d" is waiting to start: ContainerCreating'),
        (pod("e", node="n1"), "?tailLines=-1", 422, "tailLines: Invalid value: -1"),
    ],
    ids=["unscheduled", "which-container", "unknown-container", "not-started", "negative-tail"],
)
def test_logs_that_cannot_be_read_yet(api, pod_obj, query, code, message):
    call(api, "POST", PODS, pod_obj)
    name = pod_obj["metadata"]["name"]
    status, body = call(api, "GET", f"{PODS}/{name}/log{query}")
    assert status == code and message in body["message"]


def test_logs_come_from_the_nodes_kubelet(api):
    call(api, "POST", PODS, pod("web", node="n1"))
    api.handler.node_logs.register("n1", FakeKubelet())
    status, response = call(api, "GET", f"{PODS}/web/log?tailLines=2")
    assert status == 200 and response.content_type == "text/plain"
    assert b"".join(response.stream) == b"default/web/app line 1\ndefault/web/app line 2\n"


# -- watch bookmarks -----------------------------------------------------------------------


def test_watch_sends_bookmarks_that_move_the_resource_version(api):
    api.handler.bookmark_interval = 0.05
    rv = call(api, "GET", PODS)[1]["metadata"]["resourceVersion"]
    status, response = call(api, "GET", f"{PODS}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true")
    assert status == 200
    # A change elsewhere in the cluster (a ConfigMap) is not an event of this watch ...
    created = call(api, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "elsewhere"}})[1]
    call(api, "POST", PODS, pod("web"))
    events = []
    for line in filter(None, response.stream):  # empty chunks are idle ticks, not events
        events.append(json.loads(line))
        if events[-1]["type"] == "BOOKMARK" and any(e["type"] == "ADDED" for e in events):
            break
    response.stream.close()
    added = next(e for e in events if e["type"] == "ADDED")
    bookmark = events[-1]["object"]
    assert (bookmark["kind"], bookmark["apiVersion"]) == ("Pod", "v1")
    # ... and a bookmark never claims more than the watch has seen.
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(added["object"]["metadata"]["resourceVersion"])
    assert int(created["metadata"]["resourceVersion"]) < int(added["object"]["metadata"]["resourceVersion"])


def test_watch_without_bookmarks_sends_none(api):
    api.handler.bookmark_interval = 0.01
    status, response = call(api, "GET", f"{PODS}?watch=1&timeoutSeconds=1")
    threading.Timer(0.1, lambda: call(api, "POST", PODS, pod("late"))).start()
    types = [json.loads(line)["type"] for line in response.stream if line]
    assert types == ["ADDED"]


@pytest.mark.parametrize(
    "method, target, body, content_type",
    [
        ("PUT", "/api/v1/namespaces/default/configmaps/same", None, "application/json"),
        ("PATCH", "/api/v1/namespaces/default/configmaps/same", {"data": {"k": "v"}}, "application/merge-patch+json"),
        ("PATCH", "/api/v1/namespaces/default/configmaps/same?fieldManager=me",
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "same"}, "data": {"k": "v"}},
         "application/apply-patch+yaml"),
    ],
    ids=["update", "merge-patch", "apply"],
)
def test_a_write_that_changes_nothing_keeps_the_resource_version(api, method, target, body, content_type):
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "same"}, "data": {"k": "v"}}
    call(api, "PATCH", "/api/v1/namespaces/default/configmaps/same?fieldManager=me", applied,
         content_type="application/apply-patch+yaml")
    before = call(api, "GET", "/api/v1/namespaces/default/configmaps/same")[1]
    status, after = call(api, method, target, body if body is not None else before, content_type=content_type)
    assert status == 200
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_dry_run_is_refused_where_it_is_not_honoured(api, method):
    call(api, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "dry"}})
    before = call(api, "GET", "/api/v1/namespaces/default/configmaps/dry")[1]
    status, body = call(api, method, "/api/v1/namespaces/default/configmaps/dry?dryRun=All",
                        {**before, "data": {"k": "v"}}, content_type="application/merge-patch+json"
                        if method == "PATCH" else "application/json")
    assert status == 400 and "dryRun is supported on create only" in body["message"]
    assert call(api, "GET", "/api/v1/namespaces/default/configmaps/dry")[1] == before


def test_dry_run_create_writes_nothing(api):
    status, body = call(api, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All", {"metadata": {"name": "ghost"}})
    assert status == 201 and body["metadata"]["name"] == "ghost"
    assert call(api, "GET", "/api/v1/namespaces/default/configmaps/ghost")[0] == 404


@pytest.mark.parametrize(
    "resources, qos",
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),  # requests default to the limits
    ],
    ids=["best-effort", "burstable", "guaranteed"],
)
def test_a_new_pod_is_pending_with_its_qos_class(api, resources, qos):
    body = pod("q")
    body["spec"]["containers"][0]["resources"] = resources
    body["status"] = {"phase": "Running"}  # a client cannot create a Pod in another state
    status, created = call(api, "POST", PODS, body)
    assert status == 201 and created["status"] == {"phase": "Pending", "qosClass": qos}
    # Its status can be rewritten without repeating the class, which never changes.
    created["status"] = {"phase": "Running"}
    status, updated = call(api, "PUT", f"{PODS}/q/status", created)
    assert status == 200 and updated["status"]["qosClass"] == qos


def test_a_uid_in_a_patch_is_a_precondition(api):
    call(api, "POST", PODS, pod("u"))
    status, body = call(api, "PATCH", f"{PODS}/u", {"metadata": {"uid": "not-this-one", "labels": {"a": "b"}}},
                        content_type="application/merge-patch+json")
    assert status == 409 and "Precondition failed: UID in precondition: not-this-one" in body["message"]
