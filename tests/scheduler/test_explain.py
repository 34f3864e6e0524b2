"""The explain table the book prints: each Filter plugin's verdict and each Score plugin's weighted score."""

from __future__ import annotations

from kitlib.scheduler.explain import explain

from .helpers import CONTROL_PLANE_TAINT, default_framework, infos, node, pod, taint

PREFER_SSD = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 1, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}


def cluster():
    nodes = [node("cp", taints=[CONTROL_PLANE_TAINT]), node("small", cpu="1"), node("ssd", labels={"disk": "ssd"}),
             node("hdd", labels={"disk": "hdd"}, taints=[taint("spot", "yes", "PreferNoSchedule")])]
    return infos(nodes, [pod("r", cpu="1", memory="1Gi", node_name="hdd")])


def test_explain_table():
    e = explain(default_framework(), pod("web", cpu="2", memory="1Gi", affinity=PREFER_SSD), cluster())
    assert e.feasible() == ["ssd", "hdd"] and e.best() == ["ssd"]
    assert e.filter_table()[1:] == [
        ["cp", "ok", "ok", "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }", "skip", "ok",
         "skip", "TaintToleration: node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"],
        ["small", "ok", "ok", "ok", "skip", "Insufficient cpu", "skip", "NodeResourcesFit: Insufficient cpu"],
        ["ssd", "ok", "ok", "ok", "skip", "ok", "skip", "ok"],
        ["hdd", "ok", "ok", "ok", "skip", "ok", "skip", "ok"],
    ]
    # ssd: no PreferNoSchedule taint (100 x3), preferred (100 x2), LeastAllocated (50 + 87) / 2 = 68,
    # balanced 1 - |0.5 - 0.125| / 2 -> 81.  hdd: (25 + 75) / 2 = 50, 1 - |0.75 - 0.25| / 2 -> 75.
    assert e.score_table() == [
        ["NODE", "TaintToleration(x3)", "NodeAffinity(x2)", "NodeResourcesFit(x1)",
         "NodeResourcesBalancedAllocation(x1)", "TOTAL"],
        ["ssd", "300", "200", "68", "81", "649"],
        ["hdd", "0", "0", "50", "75", "125"],
    ]
    ssd = e.nodes[2]
    assert (ssd.scores["NodeResourcesFit"].raw, ssd.scores["NodeAffinity"].raw, ssd.total) == (68, 1, 649)
    text = e.render()
    assert text.splitlines()[0].split() == ["NODE", "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
                                            "NodeResourcesFit", "PodTopologySpread", "RESULT"]
    assert "ssd   300" in text


def test_explain_when_pre_filter_rejects():
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]},
                         {"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}
    e = explain(default_framework(), pod("web", affinity=affinity), cluster())
    assert e.feasible() == [] and e.render().startswith("PreFilter NodeAffinity: pod affinity terms conflict")
    assert e.filter_table()[1][-1] == "NodeAffinity: pod affinity terms conflict"
