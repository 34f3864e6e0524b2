"""One Pod's scheduling cycle as pure code: filter the Nodes, score the feasible ones, pick one.

The scheduler's loop pops a Pod from the queue and calls :func:`schedule_pod`
with a snapshot of its Node cache; the answer is a :class:`ScheduleResult`
naming a host, or carrying a :class:`~kitlib.scheduler.diagnosis.FitError`
(kube's ``schedulePod`` in ``pkg/scheduler/schedule_one.go``):

1. PreFilter; a rejection here rejects every Node at once.
2. The Pod's ``status.nominatedNodeName``, if any, is tried first: it is
   where an earlier preemption made room.
3. Filter, Node by Node, starting where the previous Pod's search stopped
   (``next_start_node_index``, so every Node gets examined over time), until
   :func:`~kitlib.scheduler.diagnosis.num_feasible_nodes_to_find` feasible
   Nodes are found.
4. One feasible Node: take it, no scoring. Several: PreScore, Score, and
   :func:`~kitlib.scheduler.diagnosis.select_host`.

On a FitError the loop calls :func:`run_post_filter` (preemption), then
records the message; on a host it reserves, permits, assumes the Pod in its
cache and runs :func:`binding_cycle`.

Simplifications:
- Sequential: kube filters 16 Nodes at a time and may find a few more
  feasible Nodes than it needs; here the search stops at exactly that many.
- No extenders; no scheduling-result cache (opportunistic batching).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kitlib.scheduler.diagnosis import Diagnosis, FitError, num_feasible_nodes_to_find, select_host
from kitlib.scheduler.framework import SUCCESS, Code, CycleState, NodePluginScores, PostFilterResult, Status
from kitlib.scheduler.nodeinfo import NodeInfo
from kitlib.scheduler.runtime import Framework, go_list

Obj = dict[str, Any]

ERR_NO_NODES_AVAILABLE = "no nodes available to schedule pods"


@dataclass
class ScheduleResult:
    """Where the Pod should go, or why nowhere.

    Exactly one of ``suggested_host`` (a Node name), ``fit_error`` (no Node
    fits: an expected outcome) and an Error ``status`` is set.
    """

    suggested_host: str = ""
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    fit_error: FitError | None = None
    status: Status = SUCCESS
    scores: list[NodePluginScores] = field(default_factory=list)
    next_start_node_index: int = 0


def schedule_pod(fwk: Framework, state: CycleState, pod: Obj, nodes: list[NodeInfo],
                 start_index: int = 0) -> ScheduleResult:
    """Run PreFilter, Filter, PreScore and Score for ``pod`` over ``nodes`` (``schedulePod``)."""
    fwk.set_snapshot(nodes)
    if not nodes:
        return ScheduleResult(status=Status.as_error(ERR_NO_NODES_AVAILABLE), next_start_node_index=start_index)
    feasible, diagnosis, status, next_index = find_nodes_that_fit(fwk, state, pod, nodes, start_index)
    if not status.is_success():
        return ScheduleResult(status=status, next_start_node_index=next_index)
    if not feasible:
        return ScheduleResult(evaluated_nodes=len(diagnosis.node_to_status), fit_error=FitError(pod, len(nodes), diagnosis),
                              next_start_node_index=next_index)
    evaluated = len(feasible) + len(diagnosis.node_to_status)
    if len(feasible) == 1:  # kube: "When only one node after predicate, just use it."
        return ScheduleResult(feasible[0].name, evaluated, 1, next_start_node_index=next_index)
    scores, status = prioritize_nodes(fwk, state, pod, feasible)
    if not status.is_success():
        return ScheduleResult(status=status, next_start_node_index=next_index)
    return ScheduleResult(select_host(scores, fwk.rng), evaluated, len(feasible), scores=scores,
                          next_start_node_index=next_index)


def find_nodes_that_fit(fwk: Framework, state: CycleState, pod: Obj, nodes: list[NodeInfo],
                        start_index: int = 0) -> tuple[list[NodeInfo], Diagnosis, Status, int]:
    """PreFilter, the nominated Node, then Filter (``findNodesThatFitPod``).

    Returns the feasible Nodes, the diagnosis, a status (Error only for the
    unexpected) and where the next Pod's search should start.
    """
    diagnosis = Diagnosis()
    result, status, narrowing = fwk.run_pre_filter(state, pod)
    diagnosis.unschedulable_plugins |= narrowing
    if not status.is_success():
        if not status.is_rejected():
            return [], diagnosis, status, start_index
        # Every Node gets PreFilter's status, so preemption sees the same reason everywhere.
        diagnosis.node_to_status.absent = status
        diagnosis.pre_filter_msg = status.message()
        diagnosis.add_plugin_status(status)
        return [], diagnosis, SUCCESS, start_index

    nominated = (pod.get("status") or {}).get("nominatedNodeName")
    if nominated:
        info = fwk.get_node_info(nominated)
        if info is not None and (result is None or result.all_nodes() or nominated in result.node_names):
            if fwk.run_filter(state, pod, info).is_success():
                return [info], diagnosis, SUCCESS, start_index

    candidates = nodes
    if result is not None and not result.all_nodes():
        candidates = [info for info in nodes if info.name in result.node_names]
        diagnosis.node_to_status.absent = Status.new(
            Code.UnschedulableAndUnresolvable, f"node(s) didn't satisfy plugin(s) {go_list(sorted(narrowing))}")
    feasible: list[NodeInfo] = []
    if candidates:
        wanted = num_feasible_nodes_to_find(len(candidates), fwk.profile.percentage_of_nodes_to_score)
        run_filter = fwk.filter_runner(state, pod)
        count = len(candidates)
        # Rotate without a modulo per Node: from start_index to the end, then from the start.
        start = start_index % count
        for info in candidates[start:] + candidates[:start]:
            status = run_filter(info)  # SUCCESS itself when the Node passes
            if status is SUCCESS:
                feasible.append(info)
                if len(feasible) >= wanted:  # numFeasibleNodesToFind: stop early, score only these
                    break
            elif status.code == Code.Error:
                return [], diagnosis, status, start_index
            else:
                diagnosis.node_to_status.set(info.name, status)
                diagnosis.add_plugin_status(status)
    processed = len(feasible) + len(diagnosis.node_to_status)
    return feasible, diagnosis, SUCCESS, (start_index + processed) % len(nodes)


def prioritize_nodes(fwk: Framework, state: CycleState, pod: Obj,
                     nodes: list[NodeInfo]) -> tuple[list[NodePluginScores], Status]:
    """PreScore then Score; without Score plugins every Node scores 1 (``prioritizeNodes``)."""
    if not fwk.score_plugins:
        return [NodePluginScores(info.name, [], 1) for info in nodes], SUCCESS
    status = fwk.run_pre_score(state, pod, nodes)
    if not status.is_success():
        return [], status
    return fwk.run_scores(state, pod, nodes)


def run_post_filter(fwk: Framework, state: CycleState, pod: Obj,
                    fit_error: FitError) -> tuple[PostFilterResult | None, Status]:
    """PostFilter (preemption) after a FitError; its message joins the FitError's (``PostFilterMsg``)."""
    result, status = fwk.run_post_filter(state, pod, fit_error.diagnosis.node_to_status)
    fit_error.diagnosis.post_filter_msg = status.message()
    return result, status


def binding_cycle(fwk: Framework, state: CycleState, pod: Obj, node_name: str) -> Status:
    """PreBind, Bind, PostBind; on failure, Unreserve (``bindingCycle``). Reserve and Permit come first."""
    status = fwk.run_pre_bind(state, pod, node_name)
    if status.is_success():
        status = fwk.run_bind(state, pod, node_name)
        if status.is_skip():
            status = Status.as_error("no bind plugin bound the pod")
    if not status.is_success():
        fwk.run_unreserve(state, pod, node_name)
        return status
    fwk.run_post_bind(state, pod, node_name)
    return SUCCESS
