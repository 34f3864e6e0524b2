"""The FailedScheduling message, the adaptive number of Nodes to find, and the random choice among the best."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from kitlib.scheduler.diagnosis import Diagnosis, FitError, NoNodesScored, num_feasible_nodes_to_find, select_host
from kitlib.scheduler.framework import Code, NodePluginScores, NodeToStatus, Status

from .helpers import pod

TAINT = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def unschedulable(*reasons: str) -> Status:
    return Status(Code.Unschedulable, reasons)


def fit_error(statuses: dict, num_all: int, **diagnosis) -> str:
    return str(FitError(pod("p"), num_all, Diagnosis(node_to_status=NodeToStatus(statuses), **diagnosis)))


def test_reasons_are_counted_and_sorted_as_strings():
    statuses = {**{f"w{i}": unschedulable("Insufficient cpu") for i in range(3)},
                **{f"cp{i}": Status(Code.UnschedulableAndUnresolvable, (TAINT,)) for i in range(2)}}
    # "2 node(s)..." sorts before "3 Insufficient cpu": Go's sort.Strings on "<count> <reason>".
    assert fit_error(statuses, 5) == f"0/5 nodes are available: 2 {TAINT}, 3 Insufficient cpu."


def test_string_sort_puts_10_before_9():
    statuses = {**{f"a{i}": unschedulable("Insufficient memory") for i in range(10)},
                **{f"b{i}": unschedulable("Insufficient cpu") for i in range(9)}}
    assert fit_error(statuses, 19) == "0/19 nodes are available: 10 Insufficient memory, 9 Insufficient cpu."


def test_a_node_with_several_reasons_counts_each():
    statuses = {"n1": unschedulable("Insufficient cpu", "Insufficient memory"), "n2": unschedulable("Insufficient cpu")}
    assert fit_error(statuses, 2) == "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu."


def test_absent_nodes_share_the_absent_status():
    statuses = NodeToStatus({"n1": unschedulable("Insufficient cpu")},
                            Status(Code.UnschedulableAndUnresolvable, ("node(s) didn't satisfy plugin(s) [NodeAffinity]",)))
    message = str(FitError(pod("p"), 4, Diagnosis(node_to_status=statuses)))
    assert message == "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't satisfy plugin(s) [NodeAffinity]."


def test_pre_filter_message_replaces_the_histogram():
    assert fit_error({}, 3, pre_filter_msg="pod affinity terms conflict") == \
        "0/3 nodes are available: pod affinity terms conflict."


def test_post_filter_message_is_appended_as_is():
    message = fit_error({"n1": unschedulable("Insufficient cpu")}, 1,
                        post_filter_msg="preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
    assert message == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                       "1 No preemption victims found for incoming pod.")


# (all nodes, percentageOfNodesToScore, nodes to find) -- schedule_one.go's numFeasibleNodesToFind
FEASIBLE = [
    (0, 0, 0), (5, 0, 5), (99, 0, 99), (100, 0, 100),
    (200, 0, 100),      # adaptive 49% = 98, raised to the minimum of 100
    (1000, 0, 420),     # 50 - 1000/125 = 42%
    (5000, 0, 500),     # 10%
    (6000, 0, 300),     # 50 - 48 = 2%, raised to 5%
    (20000, 0, 1000),   # 5%
    (1000, 30, 300), (1000, 5, 100), (1000, 100, 1000), (1000, None, 420),
]


@pytest.mark.parametrize("num_all,percentage,expected", FEASIBLE)
def test_num_feasible_nodes_to_find(num_all, percentage, expected):
    assert num_feasible_nodes_to_find(num_all, percentage) == expected


def scores(**totals: int) -> list[NodePluginScores]:
    return [NodePluginScores(name, [], total) for name, total in totals.items()]


def test_select_host_takes_the_highest():
    assert select_host(scores(a=10, b=30, c=20), random.Random(0)) == "b"


def test_select_host_ties_are_uniform_and_reproducible():
    tied = scores(a=5, b=9, c=9, d=9, e=1)
    assert select_host(tied, random.Random(42)) == select_host(tied, random.Random(42))
    picks = Counter(select_host(tied, rng) for rng in [random.Random(1)] for _ in range(3000))
    assert set(picks) == {"b", "c", "d"} and min(picks.values()) > 850


def test_select_host_needs_scores():
    with pytest.raises(NoNodesScored):
        select_host([], random.Random(0))
