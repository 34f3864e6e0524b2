"""NodeName: a Pod that names its Node in ``spec.nodeName`` fits only that Node.

Usually a Pod with ``spec.nodeName`` never reaches the scheduler (it is
already bound), but the check keeps the framework honest for Pods whose name
was set by hand while another scheduler still considers them, and it is the
smallest Filter there is (``pkg/scheduler/framework/plugins/nodename``).
Preemption cannot change a name, so the rejection is UnschedulableAndUnresolvable.

Simplifications: none.
"""

from __future__ import annotations

from typing import Any, Mapping

from kitlib.scheduler.framework import Code, CycleState, Handle, Status
from kitlib.scheduler.nodeinfo import NodeInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def fits(pod: dict, node_info: NodeInfo) -> bool:
    """No ``spec.nodeName``, or the same name as this Node (``nodename.Fits``)."""
    wanted = (pod.get("spec") or {}).get("nodeName") or ""
    return not wanted or wanted == node_info.name


class NodeName:
    """Filter: reject every Node but the one the Pod names."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        if fits(pod, node_info):
            return None
        return Status.new(Code.UnschedulableAndUnresolvable, ERR_REASON)
