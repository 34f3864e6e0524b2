"""NodeResourcesBalancedAllocation: prefer Nodes whose resources would be used evenly.

A Node at 90% CPU and 10% memory strands its memory: no Pod needing CPU can
use it. This Score plugin computes, with the Pod added, the fraction of
each resource requested on the Node (capped at 1), and scores
``(1 - standard deviation of the fractions) * 100``; with the usual two
resources the deviation is ``|cpu - memory| / 2`` (after Wei Huang et al.,
"An Energy Efficient Virtual Machine Placement Algorithm with Balanced
Resource Utilization"; ``noderesources/balanced_allocation.go``).

It counts actual requests (not the non-zero defaults), and it skips Pods
that request nothing at all: scoring them would pull every best-effort Pod
onto the same Node (kubernetes#129138).

The arithmetic is an extension point: the plugin calls the slot
:data:`scorer` (``scheduler.plugins.balanced_allocation.scorer``), which holds
:func:`balanced_resource_scorer`, so an exercise can put the reader's
version in the running scheduler.

Simplifications: none beyond :mod:`.resource_allocation`'s.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from kitlib.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, Handle, Status
from kitlib.scheduler.nodeinfo import NodeInfo
from kitlib.scheduler.plugins import resource_allocation as ra
from kitlib.slots import Slot

NAME = "NodeResourcesBalancedAllocation"
PRE_SCORE_STATE_KEY = "PreScore" + NAME


def balanced_resource_scorer(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    """``balancedResourceScorer``: ``int((1 - std) * 100)`` over the resources the Node has."""
    fractions = [min(req / alloc, 1.0) for req, alloc in zip(requested, allocatable) if alloc != 0]
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)  # int() truncates toward zero, as Go's int64() does


scorer = Slot(
    "scheduler.plugins.balanced_allocation.scorer",
    balanced_resource_scorer,
    doc="(requested, allocatable) -> int: a Node's balance score, one entry per configured resource.",
)


class BalancedAllocation:
    """PreScore + Score: favour Nodes whose cpu and memory fractions stay close."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.resources = list((args or {}).get("resources") or ra.DEFAULT_RESOURCES)

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        requests = ra.pod_request_list(pod, self.resources, use_requested=True)
        if not any(requests):
            return Status.new(Code.Skip)  # a best-effort Pod: every Node would look equally balanced
        state.write(PRE_SCORE_STATE_KEY, requests)
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        requests = state.get(PRE_SCORE_STATE_KEY)
        if requests is None:
            requests = ra.pod_request_list(pod, self.resources, use_requested=True)
        # scorer.current: the slot's function itself (the reader's, in an exercise), without the slot's
        # own call frame for each of the hundreds of Nodes scored per Pod.
        return ra.score_node(scorer.current, node_info, self.resources, requests, True), None

    def score_extensions(self) -> None:
        return None
