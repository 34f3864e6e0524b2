"""NodeResourcesFit: does the Pod's request fit in what the Node has left, and how full would the Node be?

Filter: for each resource, the Pod's request plus what the Node's Pods
already request must not exceed the Node's allocatable amount; and the Node
must have room for one more Pod. Every shortfall is a reason, in kube's
words and order: ``Too many pods``, ``Insufficient cpu``, ``Insufficient
memory``, ``Insufficient ephemeral-storage``, ``Insufficient <extended>``
(``pkg/scheduler/framework/plugins/noderesources/fit.go``).

Requests, not usage: the scheduler never looks at how busy a Node really is.
A Pod that requests nothing always fits (apart from the Pod count).

The status is Unschedulable -- deleting lower-priority Pods would free the
room -- unless the Pod asks for more than the whole Node has, which no
preemption can fix: then UnschedulableAndUnresolvable.

Score: one of the strategies of :mod:`.resource_allocation`, from the
plugin's args as in ``NodeResourcesFitArgs``::

    {"scoringStrategy": {"type": "MostAllocated", "resources": [{"name": "cpu", "weight": 1}, ...]}}

Simplifications:
- Pod-level resources and in-place resize are not considered (see :mod:`kitlib.scheduler.nodeinfo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from kitlib.scheduler.framework import Code, CycleState, Handle, PreFilterResult, Status
from kitlib.scheduler.nodeinfo import CPU, EPHEMERAL_STORAGE, MEMORY, PODS, NodeInfo, Resource, pod_resource
from kitlib.scheduler.plugins import resource_allocation as ra

NAME = "NodeResourcesFit"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME


@dataclass(frozen=True)
class InsufficientResource:
    """One shortfall (``noderesources.InsufficientResource``)."""

    resource_name: str
    reason: str
    requested: int
    used: int
    capacity: int
    unresolvable: bool = False


def fits_request(request: Resource, node_info: NodeInfo, ignored_resources: frozenset[str] = frozenset(),
                 ignored_groups: frozenset[str] = frozenset()) -> list[InsufficientResource]:
    """Every resource the Node lacks for ``request`` (``fitsRequest``); empty when it fits."""
    allocatable, used = node_info.allocatable, node_info.requested
    # The common case first, in plain integer comparisons: it runs for every Node the search visits.
    cpu, memory, storage = request.milli_cpu, request.memory, request.ephemeral_storage
    if (len(node_info.pods) < allocatable.allowed_pod_number
            and (cpu <= 0 or cpu <= allocatable.milli_cpu - used.milli_cpu)
            and (memory <= 0 or memory <= allocatable.memory - used.memory)
            and (storage <= 0 or storage <= allocatable.ephemeral_storage - used.ephemeral_storage)
            and not request.scalar):
        return []
    out = []
    if len(node_info.pods) + 1 > allocatable.allowed_pod_number:
        out.append(InsufficientResource(PODS, "Too many pods", 1, len(node_info.pods), allocatable.allowed_pod_number))
    for name, reason in ((CPU, "Insufficient cpu"), (MEMORY, "Insufficient memory"),
                         (EPHEMERAL_STORAGE, "Insufficient ephemeral-storage")):
        want, have, cap = request.get(name), used.get(name), allocatable.get(name)
        if want > 0 and want > cap - have:
            out.append(InsufficientResource(name, reason, want, have, cap, unresolvable=want > cap))
    for name in sorted(request.scalar):  # Go ranges over a map in random order; sorted is one of those orders
        want = request.scalar[name]
        if want == 0:
            continue
        if name in ignored_resources or name.split("/")[0] in ignored_groups:
            continue
        have, cap = used.scalar.get(name, 0), allocatable.scalar.get(name, 0)
        if want > cap - have:
            out.append(InsufficientResource(name, f"Insufficient {name}", want, have, cap, unresolvable=want > cap))
    return out


def fits(pod: dict, node_info: NodeInfo) -> list[InsufficientResource]:
    """``noderesources.Fits``: the shortfalls of ``pod`` on ``node_info``."""
    return fits_request(pod_resource(pod), node_info)


class Fit:
    """PreFilter + Filter on requests; PreScore + Score with a scoring strategy."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        args = args or {}
        self.ignored_resources = frozenset(args.get("ignoredResources") or ())
        self.ignored_groups = frozenset(args.get("ignoredResourceGroups") or ())
        strategy = args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type") or ra.LEAST_ALLOCATED
        self.resources = list(strategy.get("resources") or ra.DEFAULT_RESOURCES)
        if self.strategy == ra.LEAST_ALLOCATED:
            self.scorer = ra.least_allocated_scorer(self.resources)
        elif self.strategy == ra.MOST_ALLOCATED:
            self.scorer = ra.most_allocated_scorer(self.resources)
        elif self.strategy == ra.REQUESTED_TO_CAPACITY_RATIO:
            shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape")
            if not shape:
                raise ValueError("scoringStrategy.requestedToCapacityRatio.shape: Required value")
            self.scorer = ra.requested_to_capacity_ratio_scorer(self.resources, shape)
        else:
            raise ValueError(f"scoring strategy {self.strategy} is not supported")
        # The default profile's strategy gets one specialised function (same results, fewer calls per Node).
        self.cpu_memory_weights: tuple[int, int] | None = None
        if self.strategy == ra.LEAST_ALLOCATED and [r.get("name") for r in self.resources] == [CPU, MEMORY]:
            self.cpu_memory_weights = (int(self.resources[0].get("weight", 1)), int(self.resources[1].get("weight", 1)))

    def pre_filter(self, state: CycleState, pod: dict,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        state.write(PRE_FILTER_STATE_KEY, pod_resource(pod))  # computed once, read for every Node
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        request = state.get(PRE_FILTER_STATE_KEY)
        if request is None:
            return Status.as_error(f'error reading "{PRE_FILTER_STATE_KEY}" from cycleState: not found')
        insufficient = fits_request(request, node_info, self.ignored_resources, self.ignored_groups)
        if not insufficient:
            return None
        code = Code.UnschedulableAndUnresolvable if any(r.unresolvable for r in insufficient) else Code.Unschedulable
        return Status(code, tuple(r.reason for r in insufficient))

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        state.write(PRE_SCORE_STATE_KEY, ra.pod_request_list(pod, self.resources, use_requested=False))
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        requests = state.get(PRE_SCORE_STATE_KEY)
        if requests is None:
            requests = ra.pod_request_list(pod, self.resources, use_requested=False)
        if self.cpu_memory_weights is not None:
            return ra.least_allocated_cpu_memory(node_info, requests, self.cpu_memory_weights), None
        return ra.score_node(self.scorer, node_info, self.resources, requests, use_requested=False), None

    def score_extensions(self) -> None:
        return None
