"""NodeInfo sums requests as kube's framework.NodeInfo does: millicores, bytes, non-zero defaults."""

from __future__ import annotations

import pytest

from kitlib.scheduler.nodeinfo import DEFAULT_MEMORY_REQUEST, NodeInfo, Resource, node_infos, pod_resource

from .helpers import node, pod

MI = 1024 * 1024


def _containers(*requests: dict, init: tuple = (), overhead: dict | None = None) -> dict:
    spec: dict = {"containers": [{"name": f"c{i}", "resources": {"requests": r}} for i, r in enumerate(requests)]}
    if init:
        spec["initContainers"] = [{"name": f"i{i}", **({"restartPolicy": "Always"} if always else {}),
                                   "resources": {"requests": r}} for i, (r, always) in enumerate(init)]
    if overhead:
        spec["overhead"] = overhead
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec}


# (pod, requested (cpu m, memory), non-zero (cpu m, memory))
REQUESTS = [
    ("one container", _containers({"cpu": "500m", "memory": "128Mi"}), (500, 128 * MI), (500, 128 * MI)),
    ("containers add up", _containers({"cpu": "1"}, {"cpu": "250m"}), (1250, 0), (1250, 400 * MI)),
    ("no requests: defaults for scoring only", _containers({}), (0, 0), (100, 200 * MI)),
    ("explicit zero is not missing", _containers({"cpu": "0", "memory": "0"}), (0, 0), (0, 0)),
    # computePodResourceRequest's example: init containers run one at a time, the largest wins.
    ("init containers: the max", _containers({"cpu": "2", "memory": "1G"}, {"cpu": "1", "memory": "1G"},
                                             init=(({"cpu": "2", "memory": "1G"}, False),
                                                   ({"cpu": "2", "memory": "3G"}, False))),
     (3000, 3 * 10**9), (3000, 3 * 10**9)),
    ("sidecars add to the containers", _containers({"cpu": "1"}, init=(({"cpu": "500m"}, True),)), (1500, 0),
     (1500, 400 * MI)),
    ("overhead is added", _containers({"cpu": "1"}, overhead={"cpu": "250m", "memory": "10Mi"}),
     (1250, 10 * MI), (1250, 210 * MI)),
    ("fractions round up", _containers({"cpu": "0.0001", "memory": "1.5"}), (1, 2), (1, 2)),
]


@pytest.mark.parametrize("name,p,requested,non_zero", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_pod_requests(name, p, requested, non_zero):
    assert (pod_resource(p).milli_cpu, pod_resource(p).memory) == requested
    assert (pod_resource(p, non_zero=True).milli_cpu, pod_resource(p, non_zero=True).memory) == non_zero


def test_allocatable_in_scheduler_units():
    n = NodeInfo.of(node("n1", cpu="3500m", memory="4Gi", pods="20", extra={"example.com/gpu": "2",
                                                                         "ephemeral-storage": "10Gi"}))
    a = n.allocatable
    assert (a.milli_cpu, a.memory, a.allowed_pod_number, a.ephemeral_storage) == (3500, 4 * 1024 * MI, 20, 10240 * MI)
    assert a.scalar == {"example.com/gpu": 2}


def test_add_remove_and_clone_leave_objects_alone():
    p1, p2 = pod("a", cpu="1", node_name="n1"), pod("b", node_name="n1")
    n = NodeInfo.of(node("n1"), [p1, p2])
    assert (n.requested.milli_cpu, n.non_zero_requested.milli_cpu, n.non_zero_requested.memory) == \
        (1000, 1100, 2 * DEFAULT_MEMORY_REQUEST)
    copy = n.clone()
    assert copy.remove_pod(p1) and not copy.remove_pod(p1)
    assert (copy.requested.milli_cpu, len(copy.pods)) == (0, 1)
    assert (n.requested.milli_cpu, len(n.pods)) == (1000, 2)  # the original is untouched
    assert copy.pods[0] is p2 and copy.node is n.node  # objects are shared, never copied or written


def test_node_infos_group_pods_and_skip_finished_ones():
    done = pod("done", cpu="1", node_name="n1")
    done["status"]["phase"] = "Succeeded"
    result = node_infos([node("n1"), node("n2")], [pod("a", cpu="1", node_name="n2"), done, pod("pending", cpu="1")])
    assert [(i.name, len(i.pods)) for i in result] == [("n1", 0), ("n2", 1)]


def test_resource_get_by_api_name():
    r = Resource(milli_cpu=1, memory=2, ephemeral_storage=3, allowed_pod_number=4, scalar={"x/y": 5})
    assert [r.get(k) for k in ("cpu", "memory", "ephemeral-storage", "pods", "x/y", "z/w")] == [1, 2, 3, 4, 5, 0]
