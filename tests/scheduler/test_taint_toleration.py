"""TaintToleration: kube's toleration rules, its exact reason, and reversed PreferNoSchedule scoring."""

from __future__ import annotations

import pytest

from kitlib.scheduler.framework import Code
from kitlib.scheduler.plugins.helper import tolerates_taint
from kitlib.scheduler.plugins.taint_toleration import TaintToleration

from .helpers import CONTROL_PLANE_TAINT, info, node, pod, run_filter, run_score, taint

# (name, toleration, taint, tolerated?) -- Toleration.ToleratesTaint
TOLERATES = [
    ("equal key value effect", {"key": "k", "value": "v", "effect": "NoSchedule"}, taint("k", "v"), True),
    ("empty operator is Equal", {"key": "k", "operator": "", "value": "v"}, taint("k", "v"), True),
    ("Equal, other value", {"key": "k", "operator": "Equal", "value": "x"}, taint("k", "v"), False),
    ("Exists ignores the value", {"key": "k", "operator": "Exists"}, taint("k", "v"), True),
    ("empty key with Exists tolerates all", {"operator": "Exists"}, taint("k", "v", "NoExecute"), True),
    ("effect must match when given", {"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint("k"), False),
    ("empty effect matches every effect", {"key": "k", "operator": "Exists"}, taint("k", effect="PreferNoSchedule"),
     True),
    ("other key", {"key": "j", "operator": "Exists"}, taint("k"), False),
    ("unknown operator", {"key": "k", "operator": "Gt", "value": "1"}, taint("k", "2"), False),
    ("Equal with no value matches a taint with no value", {"key": "k", "effect": "NoSchedule"}, taint("k"), True),
]


@pytest.mark.parametrize("name,toleration,t,expected", TOLERATES, ids=[c[0] for c in TOLERATES])
def test_tolerates_taint(name, toleration, t, expected):
    assert tolerates_taint(toleration, t) is expected


# (name, node taints, pod tolerations, expected code, expected reason)
FILTER = [
    ("no taints", [], [], Code.Success, None),
    ("control plane", [CONTROL_PLANE_TAINT], [], Code.UnschedulableAndUnresolvable,
     "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
    ("value shown", [taint("dedicated", "gpu")], [], Code.UnschedulableAndUnresolvable,
     "node(s) had untolerated taint {dedicated: gpu}"),
    ("NoExecute rejects too", [taint("k", "v", "NoExecute")], [], Code.UnschedulableAndUnresolvable,
     "node(s) had untolerated taint {k: v}"),
    ("PreferNoSchedule does not reject", [taint("k", "v", "PreferNoSchedule")], [], Code.Success, None),
    ("tolerated", [taint("dedicated", "gpu")], [{"key": "dedicated", "value": "gpu"}], Code.Success, None),
    ("first untolerated is named", [taint("a", "1"), taint("b", "2")], [{"key": "a", "operator": "Exists"}],
     Code.UnschedulableAndUnresolvable, "node(s) had untolerated taint {b: 2}"),
]


@pytest.mark.parametrize("name,taints,tolerations,code,reason", FILTER, ids=[c[0] for c in FILTER])
def test_filter(name, taints, tolerations, code, reason):
    status = run_filter(TaintToleration(), pod("p", tolerations=tolerations), info(node("n1", taints=taints)))
    assert status.code == code
    assert status.message() == (reason or "")


def test_score_counts_intolerable_prefer_no_schedule_and_reverses():
    prefer = lambda key: taint(key, "v", "PreferNoSchedule")  # noqa: E731
    nodes = [info(node("none")), info(node("one", taints=[prefer("a")])),
             info(node("two", taints=[prefer("a"), prefer("b")])),
             info(node("tolerated", taints=[prefer("c"), taint("d", "v", "NoSchedule")]))]
    # Only PreferNoSchedule (or effect-less) tolerations count; the NoSchedule taint is Filter's business.
    p = pod("p", tolerations=[{"key": "c", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert run_score(TaintToleration(), p, nodes) == {"none": 100, "one": 50, "two": 0, "tolerated": 100}


def test_score_all_zero_means_all_best():
    assert run_score(TaintToleration(), pod("p"), [info(node("a")), info(node("b"))]) == {"a": 100, "b": 100}
