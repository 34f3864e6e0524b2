"""PodTopologySpread: skew against the global minimum, minDomains, inclusion policies, and ScheduleAnyway scores."""

from __future__ import annotations

import pytest

from kitlib.scheduler.framework import Code, CycleState
from kitlib.scheduler.plugins.pod_topology_spread import PodTopologySpread

from .helpers import framework_of, infos, node, pod, run_score, taint

FOO = {"matchLabels": {"app": "foo"}}


def spread(key: str = "zone", max_skew: int = 1, when: str = "DoNotSchedule", selector: dict | None = FOO,
           **extra) -> dict:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when, "labelSelector": selector, **extra}


def cluster(counts: dict[str, int], extra_nodes: tuple = (), other_pods: tuple = ()) -> list:
    """Nodes a1, a2 in zone a and b1, b2 in zone b; ``counts`` matching Pods per Node."""
    nodes = [node(n, labels={"zone": n[0]}) for n in ("a1", "a2", "b1", "b2")] + list(extra_nodes)
    pods = [pod(f"{n}-{i}", labels={"app": "foo"}, node_name=n) for n, c in counts.items() for i in range(c)]
    return infos(nodes, pods + list(other_pods))


def verdicts(p: dict, nodes: list) -> dict[str, str]:
    """Each Node's Filter outcome: "ok" or the status code name."""
    fwk = framework_of(PodTopologySpread(None, None))
    fwk.set_snapshot(nodes)
    state = CycleState()
    _, status, _ = fwk.run_pre_filter(state, p)
    assert status.is_success()
    out = {}
    for n in nodes:
        s = fwk.run_filter(state, p, n)
        out[n.name] = "ok" if s.is_success() else f"{s.code}: {s.message()}"
    return out


NOT_MATCH = "Unschedulable: node(s) didn't match pod topology spread constraints"

# (name, matching Pods per Node, constraint, expected verdict per Node)
FILTER = [
    ("zone a has 3, b has 1: only b", {"a1": 2, "a2": 1, "b1": 1}, spread(),
     {"a1": NOT_MATCH, "a2": NOT_MATCH, "b1": "ok", "b2": "ok"}),
    ("balanced 2/2: anywhere", {"a1": 2, "b2": 2}, spread(), {"a1": "ok", "a2": "ok", "b1": "ok", "b2": "ok"}),
    ("maxSkew 3 tolerates 3/1", {"a1": 3, "b1": 1}, spread(max_skew=3), {"a1": "ok", "a2": "ok", "b1": "ok", "b2": "ok"}),
    ("by hostname", {"a1": 1, "a2": 1, "b1": 1}, spread("kubernetes.io/hostname"),
     {"a1": NOT_MATCH, "a2": NOT_MATCH, "b1": NOT_MATCH, "b2": "ok"}),
    ("minDomains 3 with 2 zones: minimum taken as 0", {"a1": 1, "b1": 1}, spread(minDomains=3),
     {"a1": NOT_MATCH, "a2": NOT_MATCH, "b1": NOT_MATCH, "b2": NOT_MATCH}),
    ("the pod not matching itself adds nothing", {"a1": 2, "b1": 1}, spread(selector={"matchLabels": {"app": "bar"}}),
     {"a1": "ok", "a2": "ok", "b1": "ok", "b2": "ok"}),
]


@pytest.mark.parametrize("name,counts,constraint,expected", FILTER, ids=[c[0] for c in FILTER])
def test_filter(name, counts, constraint, expected):
    p = pod("p", labels={"app": "foo"}, topologySpreadConstraints=[constraint])
    assert verdicts(p, cluster(counts)) == expected


def test_node_without_the_topology_label_is_unresolvable():
    nodes = cluster({}, extra_nodes=(node("bare"),))
    p = pod("p", labels={"app": "foo"}, topologySpreadConstraints=[spread()])
    assert verdicts(p, nodes)["bare"] == \
        "UnschedulableAndUnresolvable: node(s) didn't match pod topology spread constraints (missing required label)"


def test_node_affinity_policy_honor_ignores_nodes_the_pod_cannot_use():
    # Zone c's node holds no matching pods but the pod's nodeSelector excludes it, so c is no domain.
    nodes = cluster({"a1": 1, "b1": 1}, extra_nodes=(node("c1", labels={"zone": "c", "pool": "other"}),))
    for n in nodes[:4]:
        n.node["metadata"]["labels"]["pool"] = "main"
    honor = pod("p", labels={"app": "foo"}, nodeSelector={"pool": "main"}, topologySpreadConstraints=[spread()])
    assert verdicts(honor, nodes)["a1"] == "ok"  # min is 1 (a, b): 1 + 1 - 1 = 1
    ignore = pod("p", labels={"app": "foo"}, nodeSelector={"pool": "main"},
                 topologySpreadConstraints=[spread(nodeAffinityPolicy="Ignore")])
    assert verdicts(ignore, nodes)["a1"] == NOT_MATCH  # min is 0 (c counts): 1 + 1 - 0 = 2


def test_node_taints_policy_honor_ignores_tainted_nodes():
    nodes = cluster({"a1": 1, "b1": 1}, extra_nodes=(node("c1", labels={"zone": "c"}, taints=[taint("k")]),))
    assert verdicts(pod("p", labels={"app": "foo"}, topologySpreadConstraints=[spread()]), nodes)["a1"] == NOT_MATCH
    honor = pod("p", labels={"app": "foo"}, topologySpreadConstraints=[spread(nodeTaintsPolicy="Honor")])
    assert verdicts(honor, nodes)["a1"] == "ok"


def test_other_namespaces_and_terminating_pods_do_not_count():
    gone = pod("gone", labels={"app": "foo"}, node_name="a1")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    elsewhere = pod("x", labels={"app": "foo"}, node_name="a1", namespace="other")
    nodes = cluster({"b1": 1}, other_pods=(gone, elsewhere))
    assert verdicts(pod("p", labels={"app": "foo"}, topologySpreadConstraints=[spread()]), nodes)["a1"] == "ok"


def test_match_label_keys_narrow_the_selector():
    old = [pod(f"old{i}", labels={"app": "foo", "rev": "1"}, node_name="a1") for i in range(3)]
    nodes = infos([node(n, labels={"zone": n[0]}) for n in ("a1", "b1")], old)
    p = pod("p", labels={"app": "foo", "rev": "2"}, topologySpreadConstraints=[spread(matchLabelKeys=["rev"])])
    assert verdicts(p, nodes) == {"a1": "ok", "b1": "ok"}  # only rev=2 pods count, and there are none


def test_no_constraints_skips():
    fwk = framework_of(PodTopologySpread(None, None))
    state = CycleState()
    _, status, _ = fwk.run_pre_filter(state, pod("p"))
    assert status.is_success() and state.skip_filter_plugins == {"PodTopologySpread"}


def test_preemption_updates_counts_through_remove_pod():
    nodes = cluster({"a1": 2, "b1": 1})
    p = pod("p", labels={"app": "foo"}, topologySpreadConstraints=[spread()])
    fwk = framework_of(PodTopologySpread(None, None))
    fwk.set_snapshot(nodes)
    state = CycleState()
    fwk.run_pre_filter(state, p)
    a1 = nodes[0].clone()
    assert fwk.run_filter(state, p, a1).code == Code.Unschedulable  # 2 + 1 - 1 = 2
    copy = state.clone()
    victim = a1.pods[0]
    a1.remove_pod(victim)
    fwk.run_pre_filter_extension_remove_pod(copy, p, victim, a1)
    assert fwk.run_filter(copy, p, a1).is_success()  # 1 + 1 - 1 = 1
    assert fwk.run_filter(state, p, nodes[0]).code == Code.Unschedulable  # the original state is untouched


def test_score_schedule_anyway_by_hostname():
    # log(3 + 2) = 1.609 per matching pod, maxSkew 1 adds 0: raw 0, 2, 3 -> 100 * (3 + 0 - raw) / 3
    nodes = infos([node(n) for n in ("n0", "n1", "n2")],
                  [pod("x", labels={"app": "foo"}, node_name="n1")] +
                  [pod(f"y{i}", labels={"app": "foo"}, node_name="n2") for i in range(2)])
    p = pod("p", labels={"app": "foo"}, topologySpreadConstraints=[spread("kubernetes.io/hostname", when="ScheduleAnyway")])
    assert run_score(PodTopologySpread(None, None), p, nodes) == {"n0": 100, "n1": 33, "n2": 0}


def test_score_by_zone_ignores_nodes_without_the_label():
    nodes = cluster({"a1": 2, "b1": 1}, extra_nodes=(node("bare"),))
    p = pod("p", labels={"app": "foo"}, topologySpreadConstraints=[spread(when="ScheduleAnyway")])
    # 2 zones: weight log(4) = 1.386; zone a 2 pods -> 2.77 -> 3, zone b 1 -> 1.39 -> 1; 100*(3+1-s)/3
    assert run_score(PodTopologySpread(None, None), p, nodes) == {"a1": 33, "a2": 33, "b1": 100, "b2": 100, "bare": 0}


def test_score_skipped_without_soft_constraints():
    p = pod("p", labels={"app": "foo"}, topologySpreadConstraints=[spread()])
    assert run_score(PodTopologySpread(None, None), p, cluster({})) == dict.fromkeys(["a1", "a2", "b1", "b2"])
