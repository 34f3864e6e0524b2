"""One scheduling cycle: PreFilter, Filter with the adaptive count, Score, the seeded choice, then binding."""

from __future__ import annotations

import random

import pytest

from kitlib.api.errors import Conflict
from kitlib.scheduler.framework import Code, CycleState, PluginSpec, Profile
from kitlib.scheduler.plugins.registry import default_profile, in_tree_registry
from kitlib.scheduler.runtime import Framework
from kitlib.scheduler.schedule_one import binding_cycle, schedule_pod

from .helpers import CONTROL_PLANE_TAINT, default_framework, framework_of, infos, node, pod
from .test_default_binder import RecordingBinder


def schedule(nodes, pods, p, seed=0, start=0, fwk=None):
    fwk = fwk or default_framework(seed)
    return schedule_pod(fwk, CycleState(), p, infos(nodes, pods), start_index=start)


def test_least_allocated_node_wins():
    nodes = [node("busy", cpu="4"), node("idle", cpu="4"), node("cp", taints=[CONTROL_PLANE_TAINT])]
    result = schedule(nodes, [pod("r", cpu="3", node_name="busy")], pod("p", cpu="500m", memory="256Mi"))
    assert (result.suggested_host, result.feasible_nodes, result.evaluated_nodes) == ("idle", 2, 3)
    assert [s.name for s in result.scores] == ["busy", "idle"]


def test_a_single_feasible_node_is_taken_without_scoring():
    result = schedule([node("n1"), node("n2", cpu="100m")], [], pod("p", cpu="1"))
    assert (result.suggested_host, result.scores) == ("n1", [])


def test_no_nodes_is_an_error():
    result = schedule([], [], pod("p"))
    assert (result.status.code, result.status.message()) == (Code.Error, "no nodes available to schedule pods")


def test_fit_error_counts_every_node():
    result = schedule([node("n1", cpu="1"), node("n2", cpu="1")], [], pod("p", cpu="2"))
    assert str(result.fit_error) == "0/2 nodes are available: 2 Insufficient cpu."
    assert result.fit_error.diagnosis.unschedulable_plugins == {"NodeResourcesFit"}


def test_pre_filter_narrowing_is_reported_for_the_other_nodes():
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}
    result = schedule([node("n1", cpu="1"), node("n2"), node("n3")], [], pod("p", cpu="2", affinity=affinity))
    assert str(result.fit_error) == ("0/3 nodes are available: 1 Insufficient cpu, "
                                     "2 node(s) didn't satisfy plugin(s) [NodeAffinity].")


def test_pre_filter_rejection_is_one_message():
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]},
                         {"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}}}
    result = schedule([node("n1"), node("n2")], [], pod("p", affinity=affinity))
    assert str(result.fit_error) == "0/2 nodes are available: pod affinity terms conflict."


def test_adaptive_count_and_rotation():
    nodes = [node(f"n{i:03}") for i in range(200)]
    first = schedule(nodes, [], pod("p", cpu="1"))
    # 200 nodes: adaptive 49% -> 98, raised to 100; the next search starts after them.
    assert (first.feasible_nodes, first.next_start_node_index) == (100, 100)
    second = schedule(nodes, [], pod("p", cpu="1"), start=first.next_start_node_index)
    assert {s.name for s in second.scores} == {f"n{i:03}" for i in range(100, 200)}
    fwk = Framework(Profile(default_profile().plugins, default_profile().plugin_args, percentage_of_nodes_to_score=100),
                    in_tree_registry(), random.Random(0))
    assert schedule(nodes, [], pod("p", cpu="1"), fwk=fwk).feasible_nodes == 200


def test_rejected_nodes_count_towards_the_rotation():
    nodes = [node("small0", cpu="1"), node("small1", cpu="1"), node("big0"), node("big1")]
    result = schedule(nodes, [], pod("p", cpu="2"))
    assert (result.feasible_nodes, result.evaluated_nodes, result.next_start_node_index) == (2, 4, 0)


def test_nominated_node_is_tried_first():
    p = pod("p", cpu="1")
    p["status"]["nominatedNodeName"] = "n2"
    result = schedule([node("n1", cpu="8"), node("n2", cpu="2")], [], p)
    assert (result.suggested_host, result.feasible_nodes) == ("n2", 1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ties_are_broken_by_the_seeded_rng(seed):
    nodes = [node(f"n{i}") for i in range(5)]
    picks = {schedule(nodes, [], pod("p", cpu="1"), seed=seed).suggested_host for _ in range(3)}
    assert len(picks) == 1  # the same seed, the same host
    everywhere = {schedule(nodes, [], pod("p", cpu="1"), seed=s).suggested_host for s in range(40)}
    assert len(everywhere) > 2  # but every tied node gets its chance


def test_binding_cycle_binds_through_the_binder():
    binder = RecordingBinder()
    fwk = default_framework(binder=binder)
    assert binding_cycle(fwk, CycleState(), pod("p"), "n1").is_success()
    assert binder.calls == [("p", "n1")]


def test_binding_failure_unreserves():
    log = []

    class Reserving:
        NAME = "Reserving"

        def reserve(self, state, p, node_name):
            log.append("reserve")

        def unreserve(self, state, p, node_name):
            log.append("unreserve")

    registry = in_tree_registry()
    registry["Reserving"] = lambda args, handle: Reserving()
    profile = Profile([PluginSpec("Reserving"), PluginSpec("DefaultBinder")],
                      {"DefaultBinder": {"binder": RecordingBinder(Conflict("pods/binding", "p", "taken"))}})
    fwk = Framework(profile, registry, random.Random(0))
    state = CycleState()
    assert fwk.run_reserve(state, pod("p"), "n1").is_success()
    status = binding_cycle(fwk, state, pod("p"), "n1")
    assert status.code == Code.Error and log == ["reserve", "unreserve"]


def test_no_score_plugins_means_equal_scores():
    fwk = framework_of("NodeName")  # a Filter plugin only
    result = schedule([node("a"), node("b")], [], pod("p"), fwk=fwk)
    assert {s.total_score for s in result.scores} == {1}
