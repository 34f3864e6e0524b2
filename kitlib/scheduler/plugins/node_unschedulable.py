"""NodeUnschedulable: keep new Pods off a cordoned Node.

``kubectl cordon`` sets a Node's ``spec.unschedulable``; the Node keeps its
Pods but takes no new ones. The node lifecycle controller also puts the
``node.kubernetes.io/unschedulable:NoSchedule`` taint on such a Node, so a
Pod that tolerates that taint (DaemonSet Pods do) tolerates the cordon too
(``pkg/scheduler/framework/plugins/nodeunschedulable``).

The rejection is UnschedulableAndUnresolvable: evicting Pods from a cordoned
Node would not let the Pod in.

Simplifications:
- No queueing hints (kube requeues the Pod when a Node's ``unschedulable`` turns false).
"""

from __future__ import annotations

from typing import Any, Mapping

from kitlib.scheduler.framework import Code, CycleState, Handle, Status
from kitlib.scheduler.nodeinfo import NodeInfo
from kitlib.scheduler.plugins.helper import NO_SCHEDULE, TAINT_NODE_UNSCHEDULABLE, pod_tolerations, \
    tolerations_tolerate_taint

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"

_UNSCHEDULABLE_TAINT = {"key": TAINT_NODE_UNSCHEDULABLE, "effect": NO_SCHEDULE}


class NodeUnschedulable:
    """Filter: reject a Node with ``spec.unschedulable`` unless the Pod tolerates the unschedulable taint."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        if not (node_info.node.get("spec") or {}).get("unschedulable"):
            return None
        if tolerations_tolerate_taint(pod_tolerations(pod), _UNSCHEDULABLE_TAINT):
            return None
        return Status.new(Code.UnschedulableAndUnresolvable, ERR_REASON_UNSCHEDULABLE)
