"""The node lifecycle controller against a real API server and hollow nodes on a FakeClock.

Each test has its own control plane and :class:`SimulatedCluster`: its
kubelets renew their Leases every 10 s of simulated time until
``fail_node`` silences one. There is no scheduler here: Pods are bound
with the ``pods/binding`` subresource, as kube-scheduler binds.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from kitlib.api.meta import parse_rfc3339
from kitlib.clock import FakeClock
from kitlib.cluster import ControlPlane
from kitlib.cluster.sim import SimulatedCluster
from kitlib.controllers.node_lifecycle import (
    NODE_MONITOR_GRACE_PERIOD,
    TAINT_NOT_READY,
    TAINT_UNREACHABLE,
    NodeLifecycleController,
    desired_taints,
    eviction_delay,
    tolerates,
)
from kitlib.controllers.replicaset import ReplicaSetController

from .helpers import pod, replicaset

FAILED = "node-0002"


@pytest.fixture
def env():
    """A plane, three hollow nodes and the controller (plus a ReplicaSet controller), all on one FakeClock."""
    clock = FakeClock()
    plane = ControlPlane(store="memory://", clock=clock, rng=random.Random(0)).start()
    cluster = SimulatedCluster(plane, nodes=3, clock=clock, seed=1).start()
    client = plane.client(in_process=True)
    client.resource("namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    nlc = NodeLifecycleController(client, clock=clock, rng=random.Random(2)).run()
    rsc = ReplicaSetController(client, namespace="apps", clock=clock, rng=random.Random(3)).run()
    assert nlc.wait_for_sync(5) and rsc.wait_for_sync(5)
    yield clock, cluster, client
    nlc.stop()
    rsc.stop()
    cluster.stop()
    plane.stop()


def run_until(cluster, predicate, *, step: float = 5.0, limit: float = 400.0, settle: float = 0.3) -> float:
    """Advance the cluster ``step`` seconds at a time until ``predicate`` holds; the simulated seconds it took.

    After each step the controllers get up to ``settle`` real seconds to act (they run on their own threads).
    """
    start = cluster.clock.now()
    while True:
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            if predicate():
                return cluster.clock.now() - start
            time.sleep(0.01)
        if cluster.clock.now() - start >= limit:
            raise AssertionError(f"condition not met within {limit} simulated seconds")
        cluster.advance(step)


def bind(client, ns: str, pod_name: str, node: str) -> None:
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod_name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    client.transport.request("POST", client.pods().path(ns, pod_name, "binding"), body=json.dumps(binding).encode())


def ready_status(client, node: str) -> str:
    return next(c["status"] for c in client.nodes().get(node)["status"]["conditions"] if c["type"] == "Ready")


def taint_keys(client, node: str) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in client.nodes().get(node)["spec"].get("taints") or []}


def pod_names(client, ns: str) -> set[str]:
    return {p["metadata"]["name"] for p in client.pods(ns).list()["items"]}


# -- pure functions ------------------------------------------------------------------------------

UNREACHABLE = {"key": TAINT_UNREACHABLE, "effect": "NoExecute"}
NOT_READY = {"key": TAINT_NOT_READY, "effect": "NoExecute"}


@pytest.mark.parametrize("toleration, taint, expected", [
    ({"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}, UNREACHABLE, True),
    ({"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}, UNREACHABLE, False),
    ({"operator": "Exists"}, UNREACHABLE, True),  # empty key and effect: everything
    ({"key": "a", "operator": "Equal", "value": "x"}, {"key": "a", "value": "x", "effect": "NoExecute"}, True),
    ({"key": "a", "value": "y"}, {"key": "a", "value": "x", "effect": "NoExecute"}, False),
    ({"key": TAINT_NOT_READY, "operator": "Exists"}, UNREACHABLE, False),
])
def test_tolerates(toleration, taint, expected):
    assert tolerates(toleration, taint) is expected


def seconds(key: str, value: int | None) -> dict:
    t = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    if value is not None:
        t["tolerationSeconds"] = value
    return t


@pytest.mark.parametrize("taints, tolerations, expected", [
    ([UNREACHABLE], [], 0.0),  # not tolerated: at once
    ([UNREACHABLE], [seconds(TAINT_UNREACHABLE, 300)], 300.0),
    ([UNREACHABLE], [seconds(TAINT_UNREACHABLE, None)], None),  # for ever
    ([UNREACHABLE], [seconds(TAINT_UNREACHABLE, -5)], 0.0),
    ([UNREACHABLE, NOT_READY], [seconds(TAINT_UNREACHABLE, 300), seconds(TAINT_NOT_READY, 60)], 60.0),
    ([UNREACHABLE, NOT_READY], [seconds(TAINT_UNREACHABLE, None)], 0.0),  # one taint untolerated
])
def test_eviction_delay(taints, tolerations, expected):
    assert eviction_delay(taints, tolerations) == expected


@pytest.mark.parametrize("conditions, unschedulable, expected", [
    ([("Ready", "True")], False, []),
    ([("Ready", "False")], False, [(TAINT_NOT_READY, "NoSchedule"), (TAINT_NOT_READY, "NoExecute")]),
    ([("Ready", "Unknown")], False, [(TAINT_UNREACHABLE, "NoSchedule"), (TAINT_UNREACHABLE, "NoExecute")]),
    ([("Ready", "True"), ("MemoryPressure", "True")], True,
     [("node.kubernetes.io/memory-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")]),
])
def test_desired_taints(conditions, unschedulable, expected):
    node = {"spec": {"unschedulable": unschedulable},
            "status": {"conditions": [{"type": t, "status": s} for t, s in conditions]}}
    assert [(t["key"], t["effect"]) for t in desired_taints(node)] == expected


# -- against the cluster -----------------------------------------------------------------------

def test_a_silent_node_turns_unknown_after_the_grace_period_and_is_tainted(env):
    clock, cluster, client = env
    assert NODE_MONITOR_GRACE_PERIOD == 50.0  # kube 1.32's default
    cluster.advance(20)
    cluster.fail_node(FAILED)
    failed_at = clock.now()
    cluster.advance(35)  # the last renewal was at most ~10 s before the failure: still within 50 s
    time.sleep(0.3)
    assert ready_status(client, FAILED) == "True" and not taint_keys(client, FAILED)
    run_until(cluster, lambda: ready_status(client, FAILED) == "Unknown")
    assert 40 <= clock.now() - failed_at <= NODE_MONITOR_GRACE_PERIOD + 10
    node = client.nodes().get(FAILED)
    for c in node["status"]["conditions"]:
        assert (c["status"], c["reason"], c["message"]) == ("Unknown", "NodeStatusUnknown",
                                                            "Kubelet stopped posting node status."), c["type"]
        assert parse_rfc3339(c["lastHeartbeatTime"]) < parse_rfc3339(c["lastTransitionTime"])
    run_until(cluster, lambda: taint_keys(client, FAILED) == {(TAINT_UNREACHABLE, "NoSchedule"),
                                                              (TAINT_UNREACHABLE, "NoExecute")}, limit=20)
    no_execute = next(t for t in client.nodes().get(FAILED)["spec"]["taints"] if t["effect"] == "NoExecute")
    assert "timeAdded" in no_execute
    for other in ("node-0001", "node-0003"):
        assert ready_status(client, other) == "True" and not taint_keys(client, other)

    cluster.recover_node(FAILED)
    run_until(cluster, lambda: ready_status(client, FAILED) == "True" and not taint_keys(client, FAILED), limit=30)


# Pods on the failed node: their tolerations of the unreachable taint, and when they must be gone.
EVICTIONS = [
    # name, toleration added to the Pod (None: the admission's 300 s default only), seconds after the taint
    ("at-once", seconds(TAINT_UNREACHABLE, 0), 0),
    ("thirty", seconds(TAINT_UNREACHABLE, 30), 30),
    ("forever", seconds(TAINT_UNREACHABLE, None), None),
]


def test_pods_are_evicted_after_their_toleration_and_replaced(env):
    clock, cluster, client = env
    rs = client.replicasets("apps").create(replicaset("web", 2))
    run_until(cluster, lambda: len(pod_names(client, "apps")) == 2, step=1)
    web = sorted(pod_names(client, "apps"))
    for pod_name in web:
        bind(client, "apps", pod_name, FAILED)
    defaults = client.pods("apps").get(web[0])["spec"]["tolerations"]  # the DefaultTolerationSeconds admission
    assert {(t["key"], t.get("tolerationSeconds")) for t in defaults} == {(TAINT_NOT_READY, 300),
                                                                          (TAINT_UNREACHABLE, 300)}
    for pod_name, toleration, _ in EVICTIONS:
        manifest = pod(pod_name, {"role": "test"})
        manifest["spec"]["tolerations"] = [toleration]
        client.pods("apps").create(manifest)
        bind(client, "apps", pod_name, FAILED)
    bystander = pod("bystander", {"role": "test"})
    client.pods("apps").create(bystander)
    bind(client, "apps", "bystander", "node-0001")

    cluster.fail_node(FAILED)
    run_until(cluster, lambda: (TAINT_UNREACHABLE, "NoExecute") in taint_keys(client, FAILED), limit=90)
    tainted_at = clock.now()
    expected = {name: after for name, _, after in EVICTIONS} | {n: 300 for n in web}
    while True:
        present = pod_names(client, "apps")
        elapsed = clock.now() - tainted_at
        for pod_name, after in expected.items():
            if after is None or elapsed < after - 1:
                assert pod_name in present, f"{pod_name} evicted too early ({elapsed} s)"
            elif elapsed > after + 10:
                assert pod_name not in present, f"{pod_name} not evicted after {elapsed} s"
        if elapsed > 320:
            break
        cluster.advance(5)
        time.sleep(0.15)
    assert {"forever", "bystander"} <= pod_names(client, "apps")
    # The ReplicaSet replaced its two Pods (unbound: there is no scheduler in this test).
    run_until(cluster, lambda: len([p for p in client.pods("apps").list(label_selector="app=web")["items"]
                                    if not p["spec"].get("nodeName")]) == 2, step=1, limit=20)
    assert client.replicasets("apps").get("web")["metadata"]["uid"] == rs["metadata"]["uid"]
