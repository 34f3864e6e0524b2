"""Scoring a Node by how full it would be: the strategies NodeResourcesFit and BalancedAllocation share.

For each configured resource (by default cpu and memory, weight 1 each) the
scorer compares what would be requested on the Node *with this Pod* to the
Node's allocatable amount (``pkg/scheduler/framework/plugins/noderesources``):

- **LeastAllocated** (the default): ``(allocatable - requested) * 100 / allocatable``
  per resource, then the weighted average: spread Pods onto empty Nodes.
  A 4-CPU Node with 1 CPU requested scores ``(4000 - 1000) * 100 / 4000 = 75``.
- **MostAllocated**: ``requested * 100 / allocatable``: pack Pods tightly
  (bin packing), leaving whole Nodes free for big Pods or for scale-down.
- **RequestedToCapacityRatio**: a broken-line function of utilisation
  given as points ``(utilization 0-100, score 0-10)``, scaled to 0-100.

All arithmetic is integer, truncating as Go's does. CPU and memory count
the *non-zero* requests (a container with no request counts as 100m and
200Mi), so that request-less Pods do not all land on one Node; a resource
the Node does not have, or an extended resource the Pod does not ask for,
is left out of the average.

Simplifications:
- No DRA-backed extended resources.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

from kitlib.scheduler.framework import MAX_NODE_SCORE
from kitlib.scheduler.nodeinfo import CPU, EPHEMERAL_STORAGE, MEMORY, NON_ZERO_DEFAULTS, NodeInfo, \
    is_scalar_resource_name, pod_requests
from kitlib.scheduler.plugins.helper import go_round

LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO = \
    "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"
DEFAULT_RESOURCES: tuple[Mapping[str, Any], ...] = ({"name": CPU, "weight": 1}, {"name": MEMORY, "weight": 1})
MAX_UTILIZATION = 100
MAX_CUSTOM_PRIORITY_SCORE = 10  # RequestedToCapacityRatio's shape scores go 0..10

Scorer = Callable[[Sequence[int], Sequence[int]], int]


def pod_request_list(pod: Mapping[str, Any], resources: Sequence[Mapping[str, Any]], use_requested: bool) -> list[int]:
    """The Pod's request for each resource, cpu in millicores (``calculatePodResourceRequestList``)."""
    amounts = pod_requests(pod, None if use_requested else NON_ZERO_DEFAULTS)
    out = []
    for spec in resources:
        value = amounts.get(spec["name"], 0)
        out.append(math.ceil(value * 1000) if spec["name"] == CPU else math.ceil(value))
    return out


def allocatable_and_requested(node_info: NodeInfo, resource: str, pod_request: int,
                              use_requested: bool) -> tuple[int, int]:
    """(allocatable, requested including this Pod) (``calculateResourceAllocatableRequest``).

    ``(0, 0)`` leaves the resource out: an extended resource the Pod does not
    request, or one the Node does not have.
    """
    requested = node_info.requested if use_requested else node_info.non_zero_requested
    if pod_request == 0 and is_scalar_resource_name(resource):
        return 0, 0
    if resource in (CPU, MEMORY):
        return node_info.allocatable.get(resource), requested.get(resource) + pod_request
    if resource == EPHEMERAL_STORAGE:
        return node_info.allocatable.ephemeral_storage, node_info.requested.ephemeral_storage + pod_request
    if resource in node_info.allocatable.scalar:
        return node_info.allocatable.scalar[resource], node_info.requested.scalar.get(resource, 0) + pod_request
    return 0, 0


def score_node(scorer: Scorer, node_info: NodeInfo, resources: Sequence[Mapping[str, Any]],
               pod_requests_list: Sequence[int], use_requested: bool) -> int:
    """``resourceAllocationScorer.score``: gather (requested, allocatable) per resource, then score."""
    sums = node_info.requested if use_requested else node_info.non_zero_requested
    node_allocatable = node_info.allocatable
    if len(resources) == 2 and resources[0]["name"] == CPU and resources[1]["name"] == MEMORY:
        # The default pair, read straight from the sums: this runs for every scored Node, for
        # NodeResourcesFit and for BalancedAllocation. A resource the Node lacks scores (0, 0).
        cpu, memory = node_allocatable.milli_cpu, node_allocatable.memory
        return scorer([sums.milli_cpu + pod_requests_list[0] if cpu else 0,
                       sums.memory + pod_requests_list[1] if memory else 0], [cpu, memory])
    requested, allocatable = [], []
    for spec, pod_request in zip(resources, pod_requests_list):
        name = spec["name"]
        if name == CPU:
            alloc, req = node_allocatable.milli_cpu, sums.milli_cpu + pod_request
        elif name == MEMORY:
            alloc, req = node_allocatable.memory, sums.memory + pod_request
        else:
            alloc, req = allocatable_and_requested(node_info, name, pod_request, use_requested)
        if alloc == 0:
            alloc = req = 0  # left out of the score
        requested.append(req)
        allocatable.append(alloc)
    return scorer(requested, allocatable)


def least_allocated_cpu_memory(node_info: NodeInfo, pod_requests_list: Sequence[int], weights: Sequence[int]) -> int:
    """``score_node(least_allocated_scorer(resources), ...)`` for resources exactly ``[cpu, memory]``.

    kube's default profile, and so the score every scheduled Pod computes for
    hundreds of Nodes: the same integer arithmetic in one call instead of
    five (gather, weigh, one score per resource).
    """
    sums, node_allocatable = node_info.non_zero_requested, node_info.allocatable
    node_score = weight_sum = 0
    capacity = node_allocatable.milli_cpu
    if capacity:
        requested = sums.milli_cpu + pod_requests_list[0]
        if requested <= capacity:  # more than the capacity scores 0; capacity > requested >= 0 here
            node_score += (capacity - requested) * MAX_NODE_SCORE // capacity * weights[0]
        weight_sum += weights[0]
    capacity = node_allocatable.memory
    if capacity:
        requested = sums.memory + pod_requests_list[1]
        if requested <= capacity:
            node_score += (capacity - requested) * MAX_NODE_SCORE // capacity * weights[1]
        weight_sum += weights[1]
    return _go_div(node_score, weight_sum) if weight_sum else 0


def _go_div(a: int, b: int) -> int:
    """Go's integer division truncates toward zero (Python's // floors).

        >>> _go_div(7, 2), _go_div(-7, 2), _go_div(7, -2), _go_div(-6, 2)
        (3, -3, -3, -3)
    """
    q = a // b
    if q < 0 and q * b != a:  # a negative quotient with a remainder: floor is one below truncation
        q += 1
    return q


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return _go_div((capacity - requested) * MAX_NODE_SCORE, capacity)


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    # requested can exceed capacity: Pods without requests count the non-zero defaults.
    return _go_div(min(requested, capacity) * MAX_NODE_SCORE, capacity)


def _weighted(per_resource: Callable[[int, int], int], resources: Sequence[Mapping[str, Any]]) -> Scorer:
    weights = [int(spec.get("weight", 1)) for spec in resources]  # read once, not per scored Node

    def scorer(requested: Sequence[int], allocatable: Sequence[int]) -> int:
        node_score = weight_sum = 0
        for req, alloc, weight in zip(requested, allocatable, weights):
            if alloc == 0:
                continue
            node_score += per_resource(req, alloc) * weight
            weight_sum += weight
        return _go_div(node_score, weight_sum) if weight_sum else 0
    return scorer


def least_allocated_scorer(resources: Sequence[Mapping[str, Any]]) -> Scorer:
    return _weighted(least_requested_score, resources)


def most_allocated_scorer(resources: Sequence[Mapping[str, Any]]) -> Scorer:
    return _weighted(most_requested_score, resources)


def broken_linear_function(shape: Sequence[tuple[int, int]]) -> Callable[[int], int]:
    """Interpolate between ``(utilization, score)`` points, flat beyond the ends (``BuildBrokenLinearFunction``)."""
    def f(p: int) -> int:
        for i, (utilization, score) in enumerate(shape):
            if p <= utilization:
                if i == 0:
                    return shape[0][1]
                u0, s0 = shape[i - 1]
                return s0 + _go_div((score - s0) * (p - u0), utilization - u0)
        return shape[-1][1]
    return f


def requested_to_capacity_ratio_scorer(resources: Sequence[Mapping[str, Any]],
                                       shape: Sequence[Mapping[str, int]]) -> Scorer:
    """``requestedToCapacityRatioScorer``: shape scores (0-10) scaled by 10, weighted, rounded."""
    points = [(int(p["utilization"]), int(p["score"]) * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE))
              for p in shape]
    raw = broken_linear_function(points)

    def resource_score(requested: int, capacity: int) -> int:
        if capacity == 0 or requested > capacity:
            return raw(MAX_UTILIZATION)
        return raw(_go_div(requested * MAX_UTILIZATION, capacity))

    def scorer(requested: Sequence[int], allocatable: Sequence[int]) -> int:
        node_score = weight_sum = 0
        for i in range(len(requested)):
            if allocatable[i] == 0:
                continue
            weight = int(resources[i].get("weight", 1))
            score = resource_score(requested[i], allocatable[i])
            if score > 0:  # kube leaves zero-scoring resources out of the average
                node_score += score * weight
                weight_sum += weight
        return go_round(node_score / weight_sum) if weight_sum else 0
    return scorer

