"""RBAC allows and refuses as kube-apiserver's RBAC authorizer does, and says so in its words."""

from __future__ import annotations

import doctest
from urllib.parse import parse_qs, urlsplit

import pytest

from kitlib.apiserver import bootstrappolicy, rbac
from kitlib.apiserver.authn import UserInfo, node_user, service_account_user
from kitlib.apiserver.bootstrappolicy import READ, READ_WRITE, bootstrap_policy
from kitlib.apiserver.rbac import (
    Decision,
    InMemoryRBAC,
    RBACAuthorizer,
    forbidden,
    forbidden_message,
    rule,
    rule_allows,
    subject,
)
from kitlib.apiserver.requestinfo import request_info

AUTH = "system:authenticated"


def ask(method: str, url: str):
    parts = urlsplit(url)
    return request_info(method, parts.path, parse_qs(parts.query, keep_blank_values=True))


def user(name: str, *groups: str) -> UserInfo:
    return UserInfo(name, "", groups)


def role(kind, name, rules, namespace=""):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rules}


def binding(kind, name, role_kind, role_name, subjects, namespace=""):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": subjects}


NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/web"

# --- One rule against one request --------------------------------------------

PODS_READ = rule(READ, [""], ["pods"])
# (rule, method, url, allowed)
RULE_MATCHES = [
    (PODS_READ, "GET", f"{NS}/pods", True),
    (PODS_READ, "GET", "/api/v1/pods", True),
    (PODS_READ, "GET", f"{NS}/pods/web-0", True),
    (PODS_READ, "GET", f"{NS}/pods?watch=1", True),
    (PODS_READ, "GET", f"{NS}/pods/web-0/log", False),  # a subresource is a resource of its own
    (PODS_READ, "POST", f"{NS}/pods", False),
    (PODS_READ, "DELETE", f"{NS}/pods", False),
    (PODS_READ, "GET", f"{NS}/services", False),
    (PODS_READ, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", False),  # same name, other group
    (rule(["*"], [""], ["pods"]), "DELETE", f"{NS}/pods", True),
    (rule(["*"], [""], ["pods"]), "POST", f"{NS}/pods/web-0/eviction", False),
    (rule(["get"], ["*"], ["deployments"]), "GET", f"{APPS}/deployments/front", True),
    (rule(["get"], ["*"], ["deployments"]), "GET", "/apis/extensions/v1beta1/deployments", False),  # a list
    (rule(["get"], [""], ["*"]), "GET", f"{NS}/pods/web-0/log", True),  # "*" covers subresources too
    (rule(["get"], [""], ["*"]), "GET", "/api/v1/nodes/node-1/status", True),
    (rule(["get"], [""], ["*"]), "GET", f"{APPS}/deployments/front", False),
    (rule(["get"], [""], ["pods/log"]), "GET", f"{NS}/pods/web-0/log", True),
    (rule(["get"], [""], ["pods/log"]), "GET", f"{NS}/pods/web-0", False),
    (rule(["get"], [""], ["pods/*"]), "GET", f"{NS}/pods/web-0/log", False),  # no wildcard after the slash
    (rule(["get", "update"], ["apps"], ["*/scale"]), "PUT", f"{APPS}/deployments/front/scale", True),
    (rule(["get", "update"], ["apps"], ["*/scale"]), "GET", f"{APPS}/statefulsets/db/scale", True),
    (rule(["get", "update"], ["apps"], ["*/scale"]), "GET", f"{APPS}/deployments/front", False),
    (rule(["get", "update"], ["apps"], ["*/scale"]), "GET", f"{APPS}/deployments/front/status", False),
    (rule(["get"], [""], ["*/"]), "GET", f"{NS}/pods/web-0", False),
    (rule(["get"], [], ["pods"]), "GET", f"{NS}/pods", False),  # no apiGroups: no group at all
    (rule([], [""], ["pods"]), "GET", f"{NS}/pods", False),
    # resourceNames: only requests that name one of them.
    (rule(["get", "update"], [""], ["configmaps"], ["cfg"]), "GET", f"{NS}/configmaps/cfg", True),
    (rule(["get", "update"], [""], ["configmaps"], ["cfg"]), "PUT", f"{NS}/configmaps/cfg", True),
    (rule(["get", "update"], [""], ["configmaps"], ["cfg"]), "GET", f"{NS}/configmaps/other", False),
    (rule(["list", "watch"], [""], ["configmaps"], ["cfg"]), "GET", f"{NS}/configmaps", False),
    (rule(["list", "watch"], [""], ["configmaps"], ["cfg"]), "GET",
     f"{NS}/configmaps?fieldSelector=metadata.name%3Dcfg", True),
    (rule(["list", "watch"], [""], ["configmaps"], ["cfg"]), "GET",
     f"{NS}/configmaps?fieldSelector=metadata.name%3Dcfg&watch=true", True),
    (rule(["create"], [""], ["configmaps"], ["cfg"]), "POST", f"{NS}/configmaps", False),  # a create has no name
    (rule(["*"], [""], ["configmaps"], ["cfg"]), "DELETE", f"{NS}/configmaps", False),
    # Non-resource URLs: exact, or a prefix with a trailing "*".
    (rule(["get"], urls=["/healthz"]), "GET", "/healthz", True),
    (rule(["get"], urls=["/healthz"]), "GET", "/healthz/etcd", False),
    (rule(["get"], urls=["/healthz"]), "HEAD", "/healthz", False),  # the verb is "head"
    (rule(["get"], urls=["/healthz/*"]), "GET", "/healthz/etcd", True),
    (rule(["get"], urls=["/healthz/*"]), "GET", "/healthz/", True),
    (rule(["get"], urls=["/healthz/*"]), "GET", "/healthz", False),
    (rule(["get"], urls=["/apis/*"]), "GET", "/apis/apps/v1", True),
    (rule(["get"], urls=["/apis/*"]), "GET", "/apis", False),
    (rule(["get"], urls=["/api*"]), "GET", "/apis", True),
    (rule(["get"], urls=["/api*"]), "GET", "/api/v1", True),
    (rule(["get"], urls=["/api**"]), "GET", "/apis", True),  # every trailing "*" goes
    (rule(["get"], urls=["*"]), "GET", "/anything/at/all", True),
    (rule(["*"], urls=["/metrics"]), "POST", "/metrics", True),
    # Resource rules never match non-resource URLs, and the other way round.
    (rule(["get"], ["*"], ["*"]), "GET", "/healthz", False),
    (rule(["get"], urls=["*"]), "GET", f"{NS}/pods/web-0", False),
]


@pytest.mark.parametrize("policy_rule, method, url, allowed", RULE_MATCHES)
def test_rule_allows(policy_rule, method, url, allowed):
    assert rule_allows(ask(method, url), policy_rule) is allowed


# --- Which bindings apply where ----------------------------------------------

SCOPES = InMemoryRBAC([
    role("ClusterRole", "pod-reader", [PODS_READ]),
    role("ClusterRole", "node-reader", [rule(READ, [""], ["nodes"])]),
    role("ClusterRole", "ns-reader", [rule(["get"], [""], ["namespaces"])]),
    role("Role", "deployer", [rule(READ_WRITE, ["apps"], ["deployments"])], "team-a"),
    # A ClusterRole granted by a RoleBinding counts only in the binding's namespace.
    binding("RoleBinding", "read-pods", "ClusterRole", "pod-reader", [subject("User", "alice")], "team-a"),
    binding("RoleBinding", "see-self", "ClusterRole", "ns-reader", [subject("User", "alice")], "team-a"),
    binding("RoleBinding", "deployers", "Role", "deployer", [subject("Group", "devs")], "team-a"),
    binding("ClusterRoleBinding", "read-nodes", "ClusterRole", "node-reader",
            [subject("User", "nobody"), subject("User", "alice")]),
    # Service accounts: named with a namespace, without one (the binding's), or from elsewhere.
    binding("RoleBinding", "sa-explicit", "ClusterRole", "pod-reader",
            [subject("ServiceAccount", "builder", "team-a")], "team-a"),
    binding("RoleBinding", "sa-implicit", "ClusterRole", "pod-reader",
            [{"kind": "ServiceAccount", "name": "bot"}], "team-a"),
    binding("RoleBinding", "sa-foreign", "ClusterRole", "pod-reader",
            [subject("ServiceAccount", "ci", "ci-system")], "team-a"),
    binding("ClusterRoleBinding", "sa-nowhere", "ClusterRole", "node-reader",
            [{"kind": "ServiceAccount", "name": "x"}]),
    binding("ClusterRoleBinding", "sa-group", "ClusterRole", "node-reader",
            [subject("Group", "system:serviceaccounts:team-b")]),
    # Bindings whose role cannot be read.
    binding("RoleBinding", "dangling", "Role", "deployer", [subject("User", "carol")], "team-b"),
    binding("ClusterRoleBinding", "ghost", "ClusterRole", "missing", [subject("Group", "ghosts")]),
    binding("ClusterRoleBinding", "odd", "Foo", "x", [subject("User", "odd")]),
    # Subject kinds RBAC does not know match nobody.
    binding("ClusterRoleBinding", "weird", "ClusterRole", "node-reader", [{"kind": "Robot", "name": "alice"}]),
])
ALICE = user("alice", AUTH)
DAVE = user("dave", "devs", AUTH)
BUILDER = service_account_user("team-a", "builder")

# (user, method, url, allowed)
SCOPE_CASES = [
    (ALICE, "GET", "/api/v1/namespaces/team-a/pods", True),
    (ALICE, "GET", "/api/v1/namespaces/team-a/pods/web-0", True),
    (ALICE, "GET", "/api/v1/namespaces/team-b/pods", False),
    (ALICE, "GET", "/api/v1/pods", False),  # all namespaces is the cluster scope
    (ALICE, "GET", "/api/v1/nodes", True),
    (ALICE, "GET", "/apis/apps/v1/namespaces/team-a/deployments", False),
    (ALICE, "GET", "/api/v1/namespaces/team-a", True),  # reads its own namespace through the RoleBinding
    (ALICE, "GET", "/api/v1/namespaces/team-b", False),
    (ALICE, "GET", "/api/v1/namespaces", False),
    (DAVE, "POST", "/apis/apps/v1/namespaces/team-a/deployments", True),
    (DAVE, "DELETE", "/apis/apps/v1/namespaces/team-a/deployments", True),
    (DAVE, "POST", "/apis/apps/v1/namespaces/team-b/deployments", False),
    (DAVE, "GET", "/api/v1/namespaces/team-a/pods", False),
    (user("mallory", AUTH), "GET", "/api/v1/namespaces/team-a/pods", False),
    (BUILDER, "GET", "/api/v1/namespaces/team-a/pods", True),
    (BUILDER, "GET", "/api/v1/namespaces/team-b/pods", False),
    (BUILDER, "GET", "/api/v1/nodes", False),
    (service_account_user("team-a", "bot"), "GET", "/api/v1/namespaces/team-a/pods", True),
    (service_account_user("team-b", "bot"), "GET", "/api/v1/namespaces/team-a/pods", False),
    (service_account_user("ci-system", "ci"), "GET", "/api/v1/namespaces/team-a/pods", True),
    (service_account_user("team-b", "x"), "GET", "/api/v1/nodes", True),  # through the group of its namespace
    (service_account_user("default", "x"), "GET", "/api/v1/nodes", False),  # a nameless SA subject is nobody
    (user("system:serviceaccount:team-a:builder"), "GET", "/api/v1/namespaces/team-a/pods", True),  # by name alone
    (user("builder", AUTH), "GET", "/api/v1/namespaces/team-a/pods", False),
    (user("carol", AUTH), "GET", "/apis/apps/v1/namespaces/team-b/deployments", False),
    (user("odd"), "GET", "/api/v1/nodes", False),
]


@pytest.mark.parametrize("who, method, url, allowed", SCOPE_CASES)
def test_binding_scopes(who, method, url, allowed):
    assert RBACAuthorizer(SCOPES).authorize(who, ask(method, url)).allowed is allowed


# (user, method, url, decision): the reason names the binding that allowed, or what could not be read.
DECISIONS = [
    (ALICE, "GET", "/api/v1/namespaces/team-a/pods",
     Decision(True, 'RBAC: allowed by RoleBinding "read-pods/team-a" of ClusterRole "pod-reader" to User "alice"')),
    (ALICE, "GET", "/api/v1/nodes/node-1",
     Decision(True, 'RBAC: allowed by ClusterRoleBinding "read-nodes" of ClusterRole "node-reader" '
                    'to User "alice"')),
    (DAVE, "PUT", "/apis/apps/v1/namespaces/team-a/deployments/web",
     Decision(True, 'RBAC: allowed by RoleBinding "deployers/team-a" of Role "deployer" to Group "devs"')),
    (service_account_user("team-a", "bot"), "GET", "/api/v1/namespaces/team-a/pods",
     Decision(True, 'RBAC: allowed by RoleBinding "sa-implicit/team-a" of ClusterRole "pod-reader" '
                    'to ServiceAccount "bot/team-a"')),
    (service_account_user("ci-system", "ci"), "GET", "/api/v1/namespaces/team-a/pods",
     Decision(True, 'RBAC: allowed by RoleBinding "sa-foreign/team-a" of ClusterRole "pod-reader" '
                    'to ServiceAccount "ci/ci-system"')),
    (ALICE, "DELETE", "/api/v1/nodes/node-1", Decision(False, "")),
    (user("carol"), "GET", "/apis/apps/v1/namespaces/team-b/deployments",
     Decision(False, 'RBAC: role.rbac.authorization.k8s.io "deployer" not found')),
    (user("carol"), "GET", "/api/v1/nodes", Decision(False, "")),  # RoleBindings are not read for cluster scope
    (user("g", "ghosts"), "GET", "/api/v1/nodes",
     Decision(False, 'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found')),
    (user("carol", "ghosts"), "GET", "/api/v1/namespaces/team-b/pods",
     Decision(False, 'RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, '
                     'role.rbac.authorization.k8s.io "deployer" not found]')),
    (user("odd"), "GET", "/api/v1/nodes", Decision(False, 'RBAC: unsupported role reference kind: "Foo"')),
    # system:masters is allowed before RBAC is consulted at all.
    (user("root", "system:masters"), "DELETE", "/api/v1/nodes/node-1", Decision(True, "")),
    (user("root", "system:masters"), "POST", "/metrics", Decision(True, "")),
]


@pytest.mark.parametrize("who, method, url, decision", DECISIONS)
def test_decisions_and_reasons(who, method, url, decision):
    assert RBACAuthorizer(SCOPES).authorize(who, ask(method, url)) == decision


def test_privileged_groups_can_be_changed():
    root = user("root", "system:masters")
    assert not RBACAuthorizer(SCOPES, privileged_groups=()).authorize(root, ask("GET", "/api/v1/nodes")).allowed
    assert RBACAuthorizer(InMemoryRBAC(), privileged_groups=["wheel"]).authorize(
        user("x", "wheel"), ask("GET", "/api/v1/nodes")).allowed


def test_cluster_role_bindings_are_visited_first():
    source = InMemoryRBAC([
        role("ClusterRole", "pod-reader", [PODS_READ]),
        binding("RoleBinding", "local", "ClusterRole", "pod-reader", [subject("User", "alice")], "default"),
        binding("ClusterRoleBinding", "global", "ClusterRole", "pod-reader", [subject("User", "alice")]),
    ])
    reason = RBACAuthorizer(source).authorize(ALICE, ask("GET", f"{NS}/pods")).reason
    assert reason == 'RBAC: allowed by ClusterRoleBinding "global" of ClusterRole "pod-reader" to User "alice"'


def test_rules_for():
    rules, errors = RBACAuthorizer(SCOPES).rules_for(user("carol", "ghosts"), "team-b")
    assert rules == []
    assert errors == ['clusterrole.rbac.authorization.k8s.io "missing" not found',
                      'role.rbac.authorization.k8s.io "deployer" not found']
    rules, errors = RBACAuthorizer(SCOPES).rules_for(ALICE, "team-a")
    assert rules == [rule(READ, [""], ["nodes"]), PODS_READ, rule(["get"], [""], ["namespaces"])] and errors == []


def test_in_memory_source_put_and_delete():
    source = InMemoryRBAC()
    source.put(role("Role", "r", [PODS_READ], "a"))
    source.put(role("Role", "r", [], "b"))
    source.put(binding("RoleBinding", "rb", "Role", "r", [subject("User", "alice")], "a"))
    assert source.get_role("a", "r")["rules"] == [PODS_READ] and source.get_role("b", "r")["rules"] == []
    assert [b["metadata"]["name"] for b in source.list_role_bindings("a")] == ["rb"]
    assert RBACAuthorizer(source).authorize(ALICE, ask("GET", "/api/v1/namespaces/a/pods")).allowed
    source.delete("Role", "r", "a")
    assert source.get_role("a", "r") is None
    assert not RBACAuthorizer(source).authorize(ALICE, ask("GET", "/api/v1/namespaces/a/pods")).allowed


# --- What a refused client reads ----------------------------------------------

# (user name, method, url, reason, the message kube-apiserver sends)
FORBIDDEN_MESSAGES = [
    ("alice", "GET", f"{NS}/pods", "",
     'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"'),
    ("alice", "GET", f"{NS}/pods?watch=true", "",
     'pods is forbidden: User "alice" cannot watch resource "pods" in API group "" in the namespace "default"'),
    ("alice", "GET", "/api/v1/pods", "",
     'pods is forbidden: User "alice" cannot list resource "pods" in API group "" at the cluster scope'),
    ("alice", "GET", f"{NS}/pods/web-0", "",
     'pods "web-0" is forbidden: User "alice" cannot get resource "pods" in API group "" '
     'in the namespace "default"'),
    ("alice", "GET", f"{NS}/pods/web-0/log", "",
     'pods "web-0" is forbidden: User "alice" cannot get resource "pods/log" in API group "" '
     'in the namespace "default"'),
    ("alice", "POST", f"{NS}/pods/web-0/eviction", "",
     'pods "web-0" is forbidden: User "alice" cannot create resource "pods/eviction" in API group "" '
     'in the namespace "default"'),
    ("alice", "GET", "/api/v1/nodes", "",
     'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope'),
    ("system:node:node-1", "DELETE", "/api/v1/nodes/node-2", "",
     'nodes "node-2" is forbidden: User "system:node:node-1" cannot delete resource "nodes" in API group "" '
     'at the cluster scope'),
    ("alice", "PATCH", "/api/v1/nodes/node-1/status", "",
     'nodes "node-1" is forbidden: User "alice" cannot patch resource "nodes/status" in API group "" '
     'at the cluster scope'),
    ("alice", "PUT", f"{APPS}/deployments/front/scale", "",
     'deployments.apps "front" is forbidden: User "alice" cannot update resource "deployments/scale" '
     'in API group "apps" in the namespace "web"'),
    ("alice", "DELETE", f"{APPS}/deployments", "",
     'deployments.apps is forbidden: User "alice" cannot deletecollection resource "deployments" '
     'in API group "apps" in the namespace "web"'),
    ("alice", "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "",
     'clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "alice" cannot create resource '
     '"clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope'),
    ("alice", "GET", "/api/v1/namespaces/team-b", "",
     'namespaces "team-b" is forbidden: User "alice" cannot get resource "namespaces" in API group "" '
     'in the namespace "team-b"'),
    ("alice", "POST", "/api/v1/namespaces", "",
     'namespaces is forbidden: User "alice" cannot create resource "namespaces" in API group "" '
     'at the cluster scope'),
    ("alice", "GET", f"{NS}/secrets?fieldSelector=metadata.name%3Dtoken", "",
     'secrets "token" is forbidden: User "alice" cannot list resource "secrets" in API group "" '
     'in the namespace "default"'),
    ("carol", "GET", "/apis/apps/v1/namespaces/team-b/deployments",
     'RBAC: role.rbac.authorization.k8s.io "deployer" not found',
     'deployments.apps is forbidden: User "carol" cannot list resource "deployments" in API group "apps" '
     'in the namespace "team-b": RBAC: role.rbac.authorization.k8s.io "deployer" not found'),
    ("alice", "GET", "/foo", "", 'forbidden: User "alice" cannot get path "/foo"'),
    ("alice", "POST", "/metrics", "", 'forbidden: User "alice" cannot post path "/metrics"'),
    ("alice", "GET", "/apis/apps/v1", "", 'forbidden: User "alice" cannot get path "/apis/apps/v1"'),
    # HTML-looking text is escaped in the message (not in the reason); names are quoted as Go's %q.
    ("alice", "GET", "/<b>&", "<i>", 'forbidden: User "alice" cannot get path "/&lt;b&gt;&amp;": <i>'),
    ('we"ird', "GET", "/x", "", 'forbidden: User "we\\"ird" cannot get path "/x"'),
]


@pytest.mark.parametrize("name, method, url, reason, message", FORBIDDEN_MESSAGES)
def test_forbidden_messages(name, method, url, reason, message):
    assert forbidden(user(name), ask(method, url), reason).message == message


def test_forbidden_status_bodies():
    head = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    err = forbidden(ALICE, ask("PUT", f"{APPS}/deployments/front/scale"))
    assert err.status() == {**head, "message": err.message, "reason": "Forbidden",
                            "details": {"name": "front", "group": "apps", "kind": "deployments"}, "code": 403}
    err = forbidden(ALICE, ask("GET", f"{NS}/pods"))
    assert err.status()["details"] == {"kind": "pods"}
    err = forbidden(ALICE, ask("GET", "/metrics"))
    assert err.status() == {**head, "message": 'forbidden: User "alice" cannot get path "/metrics"',
                            "reason": "Forbidden", "details": {}, "code": 403}


def test_forbidden_message_without_a_user():
    assert forbidden_message(None, ask("GET", "/x")) == 'User "" cannot get path "/x"'


# --- The bootstrap policy -------------------------------------------------------

ROOT = user("kubernetes-admin", "system:masters", AUTH)
NODE = UserInfo(node_user("node-1").name, "", ("system:nodes", AUTH))
SCHEDULER = user("system:kube-scheduler", AUTH)
KCM = user("system:kube-controller-manager", AUTH)
PROXY = user("system:kube-proxy", AUTH)
VIEWER, EDITOR, ADMIN = user("vera", AUTH), user("ed", AUTH), user("ada", AUTH)
TEAM = "/api/v1/namespaces/team-a"
TEAM_APPS = "/apis/apps/v1/namespaces/team-a"
LEASES = "/apis/coordination.k8s.io/v1/namespaces"


def bootstrapped(*extra):
    return RBACAuthorizer(InMemoryRBAC([*bootstrap_policy(), *extra]))


# What `kubectl` asks before anything else, allowed to any authenticated user.
KUBECTL_DISCOVERY = [
    ("GET", "/api"), ("GET", "/api/v1"), ("GET", "/apis"), ("GET", "/apis/apps/v1"),
    ("GET", "/apis/coordination.k8s.io/v1"), ("GET", "/openapi/v2"), ("GET", "/openapi/v3"),
    ("GET", "/openapi/v3/apis/apps/v1"), ("GET", "/openapi/v3/api/v1"), ("GET", "/version"), ("GET", "/version/"),
    ("GET", "/healthz"), ("GET", "/livez"), ("GET", "/readyz"),
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),  # kubectl auth can-i
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"),  # kubectl auth can-i --list
    ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews"),  # kubectl auth whoami
]


@pytest.mark.parametrize("method, url", KUBECTL_DISCOVERY)
def test_kubectl_discovery_is_allowed_to_any_authenticated_user(method, url):
    assert bootstrapped().authorize(user("alice", AUTH), ask(method, url)).allowed


# (user, method, url, allowed)
BOOTSTRAP_CASES = [
    # Authenticated, and nothing more.
    (user("alice", AUTH), "GET", "/metrics", False),
    (user("alice", AUTH), "HEAD", "/healthz", False),  # the verb is "head"; the roles grant "get"
    (user("alice", AUTH), "GET", f"{NS}/pods", False),
    (user("alice", AUTH), "GET", "/api/v1/namespaces", False),
    (user("alice"), "GET", "/version", False),  # without system:authenticated: nothing at all
    (user("system:anonymous", "system:unauthenticated"), "GET", "/version", True),  # public info only
    (user("system:anonymous", "system:unauthenticated"), "GET", "/api", False),
    # cluster-admin, through system:masters.
    (ROOT, "DELETE", "/api/v1/nodes/node-1", True),
    (ROOT, "GET", "/metrics", True),
    (ROOT, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", True),
    # A kubelet.
    (NODE, "POST", "/api/v1/nodes", True),
    (NODE, "GET", "/api/v1/nodes/node-1", True),
    (NODE, "PATCH", "/api/v1/nodes/node-1/status", True),
    (NODE, "PUT", "/api/v1/nodes/node-1/status", True),
    (NODE, "PUT", "/api/v1/nodes/node-2/status", True),  # RBAC cannot say "its own": the Node authorizer can
    (NODE, "DELETE", "/api/v1/nodes/node-2", False),
    (NODE, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&watch=true", True),
    (NODE, "PATCH", f"{NS}/pods/web-0/status", True),
    (NODE, "PUT", f"{NS}/pods/web-0", False),
    (NODE, "POST", f"{NS}/pods/web-0/eviction", True),
    (NODE, "GET", f"{NS}/secrets/token", True),
    (NODE, "GET", f"{NS}/configmaps?fieldSelector=metadata.name%3Dcfg&watch=1", True),
    (NODE, "POST", f"{NS}/secrets", False),
    (NODE, "POST", f"{NS}/events", True),
    (NODE, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", True),
    (NODE, "GET", "/api/v1/services", True),
    (NODE, "PUT", f"{LEASES}/kube-node-lease/leases/node-1", True),
    (NODE, "POST", f"{LEASES}/kube-node-lease/leases", True),
    (NODE, "PUT", f"{LEASES}/kube-system/leases/kube-scheduler", False),
    (NODE, "DELETE", f"{APPS}/deployments/front", False),
    (NODE, "DELETE", f"{APPS}/deployments", False),
    (NODE, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", False),
    # The scheduler.
    (SCHEDULER, "POST", f"{NS}/pods/web-0/binding", True),
    (SCHEDULER, "POST", f"{NS}/bindings", True),
    (SCHEDULER, "GET", "/api/v1/pods?watch=true", True),
    (SCHEDULER, "GET", "/api/v1/nodes", True),
    (SCHEDULER, "DELETE", f"{NS}/pods/web-0", True),  # preemption
    (SCHEDULER, "PUT", f"{NS}/pods/web-0", False),
    (SCHEDULER, "PATCH", f"{NS}/pods/web-0/status", True),
    (SCHEDULER, "POST", f"{LEASES}/kube-system/leases", True),
    (SCHEDULER, "PUT", f"{LEASES}/kube-system/leases/kube-scheduler", True),
    (SCHEDULER, "PUT", f"{LEASES}/kube-system/leases/kube-controller-manager", False),
    (SCHEDULER, "GET", "/apis/apps/v1/replicasets", True),
    (SCHEDULER, "DELETE", "/api/v1/nodes/node-1", False),
    # The controller manager: broad.
    (KCM, "GET", "/apis/batch/v1/jobs?watch=1", True),
    (KCM, "POST", f"{NS}/pods", True),
    (KCM, "POST", f"{TEAM_APPS}/replicasets", True),
    (KCM, "POST", f"{TEAM_APPS}/controllerrevisions", True),
    (KCM, "POST", "/apis/batch/v1/namespaces/default/jobs", True),
    (KCM, "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", True),
    (KCM, "PUT", f"{TEAM_APPS}/deployments/front/status", True),
    (KCM, "PATCH", "/api/v1/nodes/node-1", True),
    (KCM, "DELETE", f"{NS}/pods/web-0", True),
    (KCM, "DELETE", f"{NS}/configmaps", True),
    (KCM, "PUT", f"{LEASES}/kube-system/leases/kube-controller-manager", True),
    (KCM, "POST", f"{NS}/secrets", False),
    (KCM, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", False),
    (KCM, "GET", "/metrics", False),
    # kube-proxy.
    (PROXY, "GET", "/api/v1/services?watch=true", True),
    (PROXY, "GET", "/apis/discovery.k8s.io/v1/endpointslices", True),
    (PROXY, "GET", "/api/v1/nodes/node-1", True),
    (PROXY, "POST", f"{NS}/services", False),
    # view / edit / admin, given in team-a by RoleBindings.
    (VIEWER, "GET", f"{TEAM}/pods", True),
    (VIEWER, "GET", f"{TEAM}/pods/web-0/log", True),
    (VIEWER, "GET", f"{TEAM_APPS}/deployments/front/scale", True),
    (VIEWER, "GET", f"{TEAM}", True),
    (VIEWER, "GET", f"{TEAM}/secrets", False),
    (VIEWER, "POST", f"{TEAM}/pods", False),
    (VIEWER, "POST", f"{TEAM}/pods/web-0/exec", False),
    (VIEWER, "GET", "/api/v1/namespaces/team-b/pods", False),
    (VIEWER, "GET", "/api/v1/namespaces", False),
    (VIEWER, "GET", "/api/v1/nodes", False),
    (EDITOR, "POST", f"{TEAM_APPS}/deployments", True),
    (EDITOR, "PUT", f"{TEAM_APPS}/deployments/front/scale", True),
    (EDITOR, "DELETE", f"{TEAM}/pods", True),
    (EDITOR, "GET", f"{TEAM}/secrets/token", True),
    (EDITOR, "POST", f"{TEAM}/pods/web-0/exec", True),
    (EDITOR, "PUT", f"{TEAM}/pods/web-0/status", False),
    (EDITOR, "PUT", f"{TEAM}/endpoints/web", False),
    (EDITOR, "PUT", f"{TEAM}/resourcequotas/q", False),
    (EDITOR, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings", False),
    (EDITOR, "POST", "/apis/apps/v1/namespaces/team-b/deployments", False),
    (ADMIN, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings", True),
    (ADMIN, "DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles/r", True),
    (ADMIN, "POST", "/apis/authorization.k8s.io/v1/namespaces/team-a/localsubjectaccessreviews", True),
    (ADMIN, "POST", f"{TEAM_APPS}/deployments", True),
    (ADMIN, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-b/rolebindings", False),
    (ADMIN, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", False),
    (ADMIN, "DELETE", f"{TEAM}", False),
]
TEAM_BINDINGS = [binding("RoleBinding", name, "ClusterRole", name, [subject("User", who.name)], "team-a")
                 for name, who in (("view", VIEWER), ("edit", EDITOR), ("admin", ADMIN))]


@pytest.mark.parametrize("who, method, url, allowed", BOOTSTRAP_CASES)
def test_bootstrap_roles(who, method, url, allowed):
    assert bootstrapped(*TEAM_BINDINGS).authorize(who, ask(method, url)).allowed is allowed


def test_a_node_may_not_delete_deployments_and_is_told_so():
    info = ask("DELETE", f"{APPS}/deployments/front")
    decision = bootstrapped().authorize(NODE, info)
    assert decision == Decision(False, "")
    assert forbidden(NODE, info, decision.reason).message == (
        'deployments.apps "front" is forbidden: User "system:node:node-1" cannot delete resource "deployments" '
        'in API group "apps" in the namespace "web"')


def test_masters_keep_everything_without_the_cluster_admin_binding():
    source = InMemoryRBAC(bootstrap_policy())
    source.delete("ClusterRoleBinding", "cluster-admin")
    assert RBACAuthorizer(source).authorize(ROOT, ask("DELETE", "/api/v1/nodes/node-1")).allowed
    # Any other user bound to cluster-admin gets everything too, through RBAC.
    source.put(binding("ClusterRoleBinding", "root", "ClusterRole", "cluster-admin", [subject("User", "root")]))
    decision = RBACAuthorizer(source).authorize(user("root"), ask("POST", "/metrics"))
    assert decision == Decision(True, 'RBAC: allowed by ClusterRoleBinding "root" of ClusterRole "cluster-admin" '
                                      'to User "root"')


def test_bootstrap_policy_is_well_formed():
    objects = bootstrap_policy()
    keys = [(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys))
    names = {(kind, ns, name) for kind, ns, name in keys}
    for obj in objects:
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert obj["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
        if obj["kind"] in ("Role", "ClusterRole"):
            for r in obj["rules"]:
                assert r["verbs"] and set(r) <= {"verbs", "apiGroups", "resources", "resourceNames",
                                                 "nonResourceURLs"}
                assert ("nonResourceURLs" in r) != ("resources" in r)
                assert obj["kind"] == "ClusterRole" or "nonResourceURLs" not in r
        else:
            ref = obj["roleRef"]
            ns = obj["metadata"].get("namespace", "") if ref["kind"] == "Role" else ""
            assert (ref["kind"], ns, ref["name"]) in names, f"{obj['metadata']['name']} binds a missing role"
            assert obj["subjects"]
    # Every binding can be read without errors, for everyone it names.
    authorizer = bootstrapped()
    for obj in objects:
        for s in obj.get("subjects", ()):
            who = user(s["name"], s["name"]) if s["kind"] == "Group" else user(s["name"])
            for ns in ("", "kube-node-lease"):
                assert authorizer.rules_for(who, ns)[1] == []


def test_bootstrap_policy_returns_new_objects_every_time():
    first = bootstrap_policy()
    first[0]["rules"].clear()
    first[0]["metadata"]["labels"]["x"] = "y"
    assert bootstrap_policy()[0]["rules"] and "x" not in bootstrap_policy()[0]["metadata"]["labels"]


def test_rule_and_subject_helpers_spell_objects_as_kubernetes():
    assert rule(["get"], [""], ["pods"], ["a"]) == {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"],
                                                    "resourceNames": ["a"]}
    assert list(rule(["get"], urls=["/x"])) == ["verbs", "nonResourceURLs"]
    assert subject("User", "alice") == {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}
    assert subject("ServiceAccount", "b", "ns") == {"kind": "ServiceAccount", "name": "b", "namespace": "ns"}


@pytest.mark.parametrize("module", [rbac, bootstrappolicy])
def test_module_docstring_and_examples(module):
    assert "Simplifications:" in module.__doc__
    assert doctest.testmod(module).failed == 0
