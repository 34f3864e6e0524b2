"""The scheduler loop (``kitlib.scheduler.scheduler``) against a real API server and hollow nodes.

Each test has its own control plane on a memory store and a FakeClock, a
:class:`~kitlib.cluster.sim.SimulatedCluster` for Nodes, and a Scheduler
with an in-process client as ``system:kube-scheduler`` (RBAC judges it by
the bootstrap policy's ClusterRole of that name).

The preemption tests create their PriorityClasses and also write
``spec.priority`` themselves, so each test states the number it relies on
(the API server's Priority admission, ``kitlib.apiserver.priority``, would
resolve the same value from ``priorityClassName``).
"""

from __future__ import annotations

import random
import time

import pytest

from kitlib.api.errors import NotFound
from kitlib.clock import FakeClock
from kitlib.cluster import ControlPlane
from kitlib.cluster.sim import SimulatedCluster
from kitlib.errors import KitError
from kitlib.scheduler.plugins.registry import default_profile, in_tree_registry
from kitlib.scheduler.runtime import Framework
from kitlib.scheduler.plugins.default_binder import APIBinder
from kitlib.scheduler.scheduler import Scheduler

SCHEDULER_USER = "system:kube-scheduler"


def wait_until(check, timeout: float = 10.0, what: str = "condition"):
    """Poll ``check`` every 10 ms (real time) until it returns something true; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Env:
    """A plane, hollow nodes and schedulers, stopped in reverse order."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.plane = ControlPlane(store="memory://", clock=self.clock, rng=random.Random(0)).start()
        self.admin = self.plane.client(in_process=True)
        self.cluster: SimulatedCluster | None = None
        self.schedulers: list[Scheduler] = []

    def nodes(self, count: int = 3, seed: int = 0, **options) -> SimulatedCluster:
        self.cluster = SimulatedCluster(self.plane, count, seed=seed, **options).start()
        return self.cluster

    def scheduler(self, seed: int = 0, **options) -> Scheduler:
        client = self.plane.client(in_process=True, user=SCHEDULER_USER, groups=())
        scheduler = Scheduler(client, self.clock, random.Random(seed), **options)
        self.schedulers.append(scheduler)
        return scheduler.run()

    def pod(self, name: str, cpu: str = "500m", priority: int | None = None, **spec) -> dict:
        container = {"name": "main", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}
        body = {"containers": [container], **spec}
        if priority is not None:
            body.update(priority=priority, priorityClassName=f"p{priority}")
        return self.admin.pods().create({"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": name, "namespace": "default"}, "spec": body})

    def node_of(self, name: str) -> str:
        try:
            return self.admin.pods().get(name)["spec"].get("nodeName") or ""
        except NotFound:
            return ""

    def placements(self, names, timeout: float = 10.0) -> dict[str, str]:
        return wait_until(lambda: (lambda p: p if all(p.values()) else None)({n: self.node_of(n) for n in names}),
                          timeout, f"{names} to be bound")

    def events(self, pod: str, reason: str) -> list[dict]:
        items = self.admin.resource("events").list(field_selector=f"involvedObject.name={pod},reason={reason}")
        return items["items"]

    def settle(self, seconds: float = 2.0) -> None:
        """Let fake time pass (back-off flushes); each step gives the scheduler's threads a moment."""
        for _ in range(int(seconds * 2)):
            self.clock.advance(0.5)
            time.sleep(0.03)

    def stop(self) -> None:
        for scheduler in self.schedulers:
            scheduler.stop()
        if self.cluster is not None:
            self.cluster.stop()
        self.plane.stop()


@pytest.fixture
def env():
    env = Env()
    yield env
    env.stop()


def test_pods_are_bound_spread_and_run(env):
    cluster = env.nodes(3)
    scheduler = env.scheduler()
    names = [f"web-{i}" for i in range(6)]
    for n in names:
        env.pod(n)
    placed = env.placements(names)
    # LeastAllocated + BalancedAllocation on equal Nodes: two Pods each.
    assert sorted(placed.values()) == sorted(cluster.node_names * 2)
    cluster.catch_up()
    cluster.advance(5)
    assert wait_until(lambda: all(env.admin.pods().get(n)["status"].get("phase") == "Running" for n in names))
    [event] = env.events("web-0", "Scheduled")
    assert event["message"] == f"Successfully assigned default/web-0 to {placed['web-0']}"
    assert (event["type"], event["source"]["component"], event["reportingComponent"], event["count"]) == (
        "Normal", "default-scheduler", "default-scheduler", 1)
    assert event["involvedObject"]["kind"] == "Pod" and event["firstTimestamp"] == event["lastTimestamp"]
    assert wait_until(lambda: scheduler.idle() and not scheduler.cache.assumed_pods())


def test_an_oversized_pod_waits_for_a_bigger_node(env):
    env.nodes(3, cpu="4")
    scheduler = env.scheduler()
    env.pod("big", cpu="6")
    [event] = wait_until(lambda: env.events("big", "FailedScheduling"), what="FailedScheduling")
    assert event["type"] == "Warning"
    # More than a Node's whole allocatable: NodeResourcesFit says Unresolvable, so preemption cannot help.
    assert event["message"] == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
                                "3 Preemption is not helpful for scheduling.")
    condition = wait_until(lambda: env.admin.pods().get("big")["status"].get("conditions"))[0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("PodScheduled", "False", "Unschedulable")
    assert scheduler.queue.pending_pods()[0] == {"default/big": "unschedulablePods"}
    env.admin.nodes().create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-big"},
                              "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"}}})
    wait_until(lambda: "node-big" in scheduler.cache.node_names())
    env.settle(2)  # NodeAdd moved it; its 1 s back-off passes on the fake clock
    assert env.placements(["big"]) == {"big": "node-big"}


def test_node_selector_and_taints(env):
    env.nodes(3)
    scheduler = env.scheduler(explain=True)
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    for node in ("node-0001", "node-0003"):
        env.admin.nodes().patch(node, {"spec": {"taints": [taint]}}, "merge")
    env.admin.nodes().patch("node-0002", {"metadata": {"labels": {"disk": "ssd"}}}, "merge")
    wait_until(lambda: [i.name for i in scheduler.cache.snapshot() if i.taints] == ["node-0001", "node-0003"])
    wait_until(lambda: any(i.labels.get("disk") for i in scheduler.cache.snapshot()))
    env.pod("plain-0")
    env.pod("plain-1")
    env.pod("ssd", nodeSelector={"disk": "ssd"})
    env.pod("gpu", nodeSelector={"kubernetes.io/hostname": "node-0003"},
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}])
    env.pod("nowhere", nodeSelector={"disk": "tape"})
    assert env.placements(["plain-0", "plain-1", "ssd", "gpu"]) == {
        "plain-0": "node-0002", "plain-1": "node-0002", "ssd": "node-0002", "gpu": "node-0003"}
    [event] = wait_until(lambda: env.events("nowhere", "FailedScheduling"))
    assert event["message"].startswith(
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "2 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling.")
    explanation = scheduler.last_explanation("default/nowhere")
    assert explanation is not None and explanation.feasible() == []
    assert scheduler.last_explanation("default/gpu").feasible() == ["node-0003"]


def test_a_higher_priority_pod_preempts(env):
    env.nodes(2, cpu="2")
    for value in (100, 1000):
        env.admin.resource("priorityclasses").create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                      "metadata": {"name": f"p{value}"}, "value": value})
    scheduler = env.scheduler()
    low = [f"low-{i}" for i in range(4)]
    for n in low:
        env.pod(n, cpu="1", priority=100)
    placed = env.placements(low)
    env.pod("vip", cpu="2", priority=1000)
    nominated = wait_until(lambda: env.admin.pods().get("vip")["status"].get("nominatedNodeName"), what="nomination")
    victims = sorted(n for n, node in placed.items() if node == nominated)
    assert len(victims) == 2
    wait_until(lambda: not any(env.node_of(v) for v in victims), what="victims deleted")
    [event] = env.events("vip", "FailedScheduling")
    assert event["message"] == "0/2 nodes are available: 2 Insufficient cpu."
    env.settle(2)
    assert env.placements(["vip"]) == {"vip": nominated}
    assert all(env.node_of(n) == node for n, node in placed.items() if n not in victims)
    assert [e["message"] for e in env.events(victims[0], "Preempted")] == [
        f"Preempted by pod {env.admin.pods().get('vip')['metadata']['uid']} on node {nominated}"]
    assert wait_until(scheduler.idle)


def scenario(seed: int) -> dict[str, str]:
    env = Env()
    try:
        env.nodes(4, seed=0)
        env.scheduler(seed=seed)
        names = []
        for i, cpu in enumerate(["100m", "300m", "100m", "700m", "200m", "100m", "1", "100m", "250m"]):
            names.append(f"p-{i}")
            env.pod(names[-1], cpu=cpu)
        return env.placements(names)
    finally:
        env.stop()


def test_the_same_seed_gives_the_same_placements():
    first = scenario(seed=7)
    assert scenario(seed=7) == first
    assert len(set(first.values())) == 4  # spread over every Node


def test_with_leader_election_only_the_leader_binds(env):
    env.nodes(2)
    one = env.scheduler(seed=1, leader_elect=True, identity="sched-a")
    wait_until(one.is_leader, what="a leader")
    two = env.scheduler(seed=2, leader_elect=True, identity="sched-b")
    names = [f"w-{i}" for i in range(4)]
    for n in names:
        env.pod(n)
    env.placements(names)
    wait_until(lambda: all(env.events(n, "Scheduled") for n in names))
    assert {env.events(n, "Scheduled")[0]["reportingInstance"] for n in names} == {"sched-a"}
    lease = env.admin.resource("coordination.k8s.io/v1", "Lease", namespace="kube-system").get("kube-scheduler")
    assert lease["spec"]["holderIdentity"] == "sched-a"
    assert not two.is_leader() and two.queue.metrics().pops == 0


class FlakyBinder:
    """Fails its first binding, as an API server that dropped the connection; then binds for real."""

    def __init__(self, real) -> None:
        self.real, self.calls = real, 0

    def bind(self, pod: dict, node_name: str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise KitError("connection reset")
        self.real.bind(pod, node_name)


def test_a_failed_binding_is_forgotten_and_retried(env):
    env.nodes(1)
    client = env.plane.client(in_process=True, user=SCHEDULER_USER, groups=())
    binder = FlakyBinder(APIBinder(client))
    framework = Framework(default_profile(binder), in_tree_registry(), random.Random(0))
    scheduler = Scheduler(client, env.clock, random.Random(0), framework=framework)
    env.schedulers.append(scheduler.run())
    env.pod("web")
    [event] = wait_until(lambda: env.events("web", "FailedScheduling"))
    assert "connection reset" in event["message"]
    assert scheduler.cache.assumed_pods() == [] and scheduler.cache.pods_on("node-0001") == []
    env.settle(2)  # SchedulerError: back-off, no event needed
    assert env.placements(["web"]) == {"web": "node-0001"} and binder.calls == 2


def test_pods_for_another_scheduler_are_left_alone(env):
    env.nodes(1)
    scheduler = env.scheduler()
    env.pod("mine")
    env.pod("theirs", schedulerName="other-scheduler")
    env.placements(["mine"])
    assert wait_until(scheduler.idle)
    assert env.node_of("theirs") == "" and "default/theirs" not in scheduler.queue.pending_pods()[0]
