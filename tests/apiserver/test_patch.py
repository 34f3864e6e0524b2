"""PATCH: JSON Patch, JSON Merge Patch and strategic merge patch give what kube-apiserver gives, and fail as it does."""

from __future__ import annotations

import copy
import doctest
import importlib
import json

import pytest

from kitlib.api.errors import APIError, BadRequest, InternalError, Invalid
from kitlib.apiserver import strategic
from kitlib.apiserver.strategic import MergeList, schema_for
from kitlib.apiserver.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)

# What kube answers when a JSON Patch operation fails (NewGenericServerResponse with code 422).
REJECTED = "the server rejected our request due to an error in our request"


def names(table: list, column: int = 0) -> list[str]:
    """Test ids: one column of a table, cut short."""
    return [str(row[column])[:60] for row in table]


def raised(call, *args, **kwargs) -> APIError:
    with pytest.raises(APIError) as info:
        call(*args, **kwargs)
    return info.value


# --- JSON Patch ----------------------------------------------------------------------------------------------

# RFC 6902 appendix A: (section, document, patch, result, or the library's error for a failure)
RFC6902_APPENDIX_A = [
    ("A.1 add an object member", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
     {"baz": "qux", "foo": "bar"}, None),
    ("A.2 add an array element", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}, None),
    ("A.3 remove an object member", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}],
     {"foo": "bar"}, None),
    ("A.4 remove an array element", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
     {"foo": ["bar", "baz"]}, None),
    ("A.5 replace a value", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}, None),
    ("A.6 move a value", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}, None),
    ("A.7 move an array element", {"foo": ["all", "grass", "cows", "eat"]},
     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}], {"foo": ["all", "cows", "eat", "grass"]}, None),
    ("A.8 test a value: success", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}, None),
    ("A.9 test a value: error", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}],
     None, "testing value /baz failed: test failed"),
    ("A.10 add a nested member object", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}, None),
    ("A.11 ignore unrecognized elements", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
     {"foo": "bar", "baz": "qux"}, None),
    ("A.12 add to a nonexistent target", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}],
     None, 'add operation does not apply: doc is missing path: "/baz/bat": missing value'),
    # Go's decoder, like Python's, keeps the last duplicate member: this is a remove of a missing /baz.
    ("A.13 invalid JSON Patch document", {"foo": "bar"},
     '[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]',
     None, "error in remove for path: '/baz': Unable to remove nonexistent key: baz: missing value"),
    ("A.14 ~ escape ordering", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}],
     {"/": 9, "~1": 10}, None),
    ("A.15 compare strings and numbers", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}],
     None, "testing value /~01 failed: test failed"),
    ("A.16 add an array value", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}, None),
]


@pytest.mark.parametrize("name, doc, patch, result, error", RFC6902_APPENDIX_A, ids=names(RFC6902_APPENDIX_A))
def test_rfc6902_appendix_a(name, doc, patch, result, error):
    if error is None:
        assert json_patch(doc, patch) == result
    else:
        err = raised(json_patch, doc, patch)
        assert (err.code, err.reason, err.message) == (422, "Invalid", REJECTED)
        assert err.causes == [{"reason": "UnexpectedServerResponse", "message": error}]


def deploy(replicas=2, labels=None, annotations=None, containers=None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels or {"app.kubernetes.io/name": "web"},
                         "annotations": {"a~b": "1"} if annotations is None else annotations},
            "spec": {"replicas": replicas,
                     "template": {"spec": {"containers": containers or [{"name": "web", "image": "nginx"}]}}}}


DEPLOY = deploy()


# What kubectl users do with --type=json, and the json-patch v4 behaviours they meet.
JSON_PATCH_CASES = [
    ("scale after a test", DEPLOY,
     [{"op": "test", "path": "/spec/replicas", "value": 2}, {"op": "replace", "path": "/spec/replicas", "value": 5}],
     deploy(replicas=5)),
    ("~1 escapes a slash in a label key", DEPLOY,
     [{"op": "replace", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "api"}],
     deploy(labels={"app.kubernetes.io/name": "api"})),
    ("~0 escapes a tilde", DEPLOY, [{"op": "remove", "path": "/metadata/annotations/a~0b"}], deploy(annotations={})),
    ("- appends to a list", DEPLOY,
     [{"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "log", "image": "busybox"}}],
     deploy(containers=[{"name": "web", "image": "nginx"}, {"name": "log", "image": "busybox"}])),
    ("an index one past the end appends", {"a": [1]}, [{"op": "add", "path": "/a/1", "value": 2}], {"a": [1, 2]}),
    ("add replaces an existing member", {"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}),
    ("copy a list element", {"a": [{"x": 1}], "b": []}, [{"op": "copy", "from": "/a/0", "path": "/b/0"}],
     {"a": [{"x": 1}], "b": [{"x": 1}]}),
    ("move a member to the root", {"a": {"b": 1}}, [{"op": "move", "from": "/a/b", "path": "/c"}], {"a": {}, "c": 1}),
    ("replace the whole document", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("test the whole document", {"a": 1}, [{"op": "test", "path": "", "value": {"a": 1}}], {"a": 1}),
    ("an absent value adds null", {}, [{"op": "add", "path": "/a"}], {"a": None}),
    ("a null body is an empty patch", {"a": 1}, "null", {"a": 1}),
    ("an empty patch changes nothing", {"a": 1}, [], {"a": 1}),
    # json-patch v4 quirks, kept because kube-apiserver has them.
    ("replace of a missing member adds it", {}, [{"op": "replace", "path": "/a", "value": 1}], {"a": 1}),
    ("copy from a missing member copies null", {}, [{"op": "copy", "from": "/a", "path": "/b"}], {"b": None}),
    ("test for null passes on a missing member", {}, [{"op": "test", "path": "/a", "value": None}], {}),
    ("a negative index counts from the end", {"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}], {"a": [1, 2]}),
    ("an index may have leading zeros", {"a": [1, 2]}, [{"op": "replace", "path": "/a/01", "value": 9}], {"a": [1, 9]}),
    ("text before the first slash is ignored", {"b": 1}, [{"op": "replace", "path": "x/b", "value": 2}], {"b": 2}),
]


@pytest.mark.parametrize("name, doc, patch, result", JSON_PATCH_CASES, ids=names(JSON_PATCH_CASES))
def test_json_patch(name, doc, patch, result):
    assert apply_patch(doc, patch, JSON_PATCH, kind="Deployment", api_version="apps/v1") == result


# (document, patch, the library's message in the 422's cause)
JSON_PATCH_FAILURES = [
    ({"metadata": {"labels": {}}}, [{"op": "remove", "path": "/metadata/labels/app"}],
     "error in remove for path: '/metadata/labels/app': Unable to remove nonexistent key: app: missing value"),
    ({"spec": {"replicas": 2}}, [{"op": "test", "path": "/spec/replicas", "value": 3}],
     "testing value /spec/replicas failed: test failed"),
    ({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], "testing value /a failed: test failed"),
    ({"a": 1}, [{"op": "test", "path": "/a", "value": True}], "testing value /a failed: test failed"),
    ({"a": 1}, [{"op": "test", "path": "/a"}], "testing value /a failed: test failed"),
    ({}, [{"op": "test", "path": "/spec/nope/x", "value": 1}],
     "test operation does not apply: is missing path: /spec/nope/x: missing value"),
    ({}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
    ({}, [{"path": "/a", "value": 1}], "Unexpected kind: unknown"),
    ({}, [None], "Unexpected kind: unknown"),
    ({}, [{"op": "add", "value": 1}], "add operation failed to decode path: missing value"),
    ({}, [{"op": "remove", "path": 7}], "remove operation failed to decode path: missing value"),
    ({}, [{"op": "replace", "value": 1}],
     "replace operation failed to decode path: operation missing path field: missing value"),
    ({}, [{"op": "test", "path": 7, "value": 1}],
     "test operation failed to decode path: json: cannot unmarshal number into Go value of type string"),
    ({}, [{"op": "move", "path": "/a"}],
     "move operation failed to decode from: operation, missing from field: missing value"),
    ({"a": 1}, [{"op": "move", "from": "/a"}],
     "move operation failed to decode path: operation missing path field: missing value"),
    ({"a": 1}, [{"op": "copy", "from": "/a"}], "copy operation failed to decode path: missing value"),
    ({"a": {}}, [{"op": "move", "from": "/a/nope", "path": "/b"}],
     "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/c"}],
     "move operation does not apply: doc is missing destination path: /a/c: missing value"),
    ({}, [{"op": "move", "from": "/x/y", "path": "/a"}],
     "move operation does not apply: doc is missing from path: /x/y: missing value"),
    ({"a": 1}, [{"op": "copy", "from": "/a", "path": "/x/y"}],
     "copy operation does not apply: doc is missing destination path: /x/y: missing value"),
    ({"a": [1]}, [{"op": "copy", "from": "/a/3", "path": "/b"}],
     "error in copy for from: '/a/3': Unable to access invalid index: 3: invalid index referenced"),
    ({"a": [1]}, [{"op": "copy", "from": "/a/0", "path": "/a/5"}],
     "error while adding value during copy: Unable to access invalid index: 5: invalid index referenced"),
    ({"a": [1]}, [{"op": "add", "path": "/a/2", "value": 2}],
     "error in add for path: '/a/2': Unable to access invalid index: 2: invalid index referenced"),
    ({"a": [1]}, [{"op": "add", "path": "/a/x", "value": 2}],
     "error in add for path: '/a/x': value was not a proper array index: 'x': "
     'strconv.Atoi: parsing "x": invalid syntax'),
    ({"a": [1]}, [{"op": "remove", "path": "/a/-"}],
     "error in remove for path: '/a/-': strconv.Atoi: parsing \"-\": invalid syntax"),
    ({"a": [1]}, [{"op": "remove", "path": "/a/5"}],
     "error in remove for path: '/a/5': Unable to access invalid index: 5: invalid index referenced"),
    ({"a": [1]}, [{"op": "remove", "path": "/a/-2"}],
     "error in remove for path: '/a/-2': Unable to access invalid index: -2: invalid index referenced"),
    ({"a": [1]}, [{"op": "replace", "path": "/a/1", "value": 2}],
     "replace operation does not apply: doc is missing key: /a/1: missing value"),
    ({"a": 1}, [{"op": "replace", "path": "", "value": 2}],
     "replace operation value must be object or array: %!w(<nil>)"),
    ({"a": "x"}, [{"op": "add", "path": "/a/b", "value": 1}],
     'add operation does not apply: doc is missing path: "/a/b": missing value'),
    ({"a": None}, [{"op": "add", "path": "/a/b", "value": 1}],
     'add operation does not apply: doc is missing path: "/a/b": missing value'),
    ({"a": [1]}, [{"op": "add", "path": "/a/-/b", "value": 1}],
     'add operation does not apply: doc is missing path: "/a/-/b": missing value'),
    ({}, [{"op": "add", "path": "baz", "value": 1}],
     'add operation does not apply: doc is missing path: "baz": missing value'),
    ({}, [{"op": "add", "path": "", "value": 1}],
     'add operation does not apply: doc is missing path: "": missing value'),
    ({}, [{"op": "remove", "path": ""}],
     'remove operation does not apply: doc is missing path: "": missing value'),
]


@pytest.mark.parametrize("doc, patch, cause", JSON_PATCH_FAILURES, ids=names(JSON_PATCH_FAILURES, 2))
def test_json_patch_failures_are_422_with_the_library_message_as_cause(doc, patch, cause):
    err = raised(apply_patch, doc, patch, JSON_PATCH, kind="Pod", api_version="v1")
    assert isinstance(err, Invalid)
    assert (err.code, err.reason, err.message) == (422, "Invalid", REJECTED)
    assert err.causes == [{"reason": "UnexpectedServerResponse", "message": cause}]


def test_a_failed_test_renders_the_status_kube_apiserver_sends():
    err = raised(json_patch, {"spec": {"replicas": 2}}, b'[{"op":"test","path":"/spec/replicas","value":3}]')
    assert err.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": REJECTED,
        "reason": "Invalid",
        "details": {"causes": [{"reason": "UnexpectedServerResponse",
                                "message": "testing value /spec/replicas failed: test failed"}]},
        "code": 422}


# (body, code, reason, message or None when Python's json words it)
JSON_PATCH_BAD_BODIES = [
    ('{"op": "add", "path": "/a", "value": 1}', 400, "BadRequest",
     "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    ('["add"]', 400, "BadRequest", "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
    ("[[]]", 400, "BadRequest", "json: cannot unmarshal array into Go value of type jsonpatch.Operation"),
    ('"add"', 400, "BadRequest", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
    ("[{]", 400, "BadRequest", None),
    (b"\xff[]", 400, "BadRequest", None),
    ('[{"op": "add", "path": "/a", "value": NaN}]', 400, "BadRequest", None),
    (json.dumps([{"op": "test", "path": "/a", "value": 1}] * 10001), 413, "RequestEntityTooLarge",
     "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"),
]


@pytest.mark.parametrize("body, code, reason, message", JSON_PATCH_BAD_BODIES, ids=names(JSON_PATCH_BAD_BODIES, 3))
def test_json_patch_bodies_that_do_not_decode(body, code, reason, message):
    err = raised(json_patch, {"a": 1}, body)
    assert (err.code, err.reason) == (code, reason)
    if message is not None:
        assert err.message == message


def test_ten_thousand_operations_are_allowed():
    assert json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 1}] * 10000) == {"a": 1}


# --- JSON Merge Patch ----------------------------------------------------------------------------------------

# RFC 7386 appendix A: (original, patch, result)
RFC7386_APPENDIX_A = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("original, patch, result", RFC7386_APPENDIX_A)
def test_rfc7386_appendix_a(original, patch, result):
    assert merge_patch(original, json.dumps(patch)) == result  # the patch as the JSON text a request carries


def test_merge_patch_decodes_a_json_body():
    assert merge_patch({"a": "b"}, '"bar"') == "bar"
    assert merge_patch({"a": "b"}, b'{"a": null}') == {}


# The task page's JSON merge patch: the containers list is replaced, not merged.
DOCS_DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "patch-demo"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "nginx"}},
             "template": {"metadata": {"labels": {"app": "nginx"}},
                          "spec": {"containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
                                   "tolerations": [{"effect": "NoSchedule", "key": "dedicated",
                                                    "value": "test-team"}]}}}}


def docs_deployment(containers=None, tolerations=None, **spec) -> dict:
    obj = copy.deepcopy(DOCS_DEPLOYMENT)
    pod = obj["spec"]["template"]["spec"]
    if containers is not None:
        pod["containers"] = containers
    if tolerations is not None:
        pod["tolerations"] = tolerations
    obj["spec"].update(spec)
    return obj


NGINX = {"name": "patch-demo-ctr", "image": "nginx"}
REDIS = {"name": "patch-demo-ctr-2", "image": "redis"}
HELLO = {"name": "patch-demo-ctr-3", "image": "gcr.io/google-samples/hello-app:2.0"}

MERGE_PATCH_CASES = [
    ("docs: a merge patch replaces the containers list", DOCS_DEPLOYMENT,
     {"spec": {"template": {"spec": {"containers": [HELLO]}}}}, docs_deployment(containers=[HELLO])),
    ("null deletes a label, a new one is added", {"metadata": {"labels": {"a": "1", "b": "2"}}},
     {"metadata": {"labels": {"a": None, "c": "3"}}}, {"metadata": {"labels": {"b": "2", "c": "3"}}}),
    ("nulls inside a new object are dropped", {}, {"spec": {"a": {"b": None, "c": 1}}}, {"spec": {"a": {"c": 1}}}),
    ("null elements of a replacing list are dropped (json-patch v4)", {"a": [0]}, {"a": [1, None, {"b": None}]},
     {"a": [1, {}]}),
    ("a list may replace an object, unpruned", {"a": {"b": 1}}, {"a": [None]}, {"a": [None]}),
    ("deleting a missing key is a no-op", {"a": 1}, {"b": None}, {"a": 1}),
    ("an empty patch changes nothing", {"a": 1}, b"{}", {"a": 1}),
]


@pytest.mark.parametrize("name, obj, patch, result", MERGE_PATCH_CASES, ids=names(MERGE_PATCH_CASES))
def test_merge_patch(name, obj, patch, result):
    assert apply_patch(obj, patch, MERGE_PATCH, kind="Deployment", api_version="apps/v1") == result


# (body, code, message)
MERGE_PATCH_FAILURES = [
    ("null", 400, "Invalid JSON Patch"),
    ('"bar"', 400, "Invalid JSON Patch"),
    ("12", 400, "Invalid JSON Patch"),
    ("{", 400, "Invalid JSON Patch"),
    ('["c"]', 422, ' "" is invalid: patch: Invalid value: "[\\"c\\"]": '
                   "json: cannot unmarshal array into Go value of type map[string]interface {}"),
]


@pytest.mark.parametrize("body, code, message", MERGE_PATCH_FAILURES)
def test_merge_patch_failures(body, code, message):
    err = raised(apply_patch, {"a": "b"}, body, MERGE_PATCH, kind="Pod", api_version="v1")
    assert (err.code, err.message) == (code, message)
    assert isinstance(err, BadRequest if code == 400 else Invalid)


# --- Strategic merge patch -----------------------------------------------------------------------------------


def pod_template(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


RETAINKEYS_DEMO = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "retainkeys-demo"},
    "spec": {"selector": {"matchLabels": {"app": "nginx"}},
             # as stored: defaulted from the manifest's rollingUpdate.maxSurge 30%
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%", "maxUnavailable": "25%"}},
             "template": {"metadata": {"labels": {"app": "nginx"}},
                          "spec": {"containers": [{"name": "retainkeys-demo-ctr", "image": "nginx"}],
                                   "volumes": [{"name": "data", "emptyDir": {}}]}}}}


def retainkeys_demo(strategy=None, volumes=None) -> dict:
    obj = copy.deepcopy(RETAINKEYS_DEMO)
    if strategy is not None:
        obj["spec"]["strategy"] = strategy
    if volumes is not None:
        obj["spec"]["template"]["spec"]["volumes"] = volumes
    return obj


def template_patch(**pod_spec) -> dict:
    return {"spec": {"template": {"spec": pod_spec}}}


def ctr(name, **fields) -> dict:
    return {"name": name, **fields}


ABC = docs_deployment(containers=[ctr("a", image="a"), ctr("b", image="b"), ctr("c", image="c")])
APP = ctr("app", image="app",
          env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
          ports=[{"containerPort": 80}], volumeMounts=[{"name": "data", "mountPath": "/data"}])
POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p", "finalizers": ["a", "b"],
                    "ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs"}]},
       "spec": {"containers": [APP]},
       "status": {"conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"},
                                 {"type": "ContainersReady", "status": "False"},
                                 {"type": "PodScheduled", "status": "True"}]}}


def pod(finalizers=None, containers=None, conditions=None, owners=None) -> dict:
    obj = copy.deepcopy(POD)
    if finalizers is not None:
        obj["metadata"]["finalizers"] = finalizers
    if owners is not None:
        obj["metadata"]["ownerReferences"] = owners
    if containers is not None:
        obj["spec"]["containers"] = containers
    if conditions is not None:
        obj["status"]["conditions"] = conditions
    return obj


STRATEGIC_CASES = [
    # kubernetes.io: "Update API Objects in Place Using kubectl patch".
    ("docs: containers merge by name, the new one first", DOCS_DEPLOYMENT, template_patch(containers=[REDIS]),
     docs_deployment(containers=[REDIS, NGINX])),
    ("docs: tolerations are replaced", DOCS_DEPLOYMENT,
     template_patch(tolerations=[{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]),
     docs_deployment(tolerations=[{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}])),
    ("docs: without $retainKeys the old rollingUpdate stays", RETAINKEYS_DEMO,
     {"spec": {"strategy": {"type": "Recreate"}}},
     retainkeys_demo(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": "30%", "maxUnavailable": "25%"}})),
    ("docs: $retainKeys clears what it does not list", RETAINKEYS_DEMO,
     {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
     retainkeys_demo(strategy={"type": "Recreate"})),
    ("docs: $retainKeys in a volume swaps its source", RETAINKEYS_DEMO,
     template_patch(volumes=[{"name": "data", "$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/srv"}}]),
     retainkeys_demo(volumes=[{"name": "data", "hostPath": {"path": "/srv"}}])),
    ("a container's image changes in place", DOCS_DEPLOYMENT,
     template_patch(containers=[ctr("patch-demo-ctr", image="nginx:1.27")]),
     docs_deployment(containers=[ctr("patch-demo-ctr", image="nginx:1.27")])),
    ("$patch: delete removes a container", docs_deployment(containers=[REDIS, NGINX]),
     template_patch(containers=[{"name": "patch-demo-ctr-2", "$patch": "delete"}]),
     docs_deployment(containers=[NGINX])),
    ("$patch: delete of a name not there is a no-op", DOCS_DEPLOYMENT,
     template_patch(containers=[{"name": "ghost", "$patch": "delete"}]), DOCS_DEPLOYMENT),
    ("$patch: replace in a list replaces it", docs_deployment(containers=[REDIS, NGINX]),
     template_patch(containers=[ctr("only", image="busybox"), {"$patch": "replace"}]),
     docs_deployment(containers=[ctr("only", image="busybox")])),
    ("$patch: replace alone empties a list", DOCS_DEPLOYMENT, template_patch(containers=[{"$patch": "replace"}]),
     docs_deployment(containers=[])),
    ("an empty list leaves a merged list alone", DOCS_DEPLOYMENT, template_patch(containers=[]), DOCS_DEPLOYMENT),
    ("$patch: replace on a map replaces it", DOCS_DEPLOYMENT,
     {"spec": {"selector": {"$patch": "replace", "matchExpressions": []}}},
     {**DOCS_DEPLOYMENT, "spec": {**DOCS_DEPLOYMENT["spec"], "selector": {"matchExpressions": []}}}),
    ("$patch: delete on a map empties it", DOCS_DEPLOYMENT, {"spec": {"selector": {"$patch": "delete"}}},
     {**DOCS_DEPLOYMENT, "spec": {**DOCS_DEPLOYMENT["spec"], "selector": {}}}),
    ("a map with $patch vanishes where the object has none", DOCS_DEPLOYMENT,
     {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}}, DOCS_DEPLOYMENT),
    ("null deletes a field", DOCS_DEPLOYMENT, {"spec": {"replicas": None}},
     {**DOCS_DEPLOYMENT, "spec": {k: v for k, v in DOCS_DEPLOYMENT["spec"].items() if k != "replicas"}}),
    ("null deletes a field of a merged container", DOCS_DEPLOYMENT,
     template_patch(containers=[ctr("patch-demo-ctr", image=None)]),
     docs_deployment(containers=[ctr("patch-demo-ctr")])),
    ("labels merge key by key", DOCS_DEPLOYMENT, {"spec": {"template": {"metadata": {"labels": {"tier": "web"}}}}},
     {**DOCS_DEPLOYMENT, "spec": {**DOCS_DEPLOYMENT["spec"], "template": {
         **DOCS_DEPLOYMENT["spec"]["template"], "metadata": {"labels": {"app": "nginx", "tier": "web"}}}}}),
    ("$setElementOrder puts merged containers in order", ABC,
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
                                     "containers": [ctr("a", image="a2")]}}}},
     docs_deployment(containers=[ctr("c", image="c"), ctr("a", image="a2"), ctr("b", image="b")])),
    ("$setElementOrder alone reorders", ABC,
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}, {"name": "c"}]}}}},
     docs_deployment(containers=[ctr("b", image="b"), ctr("a", image="a"), ctr("c", image="c")])),
    ("$setElementOrder places a new container", ABC,
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "n"}, {"name": "b"},
                                                                     {"name": "c"}],
                                     "containers": [ctr("n", image="n")]}}}},
     docs_deployment(containers=[ctr("a", image="a"), ctr("n", image="n"), ctr("b", image="b"), ctr("c", image="c")])),
    ("elements left out of $setElementOrder keep the live order", ABC,
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}]}}}},
     docs_deployment(containers=[ctr("b", image="b"), ctr("c", image="c"), ctr("a", image="a")])),
    ("kubelet's status patch: conditions by type, in order", POD,
     {"status": {"$setElementOrder/conditions": [{"type": "Initialized"}, {"type": "Ready"},
                                                 {"type": "ContainersReady"}, {"type": "PodScheduled"}],
                 "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]}},
     pod(conditions=[{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"},
                     {"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"}])),
    ("finalizers merge as a set, the patch's first", POD, {"metadata": {"finalizers": ["c", "a"]}},
     pod(finalizers=["c", "a", "b"])),
    ("$deleteFromPrimitiveList removes finalizers", pod(finalizers=["a", "b", "c"]),
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"]}}, pod(finalizers=["a", "c"])),
    ("$deleteFromPrimitiveList of a missing list is a no-op", {"kind": "Pod", "metadata": {"name": "p"}},
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}, {"kind": "Pod", "metadata": {"name": "p"}}),
    ("kubectl apply's shape: an order and a deletion", pod(finalizers=["a", "b", "c"]),
     {"metadata": {"$setElementOrder/finalizers": ["c", "a"], "$deleteFromPrimitiveList/finalizers": ["b"]}},
     pod(finalizers=["c", "a"])),
    ("kubectl apply's shape: a container dropped", ABC,
     template_patch(**{"$setElementOrder/containers": [{"name": "a"}, {"name": "c"}]},
                    containers=[{"$patch": "delete", "name": "b"}]),
     docs_deployment(containers=[ctr("a", image="a"), ctr("c", image="c")])),
    ("$setElementOrder orders primitives", POD, {"metadata": {"$setElementOrder/finalizers": ["b", "a"]}},
     pod(finalizers=["b", "a"])),
    ("env by name, ports by containerPort, volumeMounts by mountPath", POD,
     {"spec": {"containers": [ctr("app", env=[{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                                  ports=[{"containerPort": 443}],
                                  volumeMounts=[{"mountPath": "/data", "readOnly": True}])]}},
     pod(containers=[ctr("app", image="app",
                         env=[{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                         ports=[{"containerPort": 443}, {"containerPort": 80}],
                         volumeMounts=[{"name": "data", "mountPath": "/data", "readOnly": True}])])),
    ("ownerReferences merge by uid", POD,
     {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}, {"uid": "u2", "kind": "Node", "name": "n"}]}},
     pod(owners=[{"uid": "u1", "kind": "ReplicaSet", "name": "rs", "controller": True},
                 {"uid": "u2", "kind": "Node", "name": "n"}])),
    ("a new list is taken without directives or nulls", DOCS_DEPLOYMENT,
     template_patch(initContainers=[ctr("init", image="busybox", env=None), {"name": "x", "$patch": "delete"}]),
     {**DOCS_DEPLOYMENT, "spec": {**DOCS_DEPLOYMENT["spec"], "template": {
         **DOCS_DEPLOYMENT["spec"]["template"], "spec": {**pod_template(DOCS_DEPLOYMENT),
                                                         "initContainers": [ctr("init", image="busybox")]}}}}),
    ("a value of another type replaces", {"kind": "Pod", "spec": {"nodeSelector": {"a": "b"}}},
     {"spec": {"nodeSelector": ["x", None]}}, {"kind": "Pod", "spec": {"nodeSelector": ["x", None]}}),
    ("a null body changes nothing", DOCS_DEPLOYMENT, b"null", DOCS_DEPLOYMENT),
    ("$patch: replace at the top replaces the object", {"a": 1}, {"$patch": "replace", "b": {"c": None}}, {"b": {}}),
]


@pytest.mark.parametrize("name, obj, patch, result", STRATEGIC_CASES, ids=names(STRATEGIC_CASES))
def test_strategic_merge_patch(name, obj, patch, result):
    api_version, kind = obj.get("apiVersion", "apps/v1"), obj.get("kind", "Deployment")
    assert apply_patch(obj, patch, STRATEGIC_MERGE_PATCH, kind=kind, api_version=api_version) == result


# Lists of other kinds: (api_version, kind, object, patch, result)
KIND_CASES = [
    ("v1", "Service", {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
     {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"name": "https", "port": 443}]}},
     {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9090}, {"name": "https", "port": 443}]}}),
    # Merge keys match as Go compares decoded values: the string "80" is not the number 80.
    ("v1", "Service", {"spec": {"ports": [{"port": 80, "name": "http"}]}},
     {"spec": {"ports": [{"port": "80", "name": "text"}, {"port": 80, "$patch": "delete"}]}},
     {"spec": {"ports": [{"port": "80", "name": "text"}]}}),
    ("v1", "Endpoints", {"subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]},
     {"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]}, {"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]}),
    ("v1", "Node", {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                             {"type": "Hostname", "address": "n1"}]}},
     {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}},
     {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n1"}]}}),
    ("v1", "Node", {"spec": {"podCIDRs": ["10.244.1.0/24"], "taints": [{"key": "a", "effect": "NoSchedule"}]}},
     {"spec": {"podCIDRs": ["fd00::/64"], "taints": [{"key": "b", "effect": "NoExecute"}]}},
     {"spec": {"podCIDRs": ["fd00::/64", "10.244.1.0/24"], "taints": [{"key": "b", "effect": "NoExecute"}]}}),
    ("v1", "Pod", {"spec": {"tolerations": [{"key": "a"}], "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a"]}]}},
     {"spec": {"tolerations": [{"key": "b"}], "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["b"]}]}},
     {"spec": {"tolerations": [{"key": "b"}], "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["b"]}]}}),
    ("v1", "Pod", {"spec": {"topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}]}},
     {"spec": {"topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]}},
     {"spec": {"topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]}}),
    ("batch/v1", "CronJob", {"spec": {"jobTemplate": template_patch(containers=[ctr("a", image="a")])}},
     {"spec": {"jobTemplate": template_patch(containers=[ctr("b", image="b")])}},
     {"spec": {"jobTemplate": template_patch(containers=[ctr("b", image="b"), ctr("a", image="a")])}}),
    ("batch/v1", "Job", {"status": {"conditions": [{"type": "Complete", "status": "False"}]}},
     {"status": {"conditions": [{"type": "Failed", "status": "True"}]}},
     {"status": {"conditions": [{"type": "Failed", "status": "True"}, {"type": "Complete", "status": "False"}]}}),
    # A kind the table does not know (a custom resource): maps merge, lists are replaced.
    ("example.com/v1", "Widget", {"spec": {"items": [{"name": "a"}], "config": {"a": 1}}},
     {"spec": {"items": [{"name": "b"}], "config": {"b": 2}}},
     {"spec": {"items": [{"name": "b"}], "config": {"a": 1, "b": 2}}}),
]


@pytest.mark.parametrize("api_version, kind, obj, patch, result", KIND_CASES, ids=names(KIND_CASES, 1))
def test_strategic_merge_patch_of_other_kinds(api_version, kind, obj, patch, result):
    assert strategic_merge_patch(obj, patch, kind=kind, api_version=api_version) == result


WORKLOADS = [("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("apps/v1", "DaemonSet"),
             ("apps/v1", "StatefulSet"), ("batch/v1", "Job"), ("v1", "ReplicationController")]


@pytest.mark.parametrize("api_version, kind", WORKLOADS)
def test_every_pod_template_merges_containers_by_name(api_version, kind):
    obj = {"spec": {"template": {"metadata": {"finalizers": ["x"]}, "spec": {"containers": [NGINX]}}}}
    patch = {"spec": {"template": {"metadata": {"finalizers": ["y"]}, "spec": {"containers": [REDIS]}}}}
    result = strategic_merge_patch(obj, patch, kind=kind, api_version=api_version)
    assert result["spec"]["template"] == {"metadata": {"finalizers": ["y", "x"]},
                                          "spec": {"containers": [REDIS, NGINX]}}


# (patch, code, message): what a malformed strategic patch costs, as kube-apiserver words it
STRATEGIC_FAILURES = [
    (template_patch(containers=[{"image": "redis"}]), 500,
     "map: map[image:redis] does not contain declared merge key: name"),
    (template_patch(containers=[{"$patch": "delete"}]), 500,
     "map: map[$patch:delete] does not contain declared merge key: name"),
    (template_patch(containers=[{"name": "x", "$patch": "remove"}]), 500,
     "unknown patch type: remove in map: map[$patch:remove name:x]"),
    (template_patch(containers=[{"name": "x", "$patch": "merge"}]), 500,
     "merging lists cannot yet be specified in the patch"),
    ({"spec": {"selector": {"$patch": "merge", "matchLabels": {"app": "web"}}}}, 500,
     "unknown patch type: merge in map: map[$patch:merge matchLabels:map[app:web]]"),
    ({"spec": {"strategy": {"$retainKeys": "type", "type": "Recreate"}}}, 400, "invalid patch format of retainKeys"),
    ({"spec": {"strategy": {"$retainKeys": ["rollingUpdate"], "type": "Recreate"}}}, 400,
     "invalid patch format of retainKeys"),
    ({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}, 400, "invalid patch format of primitive list"),
    (template_patch(**{"$setElementOrderX/containers": [{"name": "a"}]}), 400,
     "invalid patch format of setElementOrder list"),
    (template_patch(**{"$setElementOrder/containers": "a"}), 500, "expected a []interface {}, but received a string"),
    (template_patch(**{"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "c"}]}), 500,
     "the order in patch list:\n[map[name:c]]\n doesn't match $setElementOrder list:\n[map[name:a]]"),
    ({"metadata": {"ownerReferences": [["a"]]}}, 422,
     "the server rejected our request due to an error in our request"),
    # Go types the live list's first element first: a list of lists after a string is "not identical".
    ({"metadata": {"finalizers": [["a"]]}}, 500, "list element types are not identical: [[x] [[a]]]"),
    ({"metadata": {"finalizers": ["a", 1]}}, 500, "list element types are not identical: [[x] [a 1]]"),
]


@pytest.mark.parametrize("patch, code, message", STRATEGIC_FAILURES, ids=names(STRATEGIC_FAILURES, 2))
def test_strategic_merge_patch_failures(patch, code, message):
    obj = {"metadata": {"finalizers": ["x"], "ownerReferences": []},
           "spec": {"selector": {"matchLabels": {"app": "nginx"}}, "strategy": {"type": "RollingUpdate"},
                    "template": {"spec": {"containers": [NGINX]}}}}
    err = raised(strategic_merge_patch, obj, patch, kind="Deployment", api_version="apps/v1")
    assert (err.code, err.message) == (code, message)
    assert isinstance(err, {400: BadRequest, 422: Invalid, 500: InternalError}[code])
    if code == 500:  # a plain Go error: kube sends no reason and no details
        assert err.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": message, "code": 500}
    if code == 422:
        assert err.causes == [{"reason": "UnexpectedServerResponse", "message": "lists of lists are not supported"}]


@pytest.mark.parametrize("body, message", [
    ("[]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ('"x"', "json: cannot unmarshal string into Go value of type map[string]interface {}"),
    ("{", None),
])
def test_strategic_merge_patch_bodies_that_do_not_decode(body, message):
    err = raised(strategic_merge_patch, {}, body, kind="Pod", api_version="v1")
    assert (err.code, err.reason) == (400, "BadRequest")
    assert message is None or err.message == message


# --- apply_patch ---------------------------------------------------------------------------------------------

CONTENT_TYPES = [
    ("application/json-patch+json", [{"op": "add", "path": "/b", "value": 2}]),
    ("application/merge-patch+json; charset=utf-8", {"b": 2}),
    ("Application/Strategic-Merge-Patch+JSON", {"b": 2}),
    ("json", [{"op": "add", "path": "/b", "value": 2}]),
    ("merge", {"b": 2}),
    ("strategic", {"b": 2}),
]


@pytest.mark.parametrize("content_type, patch", CONTENT_TYPES)
def test_apply_patch_reads_the_content_type(content_type, patch):
    assert apply_patch({"a": 1}, patch, content_type, kind="ConfigMap", api_version="v1") == {"a": 1, "b": 2}


@pytest.mark.parametrize("content_type", ["application/apply-patch+yaml", "application/json", "text/plain"])
def test_other_content_types_are_unsupported_media_types(content_type):
    err = raised(apply_patch, {"a": 1}, {"b": 2}, content_type, kind="ConfigMap", api_version="v1")
    assert (err.code, err.reason) == (415, "UnsupportedMediaType")
    assert err.message == ("the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, "
                           "application/strategic-merge-patch+json")


def test_a_json_patch_whose_result_is_not_an_object_is_invalid():
    err = raised(apply_patch, {"a": 1}, [{"op": "replace", "path": "", "value": []}], JSON_PATCH,
                 kind="Pod", api_version="v1")
    assert isinstance(err, Invalid) and err.code == 422
    assert err.causes == [{"reason": "FieldValueInvalid", "field": "patch", "message": 'Invalid value: "[]": '
                           "json: cannot unmarshal array into Go value of type map[string]interface {}"}]


NO_MUTATION = [
    (JSON_PATCH, [{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "A"}]},
                  {"op": "copy", "from": "/spec/template/spec/containers/0",
                   "path": "/spec/template/spec/containers/-"}]),
    (MERGE_PATCH, {"spec": {"template": {"spec": {"containers": [{"name": "x", "env": [{"name": "A"}]}]}}}}),
    (STRATEGIC_MERGE_PATCH, template_patch(containers=[ctr("patch-demo-ctr", env=[{"name": "A", "value": None}]),
                                                       REDIS, {"name": "gone", "$patch": "delete"}],
                                           **{"$setElementOrder/containers": [{"name": "patch-demo-ctr"},
                                                                              {"name": "patch-demo-ctr-2"}]})),
]


@pytest.mark.parametrize("patch_type, patch", NO_MUTATION, ids=names(NO_MUTATION))
def test_apply_patch_changes_neither_argument_and_shares_nothing(patch_type, patch):
    obj, patch_before, obj_before = copy.deepcopy(DOCS_DEPLOYMENT), copy.deepcopy(patch), copy.deepcopy(DOCS_DEPLOYMENT)
    result = apply_patch(obj, patch, patch_type, kind="Deployment", api_version="apps/v1")
    assert obj == obj_before and patch == patch_before
    for container in pod_template(result)["containers"]:
        container["image"] = "mutated"
        container.setdefault("env", []).append({"name": "MUTATED"})
    assert obj == obj_before and patch == patch_before


def test_a_failing_json_patch_leaves_the_object_alone():
    obj = {"a": [1, 2]}
    raised(json_patch, obj, [{"op": "remove", "path": "/a/0"}, {"op": "test", "path": "/a/0", "value": 1}])
    assert obj == {"a": [1, 2]}


# --- The merge key table ---------------------------------------------------------------------------------------


POD_SPEC_KINDS = WORKLOADS + [("batch/v1", "CronJob"), ("v1", "Pod"), ("v1", "PodTemplate")]


@pytest.mark.parametrize("api_version, kind", POD_SPEC_KINDS)
def test_merge_keys_reach_every_pod_spec(api_version, kind):
    schema = schema_for(api_version, kind)
    spec = {
        "Pod": lambda s: s["spec"],
        "PodTemplate": lambda s: s["template"]["spec"],
        "CronJob": lambda s: s["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    }.get(kind, lambda s: s["spec"]["template"]["spec"])(schema)
    assert spec["containers"] == MergeList("name", strategic.CONTAINER)
    assert spec["containers"].item["env"].key == "name" and spec["volumes"].key == "name"
    assert "tolerations" not in spec  # atomic: the task page's example replaces them
    assert schema["metadata"]["finalizers"] == MergeList() and schema["metadata"]["ownerReferences"].key == "uid"


@pytest.mark.parametrize("api_version, kind, expected", [
    ("apps/v1beta2", "Deployment", strategic.KINDS[("apps", "Deployment")]),
    ("v1", "Endpoints", {"metadata": strategic.OBJECT_META, "spec": {}, "status": {}}),
    ("example.com/v1", "Widget", {}),
    ("v1", "Deployment", {}),
])
def test_schema_for_looks_kinds_up_by_group(api_version, kind, expected):
    assert schema_for(api_version, kind) == expected


@pytest.mark.parametrize("name", ["kitlib.apiserver.patch", "kitlib.apiserver.strategic"])
def test_module_docstring_and_examples(name):
    module = importlib.import_module(name)
    assert module.__doc__ and "Simplifications:" in module.__doc__, f"{name}: DESIGN.md asks for Simplifications:"
    assert doctest.testmod(module).failed == 0
