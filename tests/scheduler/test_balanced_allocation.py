"""NodeResourcesBalancedAllocation: (1 - std of the requested fractions) * 100, best-effort Pods skipped."""

from __future__ import annotations

import pytest

from kitlib.scheduler.plugins.balanced_allocation import BalancedAllocation, balanced_resource_scorer, scorer

from .helpers import info, node, pod, run_score


def test_kube_example_differently_sized_nodes():
    # kube's balanced_allocation_test: cpu 3000/4000 = 0.75, memory 5000/10000 = 0.5 -> std 0.125 -> 87
    nodes = [info(node("node1", cpu="4000m", memory="10000")), info(node("node2", cpu="6000m", memory="10000"))]
    assert run_score(BalancedAllocation(), pod("p", cpu="3000m", memory="5000"), nodes) == {"node1": 87, "node2": 100}


def test_existing_pods_count_with_their_real_requests():
    n = info(node("n", cpu="4", memory="4Gi"), pod("r", cpu="2", node_name="n"))
    # cpu (2000+1000)/4000 = 0.75, memory 1Gi/4Gi = 0.25 -> std 0.25 -> 75
    assert run_score(BalancedAllocation(), pod("p", cpu="1", memory="1Gi"), [n]) == {"n": 75}


def test_best_effort_pod_is_skipped():
    assert run_score(BalancedAllocation(), pod("p"), [info(node("n"))]) == {"n": None}


@pytest.mark.parametrize("requested,allocatable,score", [
    ((1, 1), (2, 2), 100), ((2, 0), (2, 2), 50), ((4, 1), (2, 2), 75), ((1, 1, 1), (4, 2, 1), 68),
    ((1, 5), (2, 0), 100),  # a fraction is capped at 1; a resource the node lacks is left out
])
def test_scorer(requested, allocatable, score):
    assert balanced_resource_scorer(requested, allocatable) == score


def test_the_plugin_scores_through_the_slot():
    seen = []

    def spy(requested, allocatable):
        seen.append((list(requested), list(allocatable)))
        return 42

    nodes = [info(node("node1", cpu="4000m", memory="10000"))]
    with scorer.installed(spy):
        assert run_score(BalancedAllocation(), pod("p", cpu="3000m", memory="5000"), nodes) == {"node1": 42}
    assert seen == [([3000, 5000], [4000, 10000])]
    assert scorer.current is balanced_resource_scorer
