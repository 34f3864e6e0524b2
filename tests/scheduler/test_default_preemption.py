"""DefaultPreemption: who is eligible, which Nodes are candidates, the minimal victims, kube's choice of Node."""

from __future__ import annotations

import pytest

from kitlib.scheduler.framework import Code, CycleState
from kitlib.scheduler.plugins.default_preemption import Candidate, filter_pods_with_pdb_violation, select_candidate
from kitlib.scheduler.schedule_one import run_post_filter, schedule_pod

from .helpers import CONTROL_PLANE_TAINT, default_framework, infos, node, pod


def preempt(nodes: list, pods: list, preemptor: dict, seed: int = 0, **kwargs):
    """Schedule ``preemptor`` on a default framework; on a FitError run PostFilter: (result, status, fit_error)."""
    fwk = default_framework(seed, **kwargs)
    state = CycleState()
    result = schedule_pod(fwk, state, preemptor, infos(nodes, pods))
    assert result.fit_error is not None, f"expected no fit, got {result.suggested_host}"
    post, status = run_post_filter(fwk, state, preemptor, result.fit_error)
    return post, status, result.fit_error


def names(pods) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


# (name, pods already running as (name, node, cpu, priority), preemptor's cpu, expected node, expected victims)
CHOICES = [
    ("only node with lower priority", [("hi", "n1", "2", 100), ("lo", "n2", "2", 1)], "2", "n2", ["lo"]),
    ("lowest highest-victim priority", [("p10", "n1", "2", 10), ("p5", "n2", "2", 5)], "2", "n2", ["p5"]),
    ("smaller sum of priorities", [("a", "n1", "1", 5), ("b", "n1", "1", 5), ("c", "n2", "1", 5), ("d", "n2", "1", 1)],
     "2", "n2", ["c", "d"]),
    ("fewest victims", [("a", "n1", "1", 0), ("b", "n1", "1", 0), ("c", "n2", "2", 0)], "2", "n2", ["c"]),
    ("minimal victims: the more important pod is reprieved",
     [("keep", "n1", "1", 9), ("go", "n1", "1", 1), ("block", "n2", "2", 100)], "1", "n1", ["go"]),
    ("victims listed most important first", [("v1", "n1", "1", 1), ("v2", "n1", "1", 2), ("block", "n2", "2", 100)],
     "2", "n1", ["v2", "v1"]),
]


@pytest.mark.parametrize("name,running,cpu,expected_node,expected_victims", CHOICES, ids=[c[0] for c in CHOICES])
def test_candidate_choice(name, running, cpu, expected_node, expected_victims):
    nodes = [node("n1", cpu="2"), node("n2", cpu="2")]
    pods = [pod(n, cpu=c, node_name=where, priority=prio) for n, where, c, prio in running]
    result, status, _ = preempt(nodes, pods, pod("p", cpu=cpu, priority=50))
    assert status.is_success(), status
    assert (result.nominated_node_name, names(result.victims)) == (expected_node, expected_victims)


def test_latest_start_time_breaks_the_last_tie():
    nodes = [node("n1", cpu="1"), node("n2", cpu="1")]
    pods = [pod("old", cpu="1", node_name="n1", priority=1, start="2026-01-01T00:00:00Z"),
            pod("new", cpu="1", node_name="n2", priority=1, start="2026-01-02T00:00:00Z")]
    result, _, _ = preempt(nodes, pods, pod("p", cpu="1", priority=5))
    assert (result.nominated_node_name, names(result.victims)) == ("n2", ["new"])


def test_pdb_protected_pods_are_avoided():
    pdb = {"metadata": {"name": "db", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "db"}}},
           "status": {"disruptionsAllowed": 0}}
    nodes = [node("n1", cpu="1"), node("n2", cpu="1")]
    pods = [pod("db", cpu="1", node_name="n1", priority=1, labels={"app": "db"}),
            pod("web", cpu="1", node_name="n2", priority=3, labels={"app": "web"})]
    result, _, _ = preempt(nodes, pods, pod("p", cpu="1", priority=5), pdb_lister=lambda: [pdb])
    assert (result.nominated_node_name, names(result.victims)) == ("n2", ["web"])


def test_pdb_split():
    pdb = {"metadata": {"namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "a"}}},
           "status": {"disruptionsAllowed": 1, "disruptedPods": {"a0": "2026-01-01T00:00:00Z"}}}
    pods = [pod("a0", labels={"app": "a"}), pod("a1", labels={"app": "a"}), pod("a2", labels={"app": "a"}),
            pod("b", labels={"app": "b"}), pod("nolabels")]
    violating, ok = filter_pods_with_pdb_violation(pods, [pdb])
    assert (names(violating), names(ok)) == (["a2"], ["a0", "a1", "b", "nolabels"])


def test_the_failed_scheduling_message():
    # 3 workers full of pods at the preemptor's priority, 2 tainted control-plane nodes.
    nodes = [node(f"w{i}", cpu="2") for i in range(3)] + [node(f"cp{i}", taints=[CONTROL_PLANE_TAINT]) for i in range(2)]
    pods = [pod(f"r{i}", cpu="2", node_name=f"w{i}", priority=10) for i in range(3)]
    result, status, fit_error = preempt(nodes, pods, pod("p", cpu="1", priority=10))
    assert status.code == Code.Unschedulable and result.nominated_node_name == ""
    assert str(fit_error) == (
        "0/5 nodes are available: 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "3 Insufficient cpu. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, "
        "3 No preemption victims found for incoming pod.")


def test_nothing_to_preempt_when_every_node_is_unresolvable():
    nodes = [node("cp", taints=[CONTROL_PLANE_TAINT])]
    _, status, fit_error = preempt(nodes, [], pod("p"))
    assert str(fit_error) == ("0/1 nodes are available: 1 node(s) had untolerated taint "
                              "{node-role.kubernetes.io/control-plane: }. preemption: 0/1 nodes are available: "
                              "1 Preemption is not helpful for scheduling.")


def test_still_no_fit_after_removing_every_lower_priority_pod():
    nodes = [node("n1", cpu="2")]
    pods = [pod("lo", cpu="1", node_name="n1", priority=1), pod("hi", cpu="1", node_name="n1", priority=100)]
    _, status, fit_error = preempt(nodes, pods, pod("p", cpu="2", priority=50))
    assert status.message() == "preemption: 0/1 nodes are available: 1 Insufficient cpu."


def test_preemption_policy_never():
    nodes = [node("n1", cpu="1")]
    pods = [pod("lo", cpu="1", node_name="n1", priority=1)]
    _, status, _ = preempt(nodes, pods, pod("p", cpu="1", priority=50, preemptionPolicy="Never"))
    assert (status.code, status.message()) == (Code.Unschedulable,
                                               "preemption: not eligible due to preemptionPolicy=Never.")


def test_waits_for_its_earlier_victims():
    nodes = [node("n1", cpu="1")]
    leaving = pod("lo", cpu="1", node_name="n1", priority=1)
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    leaving["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}]
    p = pod("p", cpu="1", priority=50)
    p["status"]["nominatedNodeName"] = "n1"
    _, status, _ = preempt(nodes, [leaving], p)
    assert status.message() == "preemption: not eligible due to a terminating pod on the nominated node."


def test_the_random_offset_comes_from_the_seeded_rng():
    # Six equal candidates: kube starts its dry run at a random Node and keeps the first one found.
    nodes = [node(f"n{i}", cpu="1") for i in range(6)]
    pods = [pod(f"lo{i}", cpu="1", node_name=f"n{i}", priority=1) for i in range(6)]
    choice = {seed: preempt(nodes, pods, pod("p", cpu="1", priority=5), seed=seed)[0].nominated_node_name
              for seed in range(12)}
    assert choice[3] == preempt(nodes, pods, pod("p", cpu="1", priority=5), seed=3)[0].nominated_node_name
    assert len(set(choice.values())) > 1


def test_select_candidate_prefers_no_pdb_violations():
    lo, hi = pod("lo", priority=1), pod("hi", priority=9)
    assert select_candidate([Candidate("a", [lo], 1), Candidate("b", [hi], 0)]).name == "b"
    assert select_candidate([Candidate("a", [hi]), Candidate("b", [lo])]).name == "b"
    assert select_candidate([Candidate("a", [lo]), Candidate("b", [lo])]).name == "a"  # the first one found
