"""The registry: each verb's Kubernetes rules, on the real embedded store."""

from __future__ import annotations

import random

import pytest

from kitlib.api.errors import AlreadyExists, BadRequest, Conflict, Gone, NotFound
from kitlib.api.fields import parse_field_selector
from kitlib.api.selectors import parse_label_selector
from kitlib.apiserver.registry import Registry
from kitlib.apiserver.resources import lookup
from kitlib.clock import FakeClock
from kitlib.store import open_store

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
DEPLOYMENTS = lookup("apps", "v1", "deployments")


@pytest.fixture
def registry():
    store = open_store("memory://", lessor=False)
    yield Registry(store, clock=FakeClock(wall_start=1_795_000_000), rng=random.Random(1))
    store.close()


def pod(name, labels=None, node="", **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}], **spec}}


def deployment(name, replicas=1):
    return {"metadata": {"name": name}, "spec": {"replicas": replicas}, "status": {"replicas": 0}}


def test_create_fills_in_what_the_server_owns(registry):
    created = registry.create(PODS, pod("web-0"), "default")
    md = created["metadata"]
    assert md["namespace"] == "default"
    assert md["creationTimestamp"] == "2026-11-18T11:06:40Z"
    assert len(md["uid"]) == 36 and md["resourceVersion"] == str(registry.store.revision)
    assert "generation" not in md  # Pods do not track generation in 1.32
    assert registry.create(DEPLOYMENTS, deployment("web"), "default")["metadata"]["generation"] == 1
    assert registry.get(PODS, "default", "web-0") == created


@pytest.mark.parametrize(
    "resource, obj, namespace, error, message",
    [
        (PODS, pod("web-0"), "default", AlreadyExists, 'pods "web-0" already exists'),
        (DEPLOYMENTS, deployment("web"), "default", AlreadyExists, 'deployments.apps "web" already exists'),
        (PODS, {**pod("x"), "metadata": {"name": "x", "namespace": "other"}}, "default", BadRequest,
         "the namespace of the provided object does not match the namespace sent on the request"),
        (PODS, {"metadata": {}}, "default", BadRequest, "name or generateName is required"),
    ],
    ids=["duplicate-pod", "duplicate-deployment", "namespace-mismatch", "no-name"],
)
def test_create_refusals(registry, resource, obj, namespace, error, message):
    registry.create(PODS, pod("web-0"), "default")
    registry.create(DEPLOYMENTS, deployment("web"), "default")
    with pytest.raises(error) as info:
        registry.create(resource, obj, namespace)
    assert info.value.status()["message"] == message


def test_generate_name_and_cluster_scope(registry):
    created = registry.create(PODS, {"metadata": {"generateName": "web-"}, "spec": {}}, "default")
    assert created["metadata"]["name"].startswith("web-") and len(created["metadata"]["name"]) == 9
    node = registry.create(NODES, {"metadata": {"name": "node-1", "namespace": "ignored"}})
    assert "namespace" not in node["metadata"]
    assert registry.store.get("/registry/minions/node-1") is not None


def test_get_missing_says_not_found(registry):
    with pytest.raises(NotFound, match='pods "nope" not found'):
        registry.get(PODS, "default", "nope")


@pytest.mark.parametrize(
    "labels, fields, expected",
    [
        ("", "", ["a-0", "a-1", "b-0"]),
        ("app=a", "", ["a-0", "a-1"]),
        ("app in (a,b),tier!=db", "", ["a-0", "b-0"]),
        ("", "spec.nodeName=node-1", ["a-1"]),
        ("", "spec.nodeName=", ["a-0", "b-0"]),
        ("app=a", "metadata.name!=a-0", ["a-1"]),
    ],
)
def test_list_filters_by_label_and_field_selectors(registry, labels, fields, expected):
    registry.create(PODS, pod("a-0", {"app": "a"}), "default")
    registry.create(PODS, pod("a-1", {"app": "a", "tier": "db"}, node="node-1"), "default")
    registry.create(PODS, pod("b-0", {"app": "b"}), "default")
    registry.create(PODS, pod("c-0", {"app": "a"}), "other")
    listed = registry.list(PODS, "default", label_selector=parse_label_selector(labels),
                           field_selector=parse_field_selector(fields))
    assert listed["kind"] == "PodList" and listed["metadata"]["resourceVersion"] == str(registry.store.revision)
    assert [p["metadata"]["name"] for p in listed["items"]] == expected
    assert len(registry.list(PODS)["items"]) == 4  # every namespace


def test_pages_share_one_revision_and_expire_after_compaction(registry):
    for i in range(7):
        registry.create(PODS, pod(f"p-{i}", {"even": str(i % 2 == 0).lower()}), "default")
    first = registry.list(PODS, "default", limit=3, label_selector=parse_label_selector("even=true"))
    assert [p["metadata"]["name"] for p in first["items"]] == ["p-0", "p-2", "p-4"]
    registry.create(PODS, pod("p-8", {"even": "true"}), "default")  # after the first page
    rest = registry.list(PODS, "default", limit=3, label_selector=parse_label_selector("even=true"),
                         continue_token=first["metadata"]["continue"])
    assert [p["metadata"]["name"] for p in rest["items"]] == ["p-6"]  # the list as of the first page
    assert "continue" not in rest["metadata"]
    registry.store.compact(registry.store.revision)
    with pytest.raises(Gone, match="continue parameter is too old"):
        registry.list(PODS, "default", limit=3, continue_token=first["metadata"]["continue"])


def test_update_is_refused_when_the_object_changed_since_it_was_read(registry):
    created = registry.create(DEPLOYMENTS, deployment("web"), "default")
    first = registry.update(DEPLOYMENTS, "default", "web", {**created, "spec": {"replicas": 3}})
    assert first["metadata"]["generation"] == 2
    with pytest.raises(Conflict) as info:
        registry.update(DEPLOYMENTS, "default", "web", {**created, "spec": {"replicas": 5}})  # stale
    assert info.value.status()["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again")
    unconditional = {**created, "metadata": {"name": "web"}, "spec": {"replicas": 5}}
    assert registry.update(DEPLOYMENTS, "default", "web", unconditional)["spec"]["replicas"] == 5


@pytest.mark.parametrize(
    "subresource, change, spec_after, status_after, generation",
    [
        ("", {"spec": {"replicas": 2}, "status": {"replicas": 9}}, {"replicas": 2}, {"replicas": 0}, 2),
        ("status", {"spec": {"replicas": 7}, "status": {"replicas": 9}}, {"replicas": 1}, {"replicas": 9}, 1),
        ("", {"spec": {"replicas": 1}, "metadata": {"labels": {"a": "b"}}}, {"replicas": 1}, {"replicas": 0}, 1),
    ],
    ids=["main-ignores-status", "status-ignores-spec", "metadata-only-keeps-generation"],
)
def test_status_subresource_and_generation(registry, subresource, change, spec_after, status_after, generation):
    created = registry.create(DEPLOYMENTS, deployment("web"), "default")
    md = {**created["metadata"], **change.get("metadata", {})}
    updated = registry.update(DEPLOYMENTS, "default", "web", {**created, **change, "metadata": md}, subresource=subresource)
    assert updated["spec"] == spec_after and updated["status"] == status_after
    assert updated["metadata"]["generation"] == generation
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]


def test_delete_waits_for_finalizers(registry):
    registry.create(PODS, {**pod("f"), "metadata": {"name": "f", "finalizers": ["kit/cleanup"]}}, "default")
    marked = registry.delete(PODS, "default", "f")
    assert marked["metadata"]["deletionTimestamp"] and registry.get(PODS, "default", "f")
    current = registry.get(PODS, "default", "f")
    current["metadata"]["finalizers"] = []
    registry.update(PODS, "default", "f", current)  # the last finalizer goes: so does the object
    with pytest.raises(NotFound):
        registry.get(PODS, "default", "f")


@pytest.mark.parametrize("policy, finalizer", [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")])
def test_propagation_policies_leave_work_for_the_garbage_collector(registry, policy, finalizer):
    registry.create(DEPLOYMENTS, deployment("web"), "default")
    marked = registry.delete(DEPLOYMENTS, "default", "web", propagation_policy=policy)
    assert marked["metadata"]["finalizers"] == [finalizer]


def test_delete_preconditions(registry):
    created = registry.create(PODS, pod("p"), "default")
    with pytest.raises(Conflict, match="Precondition failed: UID in precondition: nope"):
        registry.delete(PODS, "default", "p", uid="nope")
    registry.delete(PODS, "default", "p", uid=created["metadata"]["uid"])
    with pytest.raises(NotFound):
        registry.delete(PODS, "default", "p")


def _events(watch, n):
    events = [watch.get(timeout=1) for _ in range(n)]
    watch.cancel()
    return [(e.type, e.object["metadata"]["name"], e.object["metadata"]["resourceVersion"]) for e in events]


def test_watch_from_now_and_from_a_revision(registry):
    a = registry.create(PODS, pod("a", {"app": "x"}), "default")
    initial = registry.watch(PODS, "default")  # no resourceVersion: current objects first
    b = registry.create(PODS, pod("b", {"app": "x"}), "default")
    assert _events(initial, 2) == [("ADDED", "a", a["metadata"]["resourceVersion"]),
                                   ("ADDED", "b", b["metadata"]["resourceVersion"])]
    resumed = registry.watch(PODS, "default", resource_version=a["metadata"]["resourceVersion"])
    changed = registry.update(PODS, "default", "a", {**a, "metadata": {"name": "a", "labels": {"app": "y"}}})
    registry.delete(PODS, "default", "b")
    assert [e[:2] for e in _events(resumed, 3)] == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert changed["metadata"]["labels"] == {"app": "y"}


def test_watch_with_a_selector_sees_objects_enter_and_leave(registry):
    w = registry.watch(PODS, "default", resource_version=str(registry.store.revision),
                       label_selector=parse_label_selector("app=x"))
    p = registry.create(PODS, pod("p", {"app": "y"}), "default")  # not selected: no event
    p = registry.update(PODS, "default", "p", {**p, "metadata": {**p["metadata"], "labels": {"app": "x"}}})
    p = registry.update(PODS, "default", "p", {**p, "metadata": {**p["metadata"], "labels": {"app": "z"}}})
    assert [e[:2] for e in _events(w, 2)] == [("ADDED", "p"), ("DELETED", "p")]


def test_watch_from_a_compacted_revision_is_gone(registry):
    old = registry.create(PODS, pod("a"), "default")["metadata"]["resourceVersion"]
    registry.create(PODS, pod("b"), "default")
    registry.store.compact(registry.store.revision)
    w = registry.watch(PODS, "default", resource_version=str(int(old) - 1))
    with pytest.raises(Gone) as info:
        w.get(timeout=1)
    assert info.value.status()["code"] == 410 and "too old resource version" in info.value.status()["message"]
