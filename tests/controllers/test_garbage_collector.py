"""The garbage collector against a real API server: background, foreground and orphan deletion; owner UIDs.

Each test runs its own collector (and, where Pods are needed, a ReplicaSet
controller) on its own namespace of the module's control plane. A
finalizer of the test's own (``kit.dev/hold``) keeps a dependent around
so that the order of a foreground deletion can be seen.
"""

from __future__ import annotations

import random

import pytest

from kitlib.api.errors import NotFound
from kitlib.api.meta import owner_reference
from kitlib.controllers.garbage_collector import FOREGROUND, GarbageCollector, owner_uid_index

from .helpers import holds_for, owned_pods, replicaset, wait_until

HOLD = "kit.dev/hold"


@pytest.fixture
def start_gc(client, ns):
    started = []

    def start():
        gc = GarbageCollector(client, namespace=ns, rng=random.Random(5))
        started.append(gc)
        gc.run()
        assert gc.wait_for_sync(5)
        return gc

    yield start
    for gc in started:
        gc.stop()


def gone(resources, obj_name) -> bool:
    try:
        resources.get(obj_name)
    except NotFound:
        return True
    return False


def configmap(cm_name: str, owners: list[dict] | None = None) -> dict:
    metadata: dict = {"name": cm_name}
    if owners:
        metadata["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}}


def test_owner_uid_index():
    obj = {"metadata": {"ownerReferences": [{"uid": "a"}, {"uid": "b"}, {"name": "no-uid"}]}}
    assert owner_uid_index(obj) == ["a", "b"]
    assert owner_uid_index({"metadata": {}}) == []


def test_background_deletion_removes_the_pods(client, ns, start_rs_controller, start_gc):
    start_rs_controller()
    start_gc()
    rs = client.replicasets(ns).create(replicaset("web", 3))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 3)
    client.replicasets(ns).delete("web", propagation_policy="Background")
    wait_until(lambda: gone(client.replicasets(ns), "web"))
    wait_until(lambda: not owned_pods(client, ns), message="the Pods of a deleted ReplicaSet were not collected")


def test_foreground_deletion_removes_the_pods_first(client, ns, start_rs_controller, start_gc):
    start_rs_controller()
    rs = client.replicasets(ns).create(replicaset("web", 2))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 2)
    held = owned_pods(client, ns, rs)[0]["metadata"]["name"]
    client.pods(ns).patch(held, {"metadata": {"finalizers": [HOLD]}}, "merge")
    start_gc()
    client.replicasets(ns).delete("web", propagation_policy="Foreground")
    # The free Pod goes; the held one waits, being deleted; the ReplicaSet waits for it.
    wait_until(lambda: [p["metadata"]["name"] for p in owned_pods(client, ns)] == [held])
    wait_until(lambda: client.pods(ns).get(held)["metadata"].get("deletionTimestamp"))
    stuck = client.replicasets(ns).get("web")["metadata"]
    assert stuck.get("deletionTimestamp") and FOREGROUND in stuck["finalizers"]
    assert holds_for(lambda: not gone(client.replicasets(ns), "web"))
    client.pods(ns).patch(held, {"metadata": {"finalizers": None}}, "merge")
    wait_until(lambda: gone(client.pods(ns), held))
    wait_until(lambda: gone(client.replicasets(ns), "web"), message="the ReplicaSet outlived its last Pod")


def test_foreground_deletion_goes_down_the_chain(client, ns, start_rs_controller, start_gc):
    """Deployment -> ReplicaSet -> Pods: the ReplicaSet is itself deleted in the foreground."""
    start_rs_controller()
    start_gc()
    deploy = client.deployments(ns).create({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "main", "image": "busybox"}]}}}})
    manifest = replicaset("web-1", 2, {"app": "web"})
    manifest["metadata"]["ownerReferences"] = [owner_reference(deploy, api_version="apps/v1", kind="Deployment")]
    rs = client.replicasets(ns).create(manifest)
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 2)
    client.deployments(ns).delete("web", propagation_policy="Foreground")
    wait_until(lambda: gone(client.deployments(ns), "web"))
    assert gone(client.replicasets(ns), "web-1") and not owned_pods(client, ns)


def test_orphan_deletion_leaves_the_pods_without_owners(client, ns, start_rs_controller, start_gc):
    start_rs_controller()
    start_gc()
    rs = client.replicasets(ns).create(replicaset("web", 2))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 2)
    client.replicasets(ns).delete("web", propagation_policy="Orphan")
    wait_until(lambda: gone(client.replicasets(ns), "web"))
    pods = owned_pods(client, ns)
    assert len(pods) == 2 and all(not p["metadata"].get("ownerReferences") for p in pods)
    assert holds_for(lambda: len(owned_pods(client, ns)) == 2)


# A ConfigMap's owners: (owner name, its UID is the real one?) -> whether it survives, and the owners left.
OWNERSHIP = [
    ("solid", [("owner", True)], True, ["owner"]),
    ("same-name-other-uid", [("owner", False)], False, None),
    ("vanished", [("ghost", False)], False, None),
    ("one-of-two-dangling", [("owner", True), ("ghost", False)], True, ["owner"]),
]


@pytest.mark.parametrize("cm_name, owners, survives, left", OWNERSHIP, ids=[row[0] for row in OWNERSHIP])
def test_owners_are_identified_by_uid(client, ns, start_gc, cm_name, owners, survives, left):
    owner = client.resource("configmaps").create(configmap("owner"), namespace=ns)
    refs = []
    for owner_name, real in owners:
        refs.append({"apiVersion": "v1", "kind": "ConfigMap", "name": owner_name,
                     "uid": owner["metadata"]["uid"] if real else f"00000000-0000-4000-8000-{len(refs):012d}"})
    client.resource("configmaps").create(configmap(cm_name, refs), namespace=ns)
    start_gc()
    configmaps = client.resource("configmaps", namespace=ns)
    if survives:
        wait_until(lambda: [r["name"] for r in configmaps.get(cm_name)["metadata"].get("ownerReferences", [])]
                   == left, message=f"owners left: {configmaps.get(cm_name)['metadata'].get('ownerReferences')}")
        assert holds_for(lambda: not gone(configmaps, cm_name))
    else:
        wait_until(lambda: gone(configmaps, cm_name), message="a dependent of a vanished owner was not collected")
    assert not gone(configmaps, "owner")
