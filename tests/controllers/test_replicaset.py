"""The ReplicaSet controller against a real API server: replicas, ownership, deletion order, status, expectations.

Each test runs its own controller on its own namespace of the module's
control plane. There is no kubelet: tests write Pod status through the
``/status`` subresource themselves.
"""

from __future__ import annotations

import random
import time

import pytest

from kitlib.api.meta import parse_rfc3339
from kitlib.client.informer import wait_for_cache_sync
from kitlib.clock import FakeClock
from kitlib.controllers.replicaset import ReplicaSetController

from .helpers import advance_until, holds_for, names, owned_pods, pod, replicaset, set_pod_status, wait_until

LONG_AGO = time.time() - 3600


def status_of(client, ns, rs_name):
    return client.replicasets(ns).get(rs_name).get("status") or {}


def test_creates_the_replicas_with_controller_references(client, ns, start_rs_controller):
    start_rs_controller()
    rs = client.replicasets(ns).create(replicaset("web", 3))
    wait_until(lambda: len(owned_pods(client, ns)) == 3)
    for made in owned_pods(client, ns):
        assert made["metadata"]["name"].startswith("web-") and made["metadata"]["generateName"] == "web-"
        assert made["metadata"]["labels"] == {"app": "web"}
        assert made["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]
        assert made["spec"]["containers"][0]["image"] == "busybox"
    wait_until(lambda: status_of(client, ns, "web").get("replicas") == 3)
    assert status_of(client, ns, "web") == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 0,
                                            "availableReplicas": 0, "observedGeneration": 1}
    assert holds_for(lambda: len(owned_pods(client, ns)) == 3)  # resyncs (every 0.5 s) create nothing more


def test_scales_up_and_down_deleting_the_youngest_and_least_ready_first(client, ns, start_rs_controller):
    start_rs_controller()
    rs = client.replicasets(ns).create(replicaset("web", 3))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 3)
    first = names(owned_pods(client, ns, rs))
    for pod_name in first:  # the first three run and have been ready for an hour
        set_pod_status(client, ns, pod_name, "Running", ready=True, ready_since=LONG_AGO)
    client.replicasets(ns).patch("web", {"spec": {"replicas": 5}})
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 5)
    wait_until(lambda: status_of(client, ns, "web").get("readyReplicas") == 3
               and status_of(client, ns, "web").get("replicas") == 5)
    assert status_of(client, ns, "web")["observedGeneration"] == 2
    client.replicasets(ns).patch("web", {"spec": {"replicas": 1}})
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 1)
    survivor = names(owned_pods(client, ns, rs))
    assert set(survivor) < set(first), "the two new, not yet ready Pods go first, then two of the old ones"
    wait_until(lambda: status_of(client, ns, "web").get("replicas") == 1)


# Pods in every state a scale-down tells apart, all on nodes but the first (orphans the ReplicaSet adopts).
STATES = [
    ("unscheduled", {"node": ""}, None),
    ("pending", {"node": "n1"}, ("Pending", False, 0)),
    ("not-ready", {"node": "n1"}, ("Running", False, 0)),
    ("restarted", {"node": "n2"}, ("Running", True, 5)),
    ("steady", {"node": "n2"}, ("Running", True, 0)),
]


@pytest.mark.parametrize(
    "replicas, survivors",
    [
        (4, ["not-ready", "pending", "restarted", "steady"]),
        (3, ["not-ready", "restarted", "steady"]),
        (2, ["restarted", "steady"]),
        (1, ["steady"]),
    ],
    ids=["drop-unscheduled", "then-pending", "then-not-ready", "then-most-restarted"],
)
def test_scale_down_order(client, ns, start_rs_controller, replicas, survivors):
    for pod_name, where, state in STATES:
        client.pods(ns).create(pod(pod_name, {"app": "rank"}, **where))
        if state:
            phase, ready, restarts = state
            set_pod_status(client, ns, pod_name, phase, ready, ready_since=LONG_AGO, restarts=restarts)
    start_rs_controller()
    client.replicasets(ns).create(replicaset("rank", replicas))  # adopts all five, deletes the surplus
    wait_until(lambda: len(owned_pods(client, ns)) == replicas)
    assert names(owned_pods(client, ns)) == survivors


def test_a_pod_deleted_by_hand_is_replaced(client, ns, start_rs_controller):
    start_rs_controller()
    rs = client.replicasets(ns).create(replicaset("web", 3))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 3)
    before = names(owned_pods(client, ns, rs))
    client.pods(ns).delete(before[0])
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 3 and before[0] not in names(owned_pods(client, ns, rs)))
    after = names(owned_pods(client, ns, rs))
    assert set(before) - set(after) == {before[0]} and len(set(after) - set(before)) == 1


def test_adopts_orphans_releases_strays_and_leaves_other_controllers_pods_alone(client, ns, start_rs_controller):
    orphan = client.pods(ns).create(pod("orphan", {"app": "web"}))
    other_owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "other", "uid": "other-uid",
                   "controller": True, "blockOwnerDeletion": True}
    taken = client.pods(ns).create(pod("taken", {"app": "web"}, owner=other_owner))
    start_rs_controller()
    rs = client.replicasets(ns).create(replicaset("web", 2))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 2)
    mine = names(owned_pods(client, ns, rs))
    assert "orphan" in mine, "the orphan is adopted, and only one Pod is created"
    adopted = client.pods(ns).get("orphan")
    assert adopted["metadata"]["uid"] == orphan["metadata"]["uid"]
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert client.pods(ns).get("taken")["metadata"]["ownerReferences"] == taken["metadata"]["ownerReferences"]

    client.pods(ns).patch("orphan", {"metadata": {"labels": {"app": "debug"}}})  # taken out for debugging
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 2 and "orphan" not in names(owned_pods(client, ns, rs)))
    released = client.pods(ns).get("orphan")
    assert not released["metadata"].get("ownerReferences"), "released: no controller reference left"
    assert len(owned_pods(client, ns)) == 4  # two of ours, the released one, and the other controller's


@pytest.mark.parametrize(
    "min_ready, states, expected",
    [
        (0, [("Pending", False, None)] * 3, (3, 2, 0, 0)),
        (0, [("Running", True, None), ("Running", True, None), ("Running", False, None)], (3, 2, 2, 2)),
        (600, [("Running", True, LONG_AGO), ("Running", True, None), ("Running", True, None)], (3, 2, 3, 1)),
    ],
    ids=["pending", "two-ready", "min-ready-seconds"],
)
def test_status_counts(client, ns, start_rs_controller, min_ready, states, expected):
    # The template adds a label the selector does not ask for: the adopted orphan lacks it.
    client.pods(ns).create(pod("a-orphan", {"app": "web"}))
    start_rs_controller()
    manifest = replicaset("web", 3, {"app": "web", "tier": "frontend"}, selector={"app": "web"},
                          min_ready_seconds=min_ready)
    rs = client.replicasets(ns).create(manifest)
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 3)
    for (phase, ready, since), pod_name in zip(states, names(owned_pods(client, ns, rs))):
        set_pod_status(client, ns, pod_name, phase, ready, ready_since=since)
    replicas, fully_labeled, ready_count, available = expected
    want = {"replicas": replicas, "fullyLabeledReplicas": fully_labeled, "readyReplicas": ready_count,
            "availableReplicas": available, "observedGeneration": 1}
    wait_until(lambda: status_of(client, ns, "web") == want, message=f"status never became {want}")


def test_pods_become_available_after_min_ready_seconds_on_the_clock(client, ns, start_rs_controller):
    clock = FakeClock(wall_start=time.time())
    start_rs_controller(clock=clock, resync_period=0)  # no resyncs: only the controller's own requeue can help
    rs = client.replicasets(ns).create(replicaset("web", 2, min_ready_seconds=10))
    wait_until(lambda: len(owned_pods(client, ns, rs)) == 2)
    for pod_name in names(owned_pods(client, ns, rs)):
        set_pod_status(client, ns, pod_name, "Running", True, ready_since=clock.wall())
    wait_until(lambda: status_of(client, ns, "web").get("readyReplicas") == 2)
    assert status_of(client, ns, "web")["availableReplicas"] == 0
    # Nothing changes in the API: the controller looks again by itself, minReadySeconds later on its clock.
    took = advance_until(clock, lambda: status_of(client, ns, "web").get("availableReplicas") == 2, step=1.0)
    # All ready, not all available: the sync asked to be requeued minReadySeconds later (the Pods' own +1 s
    # requeue is superseded, since a key waiting twice keeps the sooner time).
    assert 10 <= took <= 11


class FailingCreates:
    """A client whose Pod creates fail from the ``fail_from``-th on (a quota, an admission webhook...)."""

    def __init__(self, client, fail_from: int | None) -> None:
        self.client, self.fail_from, self.calls = client, fail_from, 0

    def pods(self, namespace=None):
        pods = self.client.pods(namespace)
        outer = self

        class Pods:
            def __getattr__(self, attr):
                return getattr(pods, attr)

            def create(self, obj, namespace=None):
                outer.calls += 1
                if outer.fail_from is not None and outer.calls > outer.fail_from:
                    raise RuntimeError("pods \"web\" is forbidden: exceeded quota")
                return pods.create(obj, namespace)

        return Pods()

    def __getattr__(self, attr):
        return getattr(self.client, attr)


@pytest.mark.parametrize(
    "fail_from, attempts, created",
    [(0, 1, 0), (1, 3, 1), (3, 5, 3), (None, 5, 5)],
    ids=["first-fails", "second-batch-fails", "third-batch-fails", "none-fails"],
)
def test_creations_start_slow_and_failures_are_reported_in_status(client, ns, fail_from, attempts, created):
    controller = ReplicaSetController(client, namespace=ns, rng=random.Random(3))
    controller.client = FailingCreates(client, fail_from)
    key = f"{ns}/web"
    try:
        client.replicasets(ns).create(replicaset("web", 5))
        for informer in controller.informers:  # informers, but no workers: this test calls sync once itself
            informer.run()
        assert wait_for_cache_sync(*controller.informers, timeout=5)
        wait_until(lambda: controller.replicasets.indexer.get_by_key(key) is not None)
        if fail_from is None:
            controller.sync(key)
        else:
            with pytest.raises(RuntimeError, match="exceeded quota"):  # raised after status is written: a retry
                controller.sync(key)
        assert controller.client.calls == attempts
        assert len(owned_pods(client, ns)) == created
        conditions = status_of(client, ns, "web").get("conditions") or []
        if fail_from is None:
            assert conditions == []
        else:
            assert [(c["type"], c["status"], c["reason"]) for c in conditions] == [
                ("ReplicaFailure", "True", "FailedCreate")]
            assert "exceeded quota" in conditions[0]["message"]
        # Failed and skipped creations are not waited for: once the created Pods are seen, the next sync may act.
        wait_until(lambda: controller.expectations.satisfied_expectations(key))
    finally:
        controller.stop()


@pytest.mark.parametrize("forget_expectations, pods_after", [(False, 3), (True, 6)],
                         ids=["expectations-hold-the-second-sync", "without-expectations-it-creates-twice"])
def test_expectations_prevent_double_creation(client, ns, forget_expectations, pods_after):
    controller = ReplicaSetController(client, namespace=ns, rng=random.Random(5))
    key = f"{ns}/web"
    try:
        client.replicasets(ns).create(replicaset("web", 3))
        controller.replicasets.run()  # only the ReplicaSet informer: the Pod cache lags behind, and stays empty
        assert wait_for_cache_sync(controller.replicasets, timeout=5)
        wait_until(lambda: controller.replicasets.indexer.get_by_key(key) is not None)
        controller.sync(key)
        assert len(owned_pods(client, ns)) == 3
        if forget_expectations:
            controller.expectations.delete_expectations(key)
        controller.sync(key)  # a resync, say, before the Pod informer has reported the three new Pods
        assert len(owned_pods(client, ns)) == pods_after
        controller.pods.run()  # the informer catches up and observes the creations
        wait_until(lambda: controller.expectations.satisfied_expectations(key))
    finally:
        controller.stop()


def test_creation_timestamps_come_from_the_api_server(client, ns, start_rs_controller):
    # A sanity check that the times the deletion order compares are the server's, as in kube.
    start_rs_controller()
    client.replicasets(ns).create(replicaset("web", 1))
    wait_until(lambda: len(owned_pods(client, ns)) == 1)
    created = parse_rfc3339(owned_pods(client, ns)[0]["metadata"]["creationTimestamp"])
    assert abs(created - time.time()) < 5
