"""The nominator: which Node each preempting Pod waits for (``kitlib.scheduler.nominator``)."""

from __future__ import annotations

import pytest

from kitlib.scheduler.nominator import Nominator


def pod(name: str, nominated: str = "", node: str = "") -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"nodeName": node} if node else {},
            "status": {"nominatedNodeName": nominated} if nominated else {}}


# Calls in order, then the Pods nominated per Node.
CASES = [
    ("from the status", [("nominate", pod("a", "n1"), None)], {"n1": ["a"]}),
    ("a name overrides the status", [("nominate", pod("a", "n1"), "n2")], {"n2": ["a"]}),
    ("an empty name clears", [("nominate", pod("a", "n1"), None), ("nominate", pod("a", "n1"), "")], {}),
    ("a bound Pod is not nominated", [("nominate", pod("a", "n1", node="n1"), None)], {}),
    ("one Node per Pod", [("nominate", pod("a"), "n1"), ("nominate", pod("a"), "n2")], {"n2": ["a"]}),
    ("nomination order", [("nominate", pod("b"), "n1"), ("nominate", pod("a"), "n1")], {"n1": ["b", "a"]}),
    ("an update without the field keeps the in-memory nomination",
     [("nominate", pod("a"), "n1"), ("update", pod("a"), pod("a"))], {"n1": ["a"]}),
    ("an update with the field follows it",
     [("nominate", pod("a"), "n1"), ("update", pod("a"), pod("a", "n2"))], {"n2": ["a"]}),
    ("delete", [("nominate", pod("a"), "n1"), ("delete", "default/a", None)], {}),
]


@pytest.mark.parametrize("calls,want", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_nominations(calls, want):
    nominator = Nominator()
    for method, first, second in calls:
        if method == "delete":
            nominator.delete(first)
        else:
            getattr(nominator, method)(first, second)
    got = {node: [p["metadata"]["name"] for p in nominator.pods_for_node(node)] for node in ("n1", "n2")}
    assert {node: names for node, names in got.items() if names} == want
