"""Hostile and malformed requests: always a 4xx ``Status``, never a 5xx, never a crash, nothing written by strangers.

Hypothesis throws generated requests at the handler in-process (fast enough
for thousands of cases): random paths under every resource, random query
parameters, random JSON and YAML and bytes as bodies, all five methods, all
body media types. After each request the server must still answer a
plain GET, and the store may only have changed for an authorised request.
A few hand-written cases cover what generators rarely hit (huge bodies,
deep nesting, alias bombs) over real HTTPS too.
"""

from __future__ import annotations

import json
import ssl
import http.client

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitlib.apiserver.request import Request
from kitlib.apiserver.resources import RESOURCES
from kitlib.apiserver.server import APIServer
from kitlib.store import open_store

ADMIN = {"subject": ((("organizationName", "system:masters"),), (("commonName", "kit-admin"),))}
NOBODY = {"subject": ((("commonName", "nobody"),),)}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    store = open_store("memory://", lessor=False)
    server = APIServer(store, tmp_path_factory.mktemp("robust") / "pki").start()
    server.write_kubeconfig(tmp_path_factory.mktemp("robust-conf") / "admin.conf")
    server.pki.issue_client("nobody", "nobody")
    yield server
    server.stop()
    store.close()


def revision(api) -> int:
    return api.registry.store.range("/", prefix=True, limit=1).revision


def paths():
    def build(resource, namespace, name, sub):
        prefix = f"/api/{resource.version}" if not resource.group else f"/apis/{resource.group}/{resource.version}"
        ns = f"/namespaces/{namespace}" if resource.namespaced and namespace is not None else ""
        tail = f"/{name}" if name else ""
        return prefix + ns + f"/{resource.plural}" + tail + (f"/{sub}" if sub and name else "")

    names = st.one_of(st.just("web"), st.text(min_size=1, max_size=12).map(lambda s: s.replace("/", "%2F").replace("?", "")))
    return st.one_of(
        st.builds(build, st.sampled_from(RESOURCES), st.sampled_from([None, "default", "nope", "kube-system"]),
                  st.one_of(st.none(), names), st.sampled_from(["", "status", "scale", "binding", "log", "bogus"])),
        st.text(max_size=40).map(lambda s: "/" + s.replace("?", "").replace("#", "")),
        st.sampled_from(["/api", "/apis", "/version", "/apis/apps", "/apis/apps/v1", "/openapi/v3", "/healthz",
                         "/api/v1/watch", "/apis/apps/v1/watch/deployments", "//", "/api/v1/namespaces//pods"]),
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def object_like():
    """Bodies shaped like objects, with random holes and wrong types: what reaches the deepest code."""
    return st.fixed_dictionaries({}, optional={
        "apiVersion": st.sampled_from(["v1", "apps/v1", "x/y", ""]) | json_values,
        "kind": st.sampled_from(["Pod", "Deployment", "ConfigMap", "Service", "Namespace", "Status"]) | json_values,
        "metadata": st.fixed_dictionaries({}, optional={
            "name": st.sampled_from(["web", "Web", "", "a" * 300]) | json_values,
            "namespace": st.sampled_from(["default", "nope"]) | json_values,
            "labels": st.dictionaries(st.text(max_size=10), st.text(max_size=10) | json_values, max_size=3),
            "resourceVersion": st.sampled_from(["1", "abc", "-1", ""]) | json_values,
            "finalizers": json_values,
        }) | json_values,
        "spec": json_values,
        "data": json_values,
        "status": json_values,
    })


bodies = st.one_of(
    st.none(),
    json_values.map(lambda v: json.dumps(v).encode()),
    object_like().map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
)

queries = st.dictionaries(
    st.sampled_from(["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch",
                     "timeoutSeconds", "propagationPolicy", "fieldManager", "fieldValidation", "force", "dryRun",
                     "tailLines", "container", "allowWatchBookmarks", "bogus"]),
    st.text(max_size=12) | st.sampled_from(["true", "0", "-1", "99999999999999999999", "a=b,c!=d", "x in (y)"]),
    max_size=3,
).map(lambda q: "&".join(f"{k}={v.replace('&', '').replace('#', '')}" for k, v in q.items()))

media_types = st.sampled_from(["application/json", "application/yaml", "application/json-patch+json",
                               "application/merge-patch+json", "application/strategic-merge-patch+json",
                               "application/apply-patch+yaml", "text/plain", ""])


def answer(api, method, target, body, content_type, cert):
    response = api.handler.handle(Request(method, target, {"content-type": content_type}, body or b"", cert))
    if response.stream is not None:  # a watch or a log: read a little, then hang up as a client would
        response.stream.close() if hasattr(response.stream, "close") else None
    return response


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=paths(), query=queries, body=bodies,
       content_type=media_types)
def test_generated_requests_never_get_a_5xx(api, method, path, query, body, content_type):
    target = path + (f"?{query}" if query else "")
    response = answer(api, method, target, body, content_type, ADMIN)
    assert response.code < 500, (method, target, body, response.body[:500])
    if response.stream is None and response.content_type.startswith("application/json") and response.code >= 400:
        status = json.loads(response.body)
        assert status["kind"] == "Status" and status["code"] == response.code


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=paths(), body=bodies,
       content_type=media_types)
def test_strangers_read_and_write_nothing(api, method, path, body, content_type):
    before = revision(api)
    for cert, allowed in ((None, {401}), (NOBODY, {403, 404})):
        response = answer(api, method, path, body, content_type, cert)
        if cert is None:
            assert response.code == 401, (method, path, response.body[:300])
        else:
            # Discovery and /version are public, as in kube; nothing else is.
            assert response.code in allowed or (method == "GET" and not _is_resource(path)), (method, path, response.code)
            if response.code == 200:
                assert not _is_resource(path)
    assert revision(api) == before


def _is_resource(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    return (len(parts) >= 3 and parts[0] == "api") or (len(parts) >= 4 and parts[0] == "apis")


# -- hand-written cases over real HTTPS -----------------------------------------------------


def https(api, method, path, body=b"", headers=None, client="admin"):
    context = ssl.create_default_context(cafile=str(api.pki.ca.cert))
    if client:
        pair = api.pki.client(client)
        context.load_cert_chain(pair.cert, pair.key)
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=context, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "method, path, body, headers, code",
    [
        ("POST", "/api/v1/namespaces/default/configmaps", b"{" * 50_000, {}, 400),
        ("POST", "/api/v1/namespaces/default/configmaps", b"x" * (3 * 1024 * 1024 + 1), {}, 413),
        ("POST", "/api/v1/namespaces/default/configmaps", b"a: &a [1,1]\nb: &b [*a,*a]\nc: [*b,*b]\n",
         {"Content-Type": "application/yaml"}, 400),
        ("POST", "/api/v1/namespaces/default/configmaps", b"{}", {"Content-Length": "-5"}, 400),
        ("GET", "/api/v1/namespaces/default/configmaps?limit=abc", b"", {}, 400),
        ("GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(", b"", {}, 400),
        ("GET", "/api/v1/namespaces/default/configmaps?fieldSelector=spec.bogus%3Dx", b"", {}, 400),
        ("PATCH", "/api/v1/namespaces/default/configmaps/none", b"{}", {"Content-Type": "text/plain"}, 415),
        ("PUT", "/api/v1/namespaces/default/configmaps", b"{}", {}, 405),
    ],
    ids=["deep-nesting", "too-large", "alias-bomb", "negative-length", "bad-limit", "bad-label-selector",
         "bad-field-selector", "unknown-patch-type", "put-on-a-collection"],
)
def test_hostile_requests_over_https(api, method, path, body, headers, code):
    status, payload = https(api, method, path, body, headers)
    assert status == code, payload[:300]
    assert json.loads(payload)["code"] == code
    assert https(api, "GET", "/api/v1/namespaces/default/configmaps")[0] == 200  # and the server still serves


def test_no_credentials_over_https_is_401_everywhere(api):
    for path in ("/api/v1/namespaces/default/pods", "/apis/apps/v1/deployments", "/api", "/version"):
        status, payload = https(api, "GET", path, client=None)
        assert status == 401 and json.loads(payload)["message"] == "Unauthorized"
