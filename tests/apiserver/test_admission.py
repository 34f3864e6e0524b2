"""The admission chain and its plugins: NamespaceLifecycle and ServiceAccount, with kube's errors."""

from __future__ import annotations

import random

import pytest

from kitlib.api.errors import Forbidden, NotFound
from kitlib.apiserver.admission import (
    APISERVER_USER,
    CONNECT,
    CREATE,
    DELETE,
    UPDATE,
    Attributes,
    Chain,
    NamespaceLifecycle,
    ServiceAccount,
    default_chain,
    ensure_default_service_account,
    ensure_kubernetes_service,
)
from kitlib.apiserver.allocator import PortAllocator, ServiceIPAllocator
from kitlib.apiserver.authn import UserInfo
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import lookup
from kitlib.apiserver.service_allocation import ServiceAllocation
from kitlib.clock import FakeClock
from kitlib.store import open_store

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
NAMESPACES = lookup("", "v1", "namespaces")
SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
CONFIGMAPS = lookup("", "v1", "configmaps")
ALICE = UserInfo("alice", "", ("system:authenticated",))


@pytest.fixture
def registry():
    store = open_store("memory://", lessor=False)
    registry = Registry(store, clock=FakeClock(), rng=random.Random(1))
    for name, phase in (("default", "Active"), ("kube-system", "Active"), ("dev", "Active"), ("going", "Terminating")):
        registry.create(NAMESPACES, {"metadata": {"name": name}, "status": {"phase": phase}})
    yield registry
    store.close()


def pod(name="web", **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


# --- NamespaceLifecycle ------------------------------------------------------------------------

TERMINATING = "unable to create new content in namespace going because it is being terminated"


@pytest.mark.parametrize(
    "operation, resource, namespace, name, error, code, message",
    [
        (CREATE, PODS, "dev", "web", None, 0, ""),
        (CREATE, PODS, "missing", "web", NotFound, 404, 'namespaces "missing" not found'),
        (UPDATE, PODS, "missing", "web", NotFound, 404, 'namespaces "missing" not found'),
        (CONNECT, PODS, "missing", "web", NotFound, 404, 'namespaces "missing" not found'),
        (DELETE, PODS, "missing", "web", None, 0, ""),  # deletes always pass
        (CREATE, PODS, "going", "web", Forbidden, 403, f'pods "web" is forbidden: {TERMINATING}'),
        (CREATE, PODS, "going", "", Forbidden, 403, f"pods is forbidden: {TERMINATING}"),  # generateName
        (UPDATE, PODS, "going", "web", None, 0, ""),  # content of a terminating namespace may change
        (DELETE, PODS, "going", "web", None, 0, ""),  # ... and must be deletable
        (CREATE, NODES, "", "n1", None, 0, ""),  # cluster-scoped
        (CREATE, NAMESPACES, "", "new", None, 0, ""),
        (DELETE, NAMESPACES, "", "dev", None, 0, ""),
        (DELETE, NAMESPACES, "", "default", Forbidden, 403,
         'namespaces "default" is forbidden: this namespace may not be deleted'),
        (DELETE, NAMESPACES, "", "kube-system", Forbidden, 403,
         'namespaces "kube-system" is forbidden: this namespace may not be deleted'),
        (DELETE, NAMESPACES, "", "kube-public", Forbidden, 403,
         'namespaces "kube-public" is forbidden: this namespace may not be deleted'),
        (DELETE, NAMESPACES, "", "kube-node-lease", None, 0, ""),  # not immortal
    ],
    ids=["create", "create-missing", "update-missing", "connect-missing", "delete-missing", "create-terminating",
         "generate-name-terminating", "update-terminating", "delete-terminating", "cluster-scoped", "create-namespace",
         "delete-namespace", "delete-default", "delete-kube-system", "delete-kube-public", "delete-kube-node-lease"],
)
def test_namespace_lifecycle(registry, operation, resource, namespace, name, error, code, message):
    plugin = NamespaceLifecycle(registry)
    obj = {"metadata": {"name": name}} if operation != DELETE else None
    attrs = Attributes(operation, resource, namespace, name, obj, user=ALICE)
    if error is None:
        plugin.admit(attrs)
        plugin.validate(attrs)
        return
    with pytest.raises(error) as info:
        plugin.admit(attrs)
    status = info.value.status()
    assert (status["code"], status["message"]) == (code, message)


def test_terminating_namespace_refusal_carries_kube_cause(registry):
    attrs = Attributes(CREATE, CONFIGMAPS, "going", "settings", {"metadata": {"name": "settings"}})
    with pytest.raises(Forbidden) as info:
        NamespaceLifecycle(registry).admit(attrs)
    assert info.value.status()["details"] == {
        "name": "settings", "kind": "configmaps",
        "causes": [{"reason": "NamespaceTerminating", "message": "namespace going is being terminated",
                    "field": "metadata.namespace"}],
    }
    assert info.value.status()["reason"] == "Forbidden"


def test_namespace_comes_from_the_object_when_the_request_has_none(registry):
    attrs = Attributes(CREATE, PODS, "", "web", {"metadata": {"name": "web", "namespace": "missing"}})
    with pytest.raises(NotFound, match='namespaces "missing" not found'):
        NamespaceLifecycle(registry).admit(attrs)


# --- ServiceAccount ------------------------------------------------------------------------------

LOOKUP = "error looking up service account"


@pytest.mark.parametrize(
    "namespace, spec, accounts, expected, message",
    [
        ("default", {}, ["default"], {"serviceAccountName": "default", "serviceAccount": "default"}, ""),
        ("dev", {"serviceAccountName": "builder"}, ["builder"],
         {"serviceAccountName": "builder", "serviceAccount": "builder"}, ""),
        ("dev", {"serviceAccount": "builder"}, ["builder"],  # the deprecated spelling is read, and both are served
         {"serviceAccountName": "builder", "serviceAccount": "builder"}, ""),
        ("dev", {"serviceAccountName": "a", "serviceAccount": "b"}, ["a"],
         {"serviceAccountName": "a", "serviceAccount": "a"}, ""),
        ("dev", {}, [], None, f'pods "web" is forbidden: {LOOKUP} dev/default: serviceaccount "default" not found'),
        ("dev", {"serviceAccountName": "ghost"}, ["default"], None,
         f'pods "web" is forbidden: {LOOKUP} dev/ghost: serviceaccount "ghost" not found'),
    ],
    ids=["default", "named", "deprecated-field", "new-field-wins", "no-default-account", "missing-account"],
)
def test_service_account(registry, namespace, spec, accounts, expected, message):
    for name in accounts:
        registry.create(SERVICE_ACCOUNTS, {"metadata": {"name": name}}, namespace)
    attrs = Attributes(CREATE, PODS, namespace, "web", pod(**spec), user=ALICE)
    plugin = ServiceAccount(registry)
    if expected is None:
        with pytest.raises(Forbidden) as info:
            plugin.admit(attrs)
        assert info.value.status()["message"] == message and info.value.code == 403
        return
    plugin.admit(attrs)
    plugin.validate(attrs)
    assert {k: attrs.object["spec"].get(k) for k in expected} == expected


def test_service_account_image_pull_secrets_are_copied_unless_the_pod_has_some(registry):
    registry.create(SERVICE_ACCOUNTS, {"metadata": {"name": "default"},
                                       "imagePullSecrets": [{"name": "regcred"}]}, "dev")
    plugin = ServiceAccount(registry)
    bare = Attributes(CREATE, PODS, "dev", "a", pod("a"))
    own = Attributes(CREATE, PODS, "dev", "b", pod("b", imagePullSecrets=[{"name": "mine"}]))
    plugin.admit(bare)
    plugin.admit(own)
    assert bare.object["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert own.object["spec"]["imagePullSecrets"] == [{"name": "mine"}]


MIRROR = {"kubernetes.io/config.mirror": "abc123"}


@pytest.mark.parametrize(
    "attrs_args, message",
    [
        # Only Pod creates are touched: updates, subresources and other kinds pass unchanged.
        ((UPDATE, PODS, "dev", "web", pod(serviceAccountName="ghost")), ""),
        ((CREATE, PODS, "dev", "web", pod(serviceAccountName="ghost"), None, "binding"), ""),
        ((CREATE, CONFIGMAPS, "dev", "web", {"metadata": {"name": "web"}}), ""),
        # A mirror Pod is left as its kubelet wrote it, and may not name an account.
        ((CREATE, PODS, "dev", "web", {**pod(), "metadata": {"name": "web", "annotations": MIRROR}}), ""),
        ((CREATE, PODS, "dev", "web", {**pod(serviceAccountName="x"), "metadata": {"name": "web", "annotations": MIRROR}}),
         'pods "web" is forbidden: a mirror pod may not reference service accounts'),
    ],
    ids=["update", "subresource", "configmap", "mirror-pod", "mirror-pod-with-account"],
)
def test_service_account_leaves_alone(registry, attrs_args, message):
    attrs = Attributes(*attrs_args)
    before = repr(attrs.object)
    plugin = ServiceAccount(registry)
    plugin.admit(attrs)
    assert repr(attrs.object) == before
    if message:
        with pytest.raises(Forbidden, match=message):
            plugin.validate(attrs)
    else:
        plugin.validate(attrs)


def test_validate_refuses_a_pod_whose_account_vanished(registry):
    registry.create(SERVICE_ACCOUNTS, {"metadata": {"name": "default"}}, "dev")
    attrs = Attributes(CREATE, PODS, "dev", "web", pod())
    plugin = ServiceAccount(registry)
    plugin.admit(attrs)
    registry.delete(SERVICE_ACCOUNTS, "dev", "default")
    with pytest.raises(Forbidden, match='serviceaccount "default" not found'):
        plugin.validate(attrs)


def test_ensure_default_service_account_is_idempotent(registry):
    first = ensure_default_service_account(registry, "dev")
    assert first["metadata"]["name"] == "default" and first["metadata"]["namespace"] == "dev"
    assert ensure_default_service_account(registry, "dev")["metadata"]["uid"] == first["metadata"]["uid"]
    assert [sa["metadata"]["name"] for sa in registry.list(SERVICE_ACCOUNTS, "dev")["items"]] == ["default"]


# --- the chain ------------------------------------------------------------------------------------


class Recorder:
    def __init__(self, name, log, refuse_in=""):
        self.name, self.log, self.refuse_in = name, log, refuse_in

    def admit(self, attrs):
        self.log.append(f"admit {self.name}")
        attrs.object.setdefault("seen", []).append(self.name)  # mutating plugins see each other's changes
        if self.refuse_in == "admit":
            raise Forbidden("pods", "web", f"{self.name} says no")

    def validate(self, attrs):
        self.log.append(f"validate {self.name}")
        if self.refuse_in == "validate":
            raise Forbidden("pods", "web", f"{self.name} says no")

    def finish(self, attrs, succeeded):
        self.log.append(f"finish {self.name} {succeeded}")


class NoFinish:
    name = "plain"

    def admit(self, attrs):
        pass

    def validate(self, attrs):
        pass


@pytest.mark.parametrize(
    "refuse, expected",
    [
        ({}, ["admit a", "admit b", "validate a", "validate b"]),
        ({"b": "validate"}, ["admit a", "admit b", "validate a", "validate b", "finish b False", "finish a False"]),
        ({"a": "admit"}, ["admit a", "finish b False", "finish a False"]),
    ],
    ids=["all-agree", "validation-refuses", "admission-refuses"],
)
def test_chain_order(refuse, expected):
    log: list[str] = []
    chain = Chain([Recorder("a", log, refuse.get("a", "")), NoFinish(), Recorder("b", log, refuse.get("b", ""))])
    attrs = Attributes(CREATE, PODS, "dev", "web", {"metadata": {"name": "web"}})
    if refuse:
        with pytest.raises(Forbidden):
            chain.run(attrs)
    else:
        assert chain.run(attrs)["seen"] == ["a", "b"]
    assert log == expected


def test_object_validation_runs_between_the_phases():
    log: list[str] = []
    chain = Chain([Recorder("a", log)])

    def check(attrs):
        log.append("check")
        raise Forbidden("pods", "web", "spec is invalid")

    with pytest.raises(Forbidden):
        chain.run(Attributes(CREATE, PODS, "dev", "web", {"metadata": {"name": "web"}}), check)
    assert log == ["admit a", "check", "finish a False"]


def test_session_finishes_the_last_attempt_by_outcome():
    log: list[str] = []
    chain = Chain([Recorder("a", log)])

    def attempt():
        return Attributes(UPDATE, PODS, "dev", "web", {"metadata": {"name": "web"}})

    with chain.session() as session:  # an update that lost one race, then won
        session.run(attempt())
        session.run(attempt())
    assert [e for e in log if e.startswith("finish")] == ["finish a False", "finish a True"]
    log.clear()
    with pytest.raises(RuntimeError), chain.session() as session:  # the store write failed
        session.run(attempt())
        raise RuntimeError("etcd went away")
    assert [e for e in log if e.startswith("finish")] == ["finish a False"]


def test_a_failing_finish_does_not_stop_the_others(caplog):
    log: list[str] = []

    class Broken(Recorder):
        def finish(self, attrs, succeeded):
            raise RuntimeError("boom")

    chain = Chain([Recorder("a", log), Broken("b", log)])
    chain.finish(Attributes(CREATE, PODS, "dev", "web", {}), succeeded=False)
    assert log == ["finish a False"] and "failed to finish" in caplog.text


def test_default_chain_runs_the_kit_plugins_in_order(registry):
    ensure_default_service_account(registry, "dev")
    chain = default_chain(registry)
    assert [p.name for p in chain.plugins] == ["NamespaceLifecycle", "ServiceAccount"]
    admitted = chain.run(Attributes(CREATE, PODS, "dev", "web", pod(), user=ALICE))
    assert admitted["spec"]["serviceAccountName"] == "default"
    with pytest.raises(NotFound):  # the namespace check comes first, before the account lookup
        chain.run(Attributes(CREATE, PODS, "missing", "web", pod()))


def test_the_full_chain_bootstraps_the_kubernetes_service_and_guards_namespaces(registry):
    ips = ServiceIPAllocator(registry.store, rng=random.Random(1))
    chain = default_chain(registry, ServiceAllocation(registry, ips, PortAllocator(registry.store, rng=random.Random(1))))
    assert [p.name for p in chain.plugins] == ["NamespaceLifecycle", "ServiceAccount", "ServiceAllocation"]
    svc = ensure_kubernetes_service(registry, chain, ips.first_ip)
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and ips.allocated() == ["10.96.0.1"]
    assert APISERVER_USER.groups == ("system:masters",)
    services = lookup("", "v1", "services")
    web = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    with pytest.raises(NotFound, match='namespaces "missing" not found'):
        chain.run(Attributes(CREATE, services, "missing", "web", web))
    assert ips.allocated() == ["10.96.0.1"]  # refused before anything was reserved
