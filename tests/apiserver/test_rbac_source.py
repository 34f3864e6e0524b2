"""The RBAC authorizer's cached source: reads come from the cache, and every RBAC write is seen by the next read."""

from __future__ import annotations

import pytest

from kitlib.apiserver.rbac_source import RegistryRBAC
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import for_kind
from kitlib.store import open_store

RBAC = "rbac.authorization.k8s.io/v1"


def binding(kind: str, name: str, user: str, role: str, namespace: str | None = None) -> dict:
    md = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {"apiVersion": RBAC, "kind": kind, "metadata": md,
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "ClusterRole", "name": role, "apiGroup": "rbac.authorization.k8s.io"}}


def role(kind: str, name: str, verbs: list[str], namespace: str | None = None) -> dict:
    md = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {"apiVersion": RBAC, "kind": kind, "metadata": md,
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": verbs}]}


@pytest.fixture
def registry():
    store = open_store("memory://", lessor=False)
    yield Registry(store)
    store.close()


class CountingRegistry:
    """The registry, counting the reads that reach it."""

    def __init__(self, registry: Registry) -> None:
        self.inner, self.reads = registry, 0
        self.store = registry.store

    def list(self, *args, **kwargs):
        self.reads += 1
        return self.inner.list(*args, **kwargs)

    def get(self, *args, **kwargs):
        self.reads += 1
        return self.inner.get(*args, **kwargs)


def names(objs) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def test_repeated_reads_come_from_the_cache(registry):
    registry.create(for_kind(RBAC, "ClusterRoleBinding"), binding("ClusterRoleBinding", "a", "alice", "view"))
    counting = CountingRegistry(registry)
    source = RegistryRBAC(counting)
    for _ in range(5):
        assert names(source.list_cluster_role_bindings()) == ["a"]
        assert source.get_cluster_role("missing") is None
    assert counting.reads == 2
    source.close()


# Each write, then what the very next read must show.
WRITES = [
    ("create a ClusterRoleBinding", lambda r: r.create(for_kind(RBAC, "ClusterRoleBinding"),
                                                        binding("ClusterRoleBinding", "b", "bob", "edit")),
     lambda s: names(s.list_cluster_role_bindings()), ["a", "b"]),
    ("delete a ClusterRoleBinding", lambda r: r.delete(for_kind(RBAC, "ClusterRoleBinding"), None, "a"),
     lambda s: names(s.list_cluster_role_bindings()), []),
    ("create a RoleBinding", lambda r: r.create(for_kind(RBAC, "RoleBinding"),
                                                 binding("RoleBinding", "rb", "carol", "view", "shop"), "shop"),
     lambda s: names(s.list_role_bindings("shop")), ["rb"]),
    ("create a ClusterRole", lambda r: r.create(for_kind(RBAC, "ClusterRole"), role("ClusterRole", "view", ["get"])),
     lambda s: s.get_cluster_role("view")["rules"][0]["verbs"], ["get"]),
    ("create a Role", lambda r: r.create(for_kind(RBAC, "Role"), role("Role", "r", ["list"], "shop"), "shop"),
     lambda s: s.get_role("shop", "r")["rules"][0]["verbs"], ["list"]),
]


@pytest.mark.parametrize("write,read,want", [w[1:] for w in WRITES], ids=[w[0] for w in WRITES])
def test_a_write_is_seen_by_the_next_read(registry, write, read, want):
    registry.create(for_kind(RBAC, "ClusterRoleBinding"), binding("ClusterRoleBinding", "a", "alice", "view"))
    source = RegistryRBAC(registry)
    source.list_cluster_role_bindings()  # every read cached first, absent objects included
    source.list_role_bindings("shop")
    source.get_cluster_role("view")
    source.get_role("shop", "r")
    write(registry)
    assert read(source) == want
    source.close()


def test_an_update_of_a_role_is_seen(registry):
    clusterroles = for_kind(RBAC, "ClusterRole")
    registry.create(clusterroles, role("ClusterRole", "view", ["get"]))
    source = RegistryRBAC(registry)
    assert source.get_cluster_role("view")["rules"][0]["verbs"] == ["get"]
    registry.guaranteed_update(clusterroles, None, "view",
                               lambda obj: {**obj, "rules": [{**obj["rules"][0], "verbs": ["get", "list"]}]})
    assert source.get_cluster_role("view")["rules"][0]["verbs"] == ["get", "list"]
    source.close()
