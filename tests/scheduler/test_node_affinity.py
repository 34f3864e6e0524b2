"""NodeAffinity: nodeSelector, required terms (ORed) with their operators, PreFilter narrowing, preferred scores."""

from __future__ import annotations

import pytest

from kitlib.scheduler.framework import Code, CycleState, PreFilterResult
from kitlib.scheduler.plugins.node_affinity import ERR_REASON_POD, NodeAffinity

from .helpers import info, node, pod, run_filter, run_score


def required(*terms: list) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": exprs} if not isinstance(exprs, dict) else exprs
                              for exprs in terms]}}}


def expr(key: str, operator: str, *values: str) -> dict:
    return {"key": key, "operator": operator, **({"values": list(values)} if values else {})}


LABELS = {"zone": "a", "disk": "ssd", "cores": "8"}

# (name, pod spec fields, matches the node labelled LABELS?)
FILTER = [
    ("nothing asked", {}, True),
    ("nodeSelector matches", {"nodeSelector": {"zone": "a"}}, True),
    ("nodeSelector, other value", {"nodeSelector": {"zone": "b"}}, False),
    ("nodeSelector, every entry", {"nodeSelector": {"zone": "a", "gpu": "yes"}}, False),
    ("In", {"affinity": required([expr("zone", "In", "b", "a")])}, True),
    ("In, no such label", {"affinity": required([expr("rack", "In", "r1")])}, False),
    ("NotIn", {"affinity": required([expr("zone", "NotIn", "b")])}, True),
    ("NotIn matches a missing label", {"affinity": required([expr("rack", "NotIn", "r1")])}, True),
    ("NotIn, excluded value", {"affinity": required([expr("zone", "NotIn", "a")])}, False),
    ("Exists", {"affinity": required([expr("disk", "Exists")])}, True),
    ("DoesNotExist", {"affinity": required([expr("disk", "DoesNotExist")])}, False),
    ("Gt compares integers", {"affinity": required([expr("cores", "Gt", "4")])}, True),
    ("Gt, not greater", {"affinity": required([expr("cores", "Gt", "8")])}, False),
    ("Lt", {"affinity": required([expr("cores", "Lt", "16")])}, True),
    ("Gt on a non-integer label", {"affinity": required([expr("zone", "Gt", "1")])}, False),
    ("Gt with a bad value does not match", {"affinity": required([expr("cores", "Gt", "x")])}, False),
    ("expressions in a term are ANDed", {"affinity": required([expr("zone", "In", "a"), expr("disk", "In", "hdd")])},
     False),
    ("terms are ORed", {"affinity": required([expr("zone", "In", "b")], [expr("disk", "In", "ssd")])}, True),
    ("an empty term matches nothing", {"affinity": required({})}, False),
    ("nodeSelector AND affinity", {"nodeSelector": {"zone": "b"}, "affinity": required([expr("disk", "Exists")])},
     False),
    ("matchFields by name", {"affinity": required({"matchFields": [expr("metadata.name", "In", "n1")]})}, True),
    ("matchFields NotIn", {"affinity": required({"matchFields": [expr("metadata.name", "NotIn", "n1")]})}, False),
    ("unknown operator", {"affinity": required([expr("zone", "Near", "a")])}, False),
]


@pytest.mark.parametrize("name,spec,matches", FILTER, ids=[c[0] for c in FILTER])
def test_filter(name, spec, matches):
    status = run_filter(NodeAffinity(), pod("p", **spec), info(node("n1", labels=LABELS)))
    if matches:
        assert status.is_success(), status
    else:
        assert (status.code, status.message()) == (Code.UnschedulableAndUnresolvable, ERR_REASON_POD)
        assert status.message() == "node(s) didn't match Pod's node affinity/selector"


# (name, required terms, PreFilter result node names or None, status code)
PRE_FILTER = [
    ("no affinity: Skip", None, None, Code.Skip),
    ("label terms: all nodes", [[expr("zone", "In", "a")]], None, Code.Success),
    ("one term by name", [{"matchFields": [expr("metadata.name", "In", "n1", "n2")]}], {"n1", "n2"}, Code.Success),
    ("fields in a term intersect", [{"matchFields": [expr("metadata.name", "In", "n1", "n2"),
                                                     expr("metadata.name", "In", "n2", "n3")]}], {"n2"}, Code.Success),
    ("terms union", [{"matchFields": [expr("metadata.name", "In", "n1")]},
                     {"matchFields": [expr("metadata.name", "In", "n3")]}], {"n1", "n3"}, Code.Success),
    ("a term without names means all", [{"matchFields": [expr("metadata.name", "In", "n1")]},
                                        [expr("zone", "In", "a")]], None, Code.Success),
    ("conflicting names", [{"matchFields": [expr("metadata.name", "In", "n1"), expr("metadata.name", "In", "n2")]}],
     None, Code.UnschedulableAndUnresolvable),
]


@pytest.mark.parametrize("name,terms,names,code", PRE_FILTER, ids=[c[0] for c in PRE_FILTER])
def test_pre_filter(name, terms, names, code):
    p = pod("p", **({"affinity": required(*terms)} if terms is not None else {}))
    result, status = NodeAffinity().pre_filter(CycleState(), p, [])
    assert (status.code if status else Code.Success) == code
    assert result == (PreFilterResult(frozenset(names)) if names else None)
    if code == Code.UnschedulableAndUnresolvable:
        assert status.message() == "pod affinity terms conflict"


def preferred(*weighted: tuple) -> dict:
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "preference": {"matchExpressions": exprs}} for w, exprs in weighted]}}


def test_score_sums_matching_weights_and_normalises():
    nodes = [info(node("ssd-a", labels={"disk": "ssd", "zone": "a"})), info(node("ssd-b", labels={"disk": "ssd"})),
             info(node("hdd", labels={"disk": "hdd", "zone": "a"})), info(node("none"))]
    p = pod("p", affinity=preferred((5, [expr("disk", "In", "ssd")]), (3, [expr("zone", "In", "a")]),
                                    (0, [expr("disk", "Exists")])))
    # raw 8, 5, 3, 0 -> 100 * raw / 8
    assert run_score(NodeAffinity(), p, nodes) == {"ssd-a": 100, "ssd-b": 62, "hdd": 37, "none": 0}


def test_score_skipped_without_preferences():
    assert run_score(NodeAffinity(), pod("p"), [info(node("a"))]) == {"a": None}
