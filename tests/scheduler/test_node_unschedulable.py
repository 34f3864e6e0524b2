"""NodeUnschedulable: a cordoned Node takes no new Pods, unless they tolerate the unschedulable taint."""

from __future__ import annotations

import pytest

from kitlib.scheduler.framework import Code
from kitlib.scheduler.plugins.node_unschedulable import ERR_REASON_UNSCHEDULABLE, NodeUnschedulable

from .helpers import info, node, pod, run_filter

UNSCHEDULABLE_TOLERATION = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}

# (name, unschedulable node?, tolerations, expected code)
CASES = [
    ("schedulable node", False, [], Code.Success),
    ("cordoned node", True, [], Code.UnschedulableAndUnresolvable),
    ("cordoned, tolerates the taint", True, [UNSCHEDULABLE_TOLERATION], Code.Success),
    ("cordoned, tolerates everything", True, [{"operator": "Exists"}], Code.Success),
    ("cordoned, tolerates another effect only", True,
     [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}],
     Code.UnschedulableAndUnresolvable),
]


@pytest.mark.parametrize("name,unschedulable,tolerations,code", CASES, ids=[c[0] for c in CASES])
def test_filter(name, unschedulable, tolerations, code):
    status = run_filter(NodeUnschedulable(), pod("p", tolerations=tolerations), info(node("n1", unschedulable=unschedulable)))
    assert status.code == code
    if code != Code.Success:
        assert status.reasons == (ERR_REASON_UNSCHEDULABLE,) == ("node(s) were unschedulable",)
        assert status.plugin == "NodeUnschedulable"
