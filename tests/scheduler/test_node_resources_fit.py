"""NodeResourcesFit: kube's reasons and codes for Filter; the three scoring strategies on known inputs."""

from __future__ import annotations

import pytest

from kitlib.scheduler.framework import Code
from kitlib.scheduler.plugins import resource_allocation as ra
from kitlib.scheduler.plugins.node_resources_fit import Fit, fits

from .helpers import info, node, pod, run_filter, run_score

N = dict(cpu="4", memory="8Gi", pods="3")
RUNNING = [pod("r1", cpu="2", memory="4Gi", node_name="n1"), pod("r2", cpu="1", memory="2Gi", node_name="n1")]

# (name, pod's cpu/memory request, extra node allocatable, pods on the node, expected code, expected reasons)
FILTER = [
    ("fits", ("500m", "1Gi"), {}, RUNNING, Code.Success, ()),
    ("exactly fits", ("1", "2Gi"), {}, RUNNING, Code.Success, ()),
    ("cpu short", ("1001m", "1Gi"), {}, RUNNING, Code.Unschedulable, ("Insufficient cpu",)),
    ("memory short", ("500m", "3Gi"), {}, RUNNING, Code.Unschedulable, ("Insufficient memory",)),
    ("both short, kube's order", ("2", "3Gi"), {}, RUNNING, Code.Unschedulable,
     ("Insufficient cpu", "Insufficient memory")),
    ("bigger than the node: preemption cannot help", ("5", "1Gi"), {}, [], Code.UnschedulableAndUnresolvable,
     ("Insufficient cpu",)),
    ("too many pods", (None, None), {}, RUNNING + [pod("r3", node_name="n1")], Code.Unschedulable, ("Too many pods",)),
    ("too many pods comes first", ("2", None), {}, RUNNING + [pod("r3", node_name="n1")], Code.Unschedulable,
     ("Too many pods", "Insufficient cpu")),
    ("requests nothing: always fits", (None, None), {}, RUNNING, Code.Success, ()),
    ("requests, not usage: request-less pods take no room", ("1", None), {}, [pod("r3", node_name="n1")],
     Code.Success, ()),
]


@pytest.mark.parametrize("name,wants,extra,running,code,reasons", FILTER, ids=[c[0] for c in FILTER])
def test_filter(name, wants, extra, running, code, reasons):
    cpu, memory = wants
    status = run_filter(Fit(), pod("p", cpu=cpu, memory=memory), info(node("n1", **N, extra=extra), *running))
    assert (status.code, status.reasons) == (code, reasons)


def test_extended_and_ephemeral_resources():
    n = info(node("n1", extra={"example.com/gpu": "1", "ephemeral-storage": "10Gi"}))
    gpu = pod("p")
    gpu["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "2", "ephemeral-storage": "20Gi"}}
    assert [r.reason for r in fits(gpu, n)] == ["Insufficient ephemeral-storage", "Insufficient example.com/gpu"]
    assert run_filter(Fit({"ignoredResources": ["example.com/gpu"]}), gpu, n).reasons == \
        ("Insufficient ephemeral-storage",)
    assert run_filter(Fit({"ignoredResourceGroups": ["example.com"]}), gpu, n).reasons == \
        ("Insufficient ephemeral-storage",)


def _nodes():
    # kube's least_allocated_test "nothing scheduled, resources requested, differently sized nodes"
    return [info(node("node1", cpu="4000m", memory="10000")), info(node("node2", cpu="6000m", memory="10000"))]


# (strategy args, expected scores) for a pod requesting 3000m and 5000 bytes
STRATEGIES = [
    ({"type": "LeastAllocated"}, {"node1": 37, "node2": 50}),  # (25+50)/2, (50+50)/2
    ({"type": "MostAllocated"}, {"node1": 62, "node2": 50}),   # (75+50)/2
    ({"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}]},
     {"node1": 31, "node2": 50}),                            # (25*3 + 50) / 4 = 31.25
    ({"type": "RequestedToCapacityRatio",
      "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]}},
     {"node1": 38, "node2": 50}),                            # like Least, but rounded: 37.5 -> 38
    ({"type": "RequestedToCapacityRatio",
      "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}},
     {"node1": 63, "node2": 50}),                            # like Most: 62.5 -> 63
]


@pytest.mark.parametrize("strategy,expected", STRATEGIES, ids=[str(s["type"]) + str(i) for i, (s, _) in enumerate(STRATEGIES)])
def test_score_strategies(strategy, expected):
    plugin = Fit({"scoringStrategy": strategy})
    assert run_score(plugin, pod("p", cpu="3000m", memory="5000"), _nodes()) == expected


def test_least_allocated_four_cpu_node_one_cpu_requested():
    # 1 CPU of 4 and 2Gi of 8Gi requested: (4000-1000)*100/4000 = 75 for cpu, 75 for memory.
    assert run_score(Fit(), pod("p", cpu="1", memory="2Gi"), [info(node("n1", cpu="4", memory="8Gi"))]) == {"n1": 75}


def test_score_counts_non_zero_defaults_for_request_less_pods():
    # A request-less pod counts as 100m / 200Mi, so a node full of them does not look empty.
    busy = info(node("busy", cpu="1", memory="1Gi"), *[pod(f"r{i}", node_name="busy") for i in range(5)])
    empty = info(node("empty", cpu="1", memory="1Gi"))
    # busy: cpu 600/1000 -> 40; memory 1200Mi > 1Gi -> 0; (40+0)/2 = 20.  empty: cpu 90, memory 80 -> 85
    assert run_score(Fit(), pod("p"), [busy, empty]) == {"busy": 20, "empty": 85}


@pytest.mark.parametrize("requested,capacity,least,most", [(0, 100, 100, 0), (25, 100, 75, 25), (100, 100, 0, 100),
                                                           (150, 100, 0, 100), (1, 3, 66, 33), (5, 0, 0, 0)])
def test_per_resource_scores_truncate(requested, capacity, least, most):
    assert ra.least_requested_score(requested, capacity) == least
    assert ra.most_requested_score(requested, capacity) == most


def test_broken_linear_function():
    f = ra.broken_linear_function([(10, 100), (50, 0), (90, 50)])
    assert [f(p) for p in (0, 10, 30, 50, 70, 90, 100)] == [100, 100, 50, 0, 25, 50, 50]


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="scoring strategy Random is not supported"):
        Fit({"scoringStrategy": {"type": "Random"}})


# (node cpu, node memory, pods on it as (cpu, memory), weights): the default strategy's specialised path must
# give score_node's answer, including a Node with no cpu, one with no memory and one requested past capacity.
DEFAULT_PATH = [
    ("4", "8Gi", [], (1, 1)),
    ("4", "8Gi", [("3500m", "1Gi")], (1, 1)),
    ("3", "1000", [("1", "999")], (3, 1)),
    ("0", "8Gi", [("1", "1Gi")], (1, 1)),
    ("2", "0", [], (1, 2)),
    ("1", "1Gi", [(None, None)] * 12, (1, 1)),
]


@pytest.mark.parametrize("cpu,memory,running,weights", DEFAULT_PATH)
def test_default_strategy_fast_path_matches_score_node(cpu, memory, running, weights):
    resources = [{"name": "cpu", "weight": weights[0]}, {"name": "memory", "weight": weights[1]}]
    n = info(node("n1", cpu=cpu, memory=memory),
             *[pod(f"r{i}", cpu=c, memory=m, node_name="n1") for i, (c, m) in enumerate(running)])
    for wants in ([100, 500 * 2**20], [0, 0], [5000, 2**40]):
        generic = ra.score_node(ra.least_allocated_scorer(resources), n, resources, wants, use_requested=False)
        assert ra.least_allocated_cpu_memory(n, wants, weights) == generic
    assert Fit({"scoringStrategy": {"type": "LeastAllocated", "resources": resources}}).cpu_memory_weights == weights
