"""Hollow nodes (``kitlib.cluster.hollow``) and the simulated cluster that runs them (``kitlib.cluster.sim``).

Every test has its own control plane on a memory store and a FakeClock, so
time moves only through ``cluster.advance``. No scheduler exists yet: Pods
are bound with the ``pods/binding`` subresource, as kube-scheduler binds.
"""

from __future__ import annotations

import ipaddress
import json
import random
import time

import pytest

from kitlib.api.errors import APIError, BadRequest
from kitlib.api.meta import parse_rfc3339
from kitlib.clock import FakeClock
from kitlib.cluster import ControlPlane
from kitlib.cluster.hollow import CPU_MILLICORES, EXIT_CODE, KUBELET_VERSION, RUN_SECONDS, HollowKubelet
from kitlib.cluster.sim import SimulatedCluster, pod_cidrs, start_simulated

START = 1_700_000_000.0  # FakeClock's wall time at 0


@pytest.fixture
def plane():
    plane = ControlPlane(store="memory://", clock=FakeClock(), rng=random.Random(0)).start()
    yield plane
    plane.stop()


@pytest.fixture
def simulate(plane):
    """``simulate(nodes=2, **kubelet_options)``: a started SimulatedCluster on ``plane``, stopped afterwards."""
    made = []

    def simulate(nodes: int = 2, seed: int = 0, **options) -> SimulatedCluster:
        made.append(SimulatedCluster(plane, nodes, seed=seed, **options).start())
        return made[-1]

    yield simulate
    for cluster in made:
        cluster.stop()


@pytest.fixture
def admin(plane):
    return plane.client(in_process=True)


def pod(name: str, restart_policy: str = "Always", annotations: dict | None = None, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
            "spec": {"restartPolicy": restart_policy, "containers": [{"name": "main", "image": "nginx"}], **spec}}


def run_pod(client, manifest: dict, node: str) -> None:
    """Create the Pod and bind it to ``node`` as a scheduler would."""
    name = manifest["metadata"]["name"]
    client.pods().create(manifest)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    client.transport.request("POST", client.pods().path("default", name, "binding"), body=json.dumps(binding).encode())


def lease(client, node: str) -> dict:
    return client.resource("coordination.k8s.io/v1", "Lease", namespace="kube-node-lease").get(node)


def renewed_at(client, node: str) -> float:
    return parse_rfc3339(lease(client, node)["spec"]["renewTime"]) - START


def status(client, name: str) -> dict:
    return client.pods().get(name)["status"]


# -- registration ---------------------------------------------------------------------------------


@pytest.mark.parametrize("options, capacity, allocatable, labels, taints", [
    ({}, {"cpu": "4", "memory": "16Gi", "pods": "110"}, {"cpu": "4", "memory": "16284Mi", "pods": "110"}, {}, None),
    ({"cpu": "8", "memory": "1Gi", "pods": 20, "labels": {"topology.kubernetes.io/zone": "a"},
      "taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]},
     {"cpu": "8", "memory": "1Gi", "pods": "20"}, {"cpu": "8", "memory": "924Mi", "pods": "20"},
     {"topology.kubernetes.io/zone": "a"}, [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
], ids=["defaults", "options"])
def test_nodes_register_as_a_kubelet_does(simulate, admin, options, capacity, allocatable, labels, taints):
    cluster = simulate(nodes=3, **options)
    nodes = admin.nodes().list()["items"]
    assert [n["metadata"]["name"] for n in nodes] == ["node-0001", "node-0002", "node-0003"] == cluster.node_names
    for i, node in enumerate(nodes):
        name, node_status = node["metadata"]["name"], node["status"]
        assert {k: node_status["capacity"][k] for k in capacity} == capacity
        assert {k: node_status["allocatable"][k] for k in allocatable} == allocatable
        assert node["metadata"]["labels"] == {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                                              "beta.kubernetes.io/arch": "amd64", **labels}
        assert node["spec"].get("taints") == taints
        assert node["spec"]["podCIDR"] == f"10.244.{i}.0/24"
        ready = next(c for c in node_status["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "True", "KubeletReady", "kubelet is posting ready status")
        assert {c["type"]: c["status"] for c in node_status["conditions"]} == {
            "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False", "Ready": "True"}
        internal = [a["address"] for a in node_status["addresses"] if a["type"] == "InternalIP"]
        assert len(internal) == 1 and ipaddress.ip_address(internal[0]) in ipaddress.ip_network("172.16.0.0/12")
        assert node_status["nodeInfo"]["kubeletVersion"] == KUBELET_VERSION == "v1.32.0-kit-hollow"


@pytest.mark.parametrize("count, first, last", [
    (1, "10.244.0.0/24", "10.244.0.0/24"),
    (256, "10.244.0.0/24", "10.244.255.0/24"),
    (300, "10.244.0.0/24", "10.245.43.0/24"),  # widened to 10.244.0.0/15
])
def test_each_node_gets_a_slash_24(count, first, last):
    cidrs = pod_cidrs(count)
    assert (len(cidrs), cidrs[0], cidrs[-1], len(set(cidrs))) == (count, first, last, count)


# -- heartbeats -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lease_duration, interval", [(40, 10.0), (20, 5.0)])
def test_leases_renew_on_the_clock(simulate, admin, lease_duration, interval):
    cluster = simulate(nodes=2, lease_duration=lease_duration)
    created = lease(admin, "node-0001")
    assert created["spec"]["holderIdentity"] == "node-0001"
    assert created["spec"]["leaseDurationSeconds"] == lease_duration
    assert created["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert renewed_at(admin, "node-0001") == 0.0
    cluster.advance(interval * 0.99)
    assert renewed_at(admin, "node-0001") == 0.0
    # A quarter of the lease duration, jittered by up to 4 % (the node lease controller's JitterUntil).
    cluster.advance(interval * 0.06)
    assert interval <= renewed_at(admin, "node-0001") <= interval * 1.04


def test_lease_renewals_follow_the_jittered_period(simulate, admin):
    cluster = simulate(nodes=1)
    seen = []
    for _ in range(40):
        cluster.advance(1)
        renewed = renewed_at(admin, "node-0001")
        if not seen or renewed != seen[-1]:
            seen.append(renewed)
    gaps = [b - a for a, b in zip([0.0] + seen, seen)][1:]
    assert len(seen) == 4 and all(10.0 <= gap <= 10.4 for gap in gaps), seen


def test_a_failed_node_stops_renewing_its_lease_until_it_recovers(simulate, admin):
    cluster = simulate(nodes=2)
    cluster.fail_node("node-0002")
    cluster.advance(35)
    assert renewed_at(admin, "node-0002") == 0.0
    assert renewed_at(admin, "node-0001") >= 30.0
    cluster.recover_node("node-0002")
    cluster.advance(0)
    assert renewed_at(admin, "node-0002") == 35.0


def test_node_status_is_posted_when_a_report_is_due_or_it_changed(simulate, admin):
    cluster = simulate(nodes=1, node_status_report_frequency=60)

    def heartbeat() -> float:
        node = admin.nodes().get("node-0001")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return parse_rfc3339(ready["lastHeartbeatTime"]) - START, ready["status"]

    cluster.advance(30)
    assert heartbeat() == (0.0, "True")  # nothing changed, no report due: the Lease is the heartbeat
    cluster.advance(45)
    assert heartbeat()[0] >= 60.0
    # The node lifecycle controller's verdict, undone by the kubelet at its next status check.
    node = admin.nodes().get("node-0001")
    conditions = [dict(c, status="Unknown") if c["type"] == "Ready" else c for c in node["status"]["conditions"]]
    admin.nodes().patch("node-0001", {"status": {"conditions": conditions}}, subresource="status")
    cluster.advance(11)
    assert heartbeat()[1] == "True"


# -- Pods -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("start_delay, node", [(1.0, "node-0001"), (5.0, "node-0002")])
def test_a_bound_pod_goes_pending_then_running(simulate, admin, start_delay, node):
    cluster = simulate(nodes=2, start_delay=start_delay)
    run_pod(admin, pod("web"), node)
    cluster.advance(0)
    pending = status(admin, "web")
    assert pending["phase"] == "Pending" and "podIP" not in pending
    assert pending["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    cluster.advance(start_delay - 0.1)
    assert status(admin, "web")["phase"] == "Pending"
    cluster.advance(0.1)
    running = status(admin, "web")
    assert running["phase"] == "Running"
    cidr = admin.nodes().get(node)["spec"]["podCIDR"]
    assert ipaddress.ip_address(running["podIP"]) in ipaddress.ip_network(cidr)
    assert running["podIPs"] == [{"ip": running["podIP"]}]
    assert running["startTime"] == "2023-11-14T22:13:20Z"
    assert {c["type"]: c["status"] for c in running["conditions"]} == {
        "PodScheduled": "True", "Initialized": "True", "ContainersReady": "True", "Ready": "True",
        "PodReadyToStartContainers": "True"}
    container = running["containerStatuses"][0]
    assert container["state"]["running"]["startedAt"] and container["ready"] and container["started"]
    assert container["containerID"].startswith("fake://") and container["imageID"].startswith(
        "docker.io/library/nginx@sha256:")
    assert container["image"] == "docker.io/library/nginx:latest"
    assert running["hostIP"] in [a["address"] for a in admin.nodes().get(node)["status"]["addresses"]]


@pytest.mark.parametrize("policy, annotations, run_time, after, phase, state", [
    ("Never", {}, 5.0, 6, "Succeeded", ("terminated", "Completed", 0)),
    ("Never", {EXIT_CODE: "3"}, 5.0, 6, "Failed", ("terminated", "Error", 3)),
    ("OnFailure", {RUN_SECONDS: "2"}, None, 3.5, "Succeeded", ("terminated", "Completed", 0)),
    ("Never", {}, None, 100, "Running", ("running", None, None)),  # no run time: runs until deleted
    ("Always", {}, 5.0, 100, "Running", ("running", None, None)),  # run_time is for run-to-completion Pods
])
def test_run_to_completion_pods_finish(simulate, admin, policy, annotations, run_time, after, phase, state):
    cluster = simulate(nodes=1, run_time=run_time)
    run_pod(admin, pod("job", policy, annotations), "node-0001")
    cluster.advance(after)
    got = status(admin, "job")
    container = got["containerStatuses"][0]
    kind, reason, code = state
    assert got["phase"] == phase and list(container["state"]) == [kind]
    if kind == "terminated":
        assert (container["state"]["terminated"]["reason"], container["state"]["terminated"]["exitCode"]) == (
            reason, code)
        ready = next(c for c in got["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "PodCompleted")
        assert cluster.pod_cpu_usage() == {}


@pytest.mark.parametrize("policy, exit_code", [("Always", "0"), ("OnFailure", "1")])
def test_exited_containers_restart_after_a_back_off(simulate, admin, policy, exit_code):
    cluster = simulate(nodes=1)
    run_pod(admin, pod("crash", policy, {RUN_SECONDS: "2", EXIT_CODE: exit_code}), "node-0001")
    cluster.advance(3.5)  # started at 1, exited at 3: back-off 10 s
    container = status(admin, "crash")["containerStatuses"][0]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff" and container["restartCount"] == 1
    assert container["lastState"]["terminated"]["exitCode"] == int(exit_code)
    cluster.advance(10)
    got = status(admin, "crash")
    assert got["phase"] == "Running" and "running" in got["containerStatuses"][0]["state"]
    assert got["containerStatuses"][0]["containerID"] != container["lastState"]["terminated"]["containerID"]


def test_deleting_a_pod_removes_it_from_its_node(simulate, admin):
    cluster = simulate(nodes=1)
    for name in ("a", "b"):
        run_pod(admin, pod(name), "node-0001")
    cluster.advance(2)
    kubelet = cluster.kubelet("node-0001")
    assert kubelet.pod_phases() == {"default/a": "Running", "default/b": "Running"}
    first_ip = status(admin, "a")["podIP"]
    admin.pods().delete("a")
    cluster.advance(0)
    assert kubelet.pod_phases() == {"default/b": "Running"} and list(cluster.pod_cpu_usage()) == ["default/b"]
    run_pod(admin, pod("c"), "node-0001")
    cluster.advance(2)
    assert status(admin, "c")["podIP"] != first_ip  # host-local hands out the next address, not the freed one


def test_a_pod_held_by_a_finalizer_is_stopped_and_its_deletion_confirmed(simulate, admin):
    cluster = simulate(nodes=1)
    manifest = pod("held")
    manifest["metadata"]["finalizers"] = ["kit.dev/hold"]
    run_pod(admin, manifest, "node-0001")
    cluster.advance(2)
    admin.pods().delete("held")
    cluster.advance(0)
    assert cluster.pod_cpu_usage() == {}  # stopped, though the API still holds it
    admin.pods().patch("held", {"metadata": {"finalizers": None}}, "merge")
    cluster.advance(0)
    assert cluster.kubelet("node-0001").pod_phases() == {}


def test_a_failed_node_reports_its_pods_when_it_recovers(simulate, admin):
    cluster = simulate(nodes=1)
    run_pod(admin, pod("job", "Never", {RUN_SECONDS: "5"}), "node-0001")
    cluster.advance(2)
    cluster.fail_node("node-0001")
    run_pod(admin, pod("late"), "node-0001")
    cluster.advance(10)
    assert status(admin, "job")["phase"] == "Running"  # finished at 6, but nobody heard
    with pytest.raises(APIError, match="the kubelet of node node-0001 is not reachable") as refused:
        admin.transport.request("GET", admin.pods().path("default", "job", "log"), accept="text/plain")
    assert refused.value.code == 503
    assert status(admin, "late").get("phase", "Pending") == "Pending" and "containerStatuses" not in status(
        admin, "late")
    cluster.recover_node("node-0001")
    cluster.advance(0)
    assert status(admin, "job")["phase"] == "Succeeded"
    assert status(admin, "late")["phase"] == "Pending"
    cluster.advance(1)
    assert status(admin, "late")["phase"] == "Running"


@pytest.mark.parametrize("annotations, expected", [({CPU_MILLICORES: "750"}, 750), ({}, None)])
def test_pods_report_a_simulated_cpu_use(simulate, admin, annotations, expected):
    cluster = simulate(nodes=1)
    run_pod(admin, pod("busy", annotations=annotations), "node-0001")
    cluster.advance(2)
    usage = cluster.pod_cpu_usage()["default/busy"]
    assert usage == expected if expected else 10 <= usage <= 250
    admin.pods().patch("busy", {"metadata": {"annotations": {CPU_MILLICORES: "120"}}})
    cluster.advance(0)
    assert cluster.pod_cpu_usage() == {"default/busy": 120}


# -- logs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("query, expected", [
    ({}, "web: started\nweb: listening on 10.244.0.2:8080\n"),
    ({"tailLines": "1"}, "web: listening on 10.244.0.2:8080\n"),
    ({"timestamps": "true", "tailLines": "1"}, "2023-11-14T22:13:21.000000000Z web: listening on 10.244.0.2:8080\n"),
])
def test_kubectl_logs_reads_the_fake_log(simulate, admin, query, expected):
    cluster = simulate(nodes=1)
    run_pod(admin, pod("web"), "node-0001")
    path = admin.pods().path("default", "web", "log")
    cluster.advance(0)
    with pytest.raises(BadRequest, match='container "main" in pod "web" is waiting to start: ContainerCreating'):
        admin.transport.request("GET", path, accept="text/plain")
    cluster.advance(1)
    assert admin.transport.request("GET", path, query=query, accept="text/plain").body.decode() == expected


# -- replay and scale -----------------------------------------------------------------------------


def snapshot(seed: int) -> tuple:
    plane, cluster = start_simulated(nodes=3, seed=seed, clock=FakeClock())
    try:
        admin = plane.client(in_process=True)
        for i, node in enumerate(["node-0001", "node-0002", "node-0003", "node-0001"]):
            run_pod(admin, pod(f"p{i}"), node)
        cluster.advance(2)
        addresses = [n["status"]["addresses"][0]["address"] for n in admin.nodes().list()["items"]]
        return addresses, [status(admin, f"p{i}")["podIP"] for i in range(4)], cluster.pod_cpu_usage()
    finally:
        cluster.stop()
        plane.stop()


def test_the_same_seed_gives_the_same_cluster():
    first, again, other = snapshot(7), snapshot(7), snapshot(8)
    assert first == again
    assert first[1] == ["10.244.0.2", "10.244.1.2", "10.244.2.2", "10.244.0.3"]
    assert first[2] != other[2]


def test_five_hundred_nodes_start_in_seconds(simulate, admin):
    began = time.monotonic()
    cluster = simulate(nodes=500)
    took = time.monotonic() - began
    assert len(admin.nodes().list()["items"]) == 500
    assert len(admin.resource("leases").list("kube-node-lease")["items"]) == 500
    assert took < 10, f"500 hollow nodes took {took:.1f} s to register"
    cluster.advance(11)
    assert renewed_at(admin, "node-0500") >= 10.0


def test_a_hollow_kubelet_runs_alone_with_its_own_watch(plane, admin):
    clock = plane.clock
    client = plane.client(in_process=True, user="system:node:solo", groups=("system:nodes",))
    kubelet = HollowKubelet(client, "solo", clock, random.Random(1), start_delay=0.5).start()
    try:
        deadline = time.monotonic() + 10
        while not kubelet.registered and time.monotonic() < deadline:
            time.sleep(0.01)
        assert admin.nodes().get("solo")["status"]["nodeInfo"]["kubeletVersion"] == KUBELET_VERSION
        run_pod(admin, pod("alone"), "solo")
        # A new Pod is Pending from the start (the API server says so); the kubelet has taken it once it
        # reports its containers as waiting (ContainerCreating).
        while not status(admin, "alone").get("containerStatuses") and time.monotonic() < deadline:
            time.sleep(0.01)
        clock.advance(1)
        while status(admin, "alone").get("phase") != "Running" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ipaddress.ip_address(status(admin, "alone")["podIP"]) in ipaddress.ip_network(kubelet.pod_cidr)
    finally:
        kubelet.stop()
