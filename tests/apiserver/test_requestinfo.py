"""Every request is named as kube-apiserver's RequestInfoFactory names it (requestinfo_test.go's cases and more)."""

from __future__ import annotations

import doctest
from urllib.parse import parse_qs, urlsplit

import pytest

from kitlib.apiserver import requestinfo
from kitlib.apiserver.requestinfo import RequestInfo, RequestInfoError, query_bool, request_info, split_path


def ask(method: str, url: str) -> RequestInfo:
    # What an HTTP handler has: the decoded path and the query, blank values kept.
    parts = urlsplit(url)
    return request_info(method, parts.path, parse_qs(parts.query, keep_blank_values=True))


NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/web"

# (method, url, verb, group, namespace, resource, name, subresource, parts); version is v1 everywhere.
RESOURCE_REQUESTS = [
    # Core group, namespaced: collections and objects.
    ("GET", "/api/v1/pods", "list", "", "", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods", "list", "", "default", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods/web-0", "get", "", "default", "pods", "web-0", "", ("pods", "web-0")),
    ("HEAD", f"{NS}/pods/web-0", "get", "", "default", "pods", "web-0", "", ("pods", "web-0")),
    ("HEAD", f"{NS}/pods", "list", "", "default", "pods", "", "", ("pods",)),
    ("POST", f"{NS}/pods", "create", "", "default", "pods", "", "", ("pods",)),
    ("PUT", f"{NS}/pods/web-0", "update", "", "default", "pods", "web-0", "", ("pods", "web-0")),
    ("PATCH", f"{NS}/pods/web-0", "patch", "", "default", "pods", "web-0", "", ("pods", "web-0")),
    ("DELETE", f"{NS}/pods/web-0", "delete", "", "default", "pods", "web-0", "", ("pods", "web-0")),
    ("DELETE", f"{NS}/pods", "deletecollection", "", "default", "pods", "", "", ("pods",)),
    ("DELETE", "/api/v1/pods", "deletecollection", "", "", "pods", "", "", ("pods",)),
    ("OPTIONS", f"{NS}/pods/web-0", "", "", "default", "pods", "web-0", "", ("pods", "web-0")),
    # HTTP methods are case-sensitive: "get" is no GET.
    ("get", f"{NS}/pods/web-0", "", "", "default", "pods", "web-0", "", ("pods", "web-0")),
    # Subresources: the verb is still the method's.
    ("GET", f"{NS}/pods/web-0/log", "get", "", "default", "pods", "web-0", "log", ("pods", "web-0", "log")),
    ("PUT", f"{NS}/pods/web-0/status", "update", "", "default", "pods", "web-0", "status",
     ("pods", "web-0", "status")),
    ("PATCH", f"{NS}/pods/web-0/status", "patch", "", "default", "pods", "web-0", "status",
     ("pods", "web-0", "status")),
    ("POST", f"{NS}/pods/web-0/binding", "create", "", "default", "pods", "web-0", "binding",
     ("pods", "web-0", "binding")),
    ("POST", f"{NS}/pods/web-0/eviction", "create", "", "default", "pods", "web-0", "eviction",
     ("pods", "web-0", "eviction")),
    ("POST", f"{NS}/pods/web-0/exec", "create", "", "default", "pods", "web-0", "exec", ("pods", "web-0", "exec")),
    ("GET", f"{NS}/pods/web-0/exec", "get", "", "default", "pods", "web-0", "exec", ("pods", "web-0", "exec")),
    ("GET", f"{NS}/pods/web-0/proxy/metrics/x", "get", "", "default", "pods", "web-0", "proxy",
     ("pods", "web-0", "proxy", "metrics", "x")),
    ("POST", f"{NS}/bindings", "create", "", "default", "bindings", "", "", ("bindings",)),
    ("POST", f"{NS}/serviceaccounts/default/token", "create", "", "default", "serviceaccounts", "default", "token",
     ("serviceaccounts", "default", "token")),
    # Core group, cluster-scoped.
    ("GET", "/api/v1/nodes", "list", "", "", "nodes", "", "", ("nodes",)),
    ("GET", "/api/v1/nodes/node-1", "get", "", "", "nodes", "node-1", "", ("nodes", "node-1")),
    ("PUT", "/api/v1/nodes/node-1/status", "update", "", "", "nodes", "node-1", "status",
     ("nodes", "node-1", "status")),
    ("PATCH", "/api/v1/nodes/node-1/status", "patch", "", "", "nodes", "node-1", "status",
     ("nodes", "node-1", "status")),
    ("DELETE", "/api/v1/nodes", "deletecollection", "", "", "nodes", "", "", ("nodes",)),
    ("GET", "/api/v1/persistentvolumes/pv-1", "get", "", "", "persistentvolumes", "pv-1", "",
     ("persistentvolumes", "pv-1")),
    # Namespaces: the object /namespaces/x is also "in" the namespace x.
    ("GET", "/api/v1/namespaces", "list", "", "", "namespaces", "", "", ("namespaces",)),
    ("POST", "/api/v1/namespaces", "create", "", "", "namespaces", "", "", ("namespaces",)),
    ("DELETE", "/api/v1/namespaces", "deletecollection", "", "", "namespaces", "", "", ("namespaces",)),
    ("GET", "/api/v1/namespaces/default", "get", "", "default", "namespaces", "default", "",
     ("namespaces", "default")),
    ("DELETE", "/api/v1/namespaces/team-a", "delete", "", "team-a", "namespaces", "team-a", "",
     ("namespaces", "team-a")),
    ("PUT", "/api/v1/namespaces/team-a/finalize", "update", "", "team-a", "namespaces", "team-a", "finalize",
     ("namespaces", "team-a", "finalize")),
    ("PUT", "/api/v1/namespaces/team-a/status", "update", "", "team-a", "namespaces", "team-a", "status",
     ("namespaces", "team-a", "status")),
    # Named API groups.
    ("GET", "/apis/apps/v1/deployments", "list", "apps", "", "deployments", "", "", ("deployments",)),
    ("GET", f"{APPS}/deployments", "list", "apps", "web", "deployments", "", "", ("deployments",)),
    ("POST", f"{APPS}/deployments", "create", "apps", "web", "deployments", "", "", ("deployments",)),
    ("DELETE", f"{APPS}/deployments", "deletecollection", "apps", "web", "deployments", "", "", ("deployments",)),
    ("DELETE", f"{APPS}/deployments/front", "delete", "apps", "web", "deployments", "front", "",
     ("deployments", "front")),
    ("GET", f"{APPS}/deployments/front/scale", "get", "apps", "web", "deployments", "front", "scale",
     ("deployments", "front", "scale")),
    ("PUT", f"{APPS}/deployments/front/scale", "update", "apps", "web", "deployments", "front", "scale",
     ("deployments", "front", "scale")),
    ("PATCH", f"{APPS}/deployments/front/status", "patch", "apps", "web", "deployments", "front", "status",
     ("deployments", "front", "status")),
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1", "get", "coordination.k8s.io",
     "kube-node-lease", "leases", "node-1", "", ("leases", "node-1")),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", "get", "rbac.authorization.k8s.io", "",
     "clusterroles", "view", "", ("clusterroles", "view")),
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "create", "authorization.k8s.io", "",
     "selfsubjectaccessreviews", "", "", ("selfsubjectaccessreviews",)),
    # Kubernetes does not check that a group has namespaces: this is the "resource" namespaces of apps.
    ("GET", "/apis/apps/v1/namespaces/web", "get", "apps", "web", "namespaces", "web", "", ("namespaces", "web")),
    # Watch as a query parameter: any value but false/0 (in any case) means watch, even an empty one.
    ("GET", "/api/v1/pods?watch=true", "watch", "", "", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods?watch=1&resourceVersion=12", "watch", "", "default", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods?watch=TRUE", "watch", "", "default", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods?watch=", "watch", "", "default", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods?watch=yes", "watch", "", "default", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods?watch=false", "list", "", "default", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods?watch=False", "list", "", "default", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods?watch=0", "list", "", "default", "pods", "", "", ("pods",)),
    ("GET", f"{NS}/pods?watch=0&watch=1", "list", "", "default", "pods", "", "", ("pods",)),  # the first one counts
    ("GET", f"{NS}/pods/web-0?watch=true", "get", "", "default", "pods", "web-0", "", ("pods", "web-0")),
    ("GET", "/apis/apps/v1/deployments?watch=true", "watch", "apps", "", "deployments", "", "", ("deployments",)),
    # The legacy /watch/ prefix.
    ("GET", "/api/v1/watch/pods", "watch", "", "", "pods", "", "", ("pods",)),
    ("GET", "/api/v1/watch/namespaces/default/pods", "watch", "", "default", "pods", "", "", ("pods",)),
    ("GET", "/api/v1/watch/namespaces/default/pods/web-0", "watch", "", "default", "pods", "web-0", "",
     ("pods", "web-0")),
    ("GET", "/api/v1/watch/namespaces", "watch", "", "", "namespaces", "", "", ("namespaces",)),
    ("GET", "/api/v1/watch/namespaces/default", "watch", "", "default", "namespaces", "default", "",
     ("namespaces", "default")),
    ("GET", "/apis/apps/v1/watch/namespaces/web/deployments", "watch", "apps", "web", "deployments", "", "",
     ("deployments",)),
    # The legacy /proxy/ prefix: never a subresource, the rest is the proxied path.
    ("GET", "/api/v1/proxy/nodes/node-1", "proxy", "", "", "nodes", "node-1", "", ("nodes", "node-1")),
    ("GET", "/api/v1/proxy/namespaces/default/pods/web-0/a/b", "proxy", "", "default", "pods", "web-0", "",
     ("pods", "web-0", "a", "b")),
    ("GET", "/api/v1/proxy/nodes", "proxy", "", "", "nodes", "", "", ("nodes",)),
    # Slashes at the ends do not count.
    ("GET", "/api/v1/pods/", "list", "", "", "pods", "", "", ("pods",)),
]


@pytest.mark.parametrize("method, url, verb, group, namespace, resource, name, subresource, parts", RESOURCE_REQUESTS)
def test_resource_requests(method, url, verb, group, namespace, resource, name, subresource, parts):
    info = ask(method, url)
    assert info.is_resource_request
    assert info.path == urlsplit(url).path
    assert (info.verb, info.api_prefix, info.api_group, info.api_version) == (
        verb, "apis" if group else "api", group, "v1")
    assert (info.namespace, info.resource, info.name, info.subresource, info.parts) == (
        namespace, resource, name, subresource, parts)


# Not resources: discovery, OpenAPI, health, version, and anything outside /api and /apis.
NON_RESOURCE_REQUESTS = [
    ("GET", "/"),
    ("GET", "/api"),
    ("GET", "/api/"),
    ("GET", "/api/v1"),
    ("GET", "/apis"),
    ("GET", "/apis/apps"),
    ("GET", "/apis/apps/v1"),
    ("GET", "/apis/apps/v1/"),
    ("GET", "/version"),
    ("GET", "/version/"),
    ("GET", "/healthz"),
    ("GET", "/healthz/etcd"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/openapi/v2"),
    ("GET", "/openapi/v3"),
    ("GET", "/openapi/v3/apis/apps/v1"),
    ("GET", "/openapi/v3/api/v1"),
    ("GET", "/metrics"),
    ("HEAD", "/healthz"),
    ("POST", "/version"),
    ("DELETE", "/foo/bar/baz"),
    ("GET", "/foo/api/v1/pods"),
]


@pytest.mark.parametrize("method, path", NON_RESOURCE_REQUESTS)
def test_non_resource_requests(method, path):
    assert request_info(method, path, {}) == RequestInfo(is_resource_request=False, path=path, verb=method.lower())


# A list or watch whose field selector pins metadata.name carries that name (so resourceNames rules apply).
# (method, url, verb, name, field selector kept, label selector kept)
SELECTOR_REQUESTS = [
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Dtoken", "list", "token", "metadata.name=token", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Dtoken&watch=true", "watch", "token",
     "metadata.name=token", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3D%3Dtoken", "list", "token", "metadata.name==token", ""),
    ("GET", f"{NS}/pods?fieldSelector=spec.nodeName%3Dn1,metadata.name%3Dweb-0", "list", "web-0",
     "spec.nodeName=n1,metadata.name=web-0", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name!%3Dtoken", "list", "", "metadata.name!=token", ""),
    ("GET", f"{NS}/pods?fieldSelector=spec.nodeName%3Dn1", "list", "", "spec.nodeName=n1", ""),
    ("GET", f"{NS}/pods?labelSelector=app%3Dweb", "list", "", "", "app=web"),
    ("GET", f"{NS}/pods?labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dweb-0", "list", "web-0",
     "metadata.name=web-0", "app=web"),
    # A name that could not be one path segment is not taken.
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3D..", "list", "", "metadata.name=..", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Da/b", "list", "", "metadata.name=a/b", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Da%25b", "list", "", "metadata.name=a%b", ""),
    # ListOptions that do not decode: list or watch still, but no name.
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Dtoken&limit=abc", "list", "", "metadata.name=token", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Dtoken&limit=", "list", "", "metadata.name=token", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Dtoken&limit=500", "list", "token",
     "metadata.name=token", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Dtoken&watch=1&timeoutSeconds=x", "watch", "",
     "metadata.name=token", ""),
    ("GET", f"{NS}/secrets?fieldSelector=metadata.name%3Dtoken&labelSelector=a%20in", "list", "",
     "metadata.name=token", "a in"),
    ("GET", f"{NS}/secrets?fieldSelector=nonsense", "list", "", "nonsense", ""),
    # A name in the path wins; selectors are kept only for list, watch and deletecollection.
    ("GET", f"{NS}/secrets/a?fieldSelector=metadata.name%3Db", "get", "a", "", ""),
    ("DELETE", f"{NS}/secrets?fieldSelector=metadata.name%3Db", "deletecollection", "", "metadata.name=b", ""),
    ("DELETE", f"{NS}/pods?labelSelector=app%3Dweb", "deletecollection", "", "", "app=web"),
    ("POST", f"{NS}/pods?labelSelector=app%3Dweb", "create", "", "", ""),
    # The /watch/ prefix sets the verb, so no name is taken from the selector, which is not kept either.
    ("GET", "/api/v1/watch/namespaces/default/secrets?fieldSelector=metadata.name%3Dtoken", "watch", "", "", ""),
]


@pytest.mark.parametrize("method, url, verb, name, field_selector, label_selector", SELECTOR_REQUESTS)
def test_selectors(method, url, verb, name, field_selector, label_selector):
    info = ask(method, url)
    assert (info.verb, info.name, info.field_selector, info.label_selector) == (
        verb, name, field_selector, label_selector)


@pytest.mark.parametrize("url, message", [
    ("/api/v1/watch", "unable to determine kind and namespace from url, /api/v1/watch"),
    ("/api/v1/proxy/", "unable to determine kind and namespace from url, /api/v1/proxy/"),
    ("/apis/apps/v1/watch?timeoutSeconds=5", "unable to determine kind and namespace from url, "
                                            "/apis/apps/v1/watch?timeoutSeconds=5"),
])
def test_a_special_verb_with_nothing_after_it_is_an_error(url, message):
    with pytest.raises(RequestInfoError) as caught:
        ask("GET", url)
    assert str(caught.value) == message


@pytest.mark.parametrize("path, parts", [
    ("/", []), ("", []), ("//", []), ("/api", ["api"]), ("/api/v1/", ["api", "v1"]), ("a/b", ["a", "b"]),
    ("/a//b", ["a", "", "b"]),
])
def test_split_path(path, parts):
    assert split_path(path) == parts


@pytest.mark.parametrize("values, expected", [
    (None, False), ([], False), (["false"], False), (["FALSE"], False), (["0"], False), ([""], True),
    (["true"], True), (["1"], True), (["no"], True), (["0", "1"], False),
])
def test_query_bool(values, expected):
    assert query_bool(values) is expected


def test_module_docstring_and_examples():
    assert "Simplifications:" in requestinfo.__doc__
    assert doctest.testmod(requestinfo).failed == 0
