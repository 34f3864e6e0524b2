"""DefaultPreemption: when no Node fits, find one where evicting lower-priority Pods would make room.

Priority comes from the Pod's PriorityClass, which the API server copies
into ``spec.priority``. After Filter rejected every Node, this PostFilter
plugin (``pkg/scheduler/framework/preemption`` and ``plugins/defaultpreemption``):

1. Checks the Pod may preempt: not ``preemptionPolicy: Never``, and not
   already waiting for victims it evicted earlier to terminate.
2. Takes the Nodes whose rejection was *Unschedulable* (UnschedulableAndUnresolvable
   ones, such as a taint or a node selector, cannot be helped) and, starting
   at a random offset, dry-runs each: remove every lower-priority Pod from a
   copy of the Node; if the Pod still does not fit, the Node is no candidate.
   Otherwise put the removed Pods back one by one, most important first, and
   keep back each one that still lets the Pod fit: the rest are the victims.
   PodDisruptionBudget-protected Pods are given back first.
3. Picks the candidate with, in order: the fewest PDB violations; the lowest
   highest-victim priority; the lowest sum of victim priorities; the fewest
   victims; the latest start time among the highest-priority victims; then
   the first one found.
4. Returns that Node as the Pod's nominated Node, with the victims. The
   caller deletes the victims and sets ``status.nominatedNodeName``; the Pod
   is retried once they are gone.

Simplifications:
- The caller deletes victims (kube's plugin deletes them itself, after
  setting their ``DisruptionTarget`` condition) and clears lower-priority
  nominations; extenders are not asked.
- PodDisruptionBudgets come from ``args["pdb_lister"]`` (a callable
  returning PDB dicts), if given; otherwise none are considered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from kitlib.api.errors import InvalidSelector
from kitlib.api.meta import labels as labels_of, name as name_of, namespace, parse_rfc3339
from kitlib.api.selectors import selector_from_label_selector
from kitlib.scheduler.diagnosis import Diagnosis, FitError
from kitlib.scheduler.framework import Code, CycleState, Handle, NodeToStatus, PostFilterResult, Status
from kitlib.scheduler.nodeinfo import NodeInfo, pod_priority

log = logging.getLogger(__name__)

NAME = "DefaultPreemption"
MSG_NO_VICTIMS = "No preemption victims found for incoming pod"
MSG_NOT_HELPFUL = "Preemption is not helpful for scheduling"
MSG_POLICY_NEVER = "not eligible due to preemptionPolicy=Never."
MSG_TERMINATING = "not eligible due to a terminating pod on the nominated node."
# DefaultPreemptionArgs: try at least 10% of the Nodes, and at least 100 of them.
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100


@dataclass
class Candidate:
    """A Node where the Pod would fit once ``victims`` are gone."""

    name: str
    victims: list[dict]
    num_pdb_violations: int = 0


def _start_time(pod: dict) -> float:
    stamp = (pod.get("status") or {}).get("startTime")
    return parse_rfc3339(stamp) if stamp else float("inf")  # not started: "now", later than any start


def more_important_pod(a: dict, b: dict) -> bool:
    """Higher priority first; at equal priority, the one that started earlier (``MoreImportantPod``)."""
    pa, pb = pod_priority(a), pod_priority(b)
    if pa != pb:
        return pa > pb
    return _start_time(a) < _start_time(b)


def _importance_key(pod: dict) -> tuple[int, float]:
    return -pod_priority(pod), _start_time(pod)


def _terminating_by_preemption(pod: dict) -> bool:
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "DisruptionTarget" and c.get("reason") == "PreemptionByScheduler"
               for c in (pod.get("status") or {}).get("conditions") or [])


def filter_pods_with_pdb_violation(pods: list[dict], pdbs: list[dict]) -> tuple[list[dict], list[dict]]:
    """Split ``pods`` into (would violate a PDB if evicted, would not) (``filterPodsWithPDBViolation``)."""
    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed", 0)) for pdb in pdbs]
    violating, non_violating = [], []
    for pod in pods:
        violated = False
        if labels_of(pod):  # a Pod without labels matches no PDB
            for i, pdb in enumerate(pdbs):
                if namespace(pdb) != namespace(pod):
                    continue
                try:
                    selector = selector_from_label_selector((pdb.get("spec") or {}).get("selector"))
                except InvalidSelector:
                    continue
                if selector.empty or selector.selects_nothing or not selector.matches(labels_of(pod)):
                    continue
                if name_of(pod) in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue  # already counted by the disruption controller
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else non_violating).append(pod)
    return violating, non_violating


class DefaultPreemption:
    """PostFilter: nominate a Node and name the victims whose eviction lets the Pod fit."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        if handle is None:
            raise ValueError("DefaultPreemption needs the framework handle")
        args = args or {}
        self.handle = handle
        self.pdb_lister: Callable[[], list[dict]] = args.get("pdb_lister") or (lambda: [])
        self.min_percentage = int(args.get("minCandidateNodesPercentage", MIN_CANDIDATE_NODES_PERCENTAGE))
        self.min_absolute = int(args.get("minCandidateNodesAbsolute", MIN_CANDIDATE_NODES_ABSOLUTE))

    def post_filter(self, state: CycleState, pod: dict,
                    node_to_status: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        result, status = self.preempt(state, pod, node_to_status)
        if status.message():
            return result, Status(status.code, (f"preemption: {status.message()}",), error=status.error)
        return result, status

    def preempt(self, state: CycleState, pod: dict, node_to_status: NodeToStatus) -> tuple[PostFilterResult | None, Status]:
        """``Evaluator.Preempt``: eligibility, candidates, the best one."""
        nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        eligible, message = self.pod_eligible_to_preempt_others(pod, node_to_status.get(nominated) if nominated else None)
        if not eligible:
            return None, Status.new(Code.Unschedulable, message)
        all_nodes = self.handle.node_infos()
        if not all_nodes:
            return None, Status.as_error("no nodes available")
        candidates, statuses = self.find_candidates(state, pod, all_nodes, node_to_status)
        if not candidates:
            errors = [status for status in statuses.statuses.values() if status.code == Code.Error]
            if errors:
                return None, errors[0]
            statuses.absent = Status.new(Code.UnschedulableAndUnresolvable, MSG_NOT_HELPFUL)
            fit_error = FitError(pod, len(all_nodes), Diagnosis(node_to_status=statuses))
            return PostFilterResult(nominated_node_name=""), Status.new(Code.Unschedulable, fit_error.message())
        best = select_candidate(candidates)
        log.debug("pod %s/%s: preempting %d pod(s) on node %s", namespace(pod), name_of(pod), len(best.victims),
                  best.name)
        return PostFilterResult(best.name, tuple(best.victims)), Status()

    def pod_eligible_to_preempt_others(self, pod: dict, nominated_status: Status | None) -> tuple[bool, str]:
        """``PodEligibleToPreemptOthers``."""
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return False, MSG_POLICY_NEVER
        nominated = (pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            if nominated_status is not None and nominated_status.code == Code.UnschedulableAndUnresolvable:
                return True, ""  # the nominated Node can no longer work: preempt elsewhere
            info = self.handle.get_node_info(nominated)
            if info is not None:
                priority = pod_priority(pod)
                if any(pod_priority(p) < priority and _terminating_by_preemption(p) for p in info.pods):
                    return False, MSG_TERMINATING  # victims from last time are still leaving
        return True, ""

    def num_candidates(self, num_nodes: int) -> int:
        """``calculateNumCandidates``: 10% of the Nodes, at least 100, at most all."""
        return min(max(num_nodes * self.min_percentage // 100, self.min_absolute), num_nodes)

    def find_candidates(self, state: CycleState, pod: dict, all_nodes: list[NodeInfo],
                        node_to_status: NodeToStatus) -> tuple[list[Candidate], NodeToStatus]:
        """``findCandidates`` + ``DryRunPreemption`` over the Unschedulable Nodes."""
        potential = node_to_status.nodes_for_status_code(all_nodes, Code.Unschedulable)
        statuses = NodeToStatus()
        if not potential:
            return [], statuses
        pdbs = list(self.pdb_lister())
        offset = self.handle.rng.randrange(len(potential))  # Go: rand.Int31n(numNodes)
        wanted = self.num_candidates(len(potential))
        violating: list[Candidate] = []
        non_violating: list[Candidate] = []
        for i in range(len(potential)):
            info = potential[(offset + i) % len(potential)].clone()
            victims, violations, status = self.select_victims_on_node(state.clone(), pod, info, pdbs)
            if status.is_success() and victims:
                (non_violating if violations == 0 else violating).append(Candidate(info.name, victims, violations))
                if non_violating and len(non_violating) + len(violating) >= wanted:
                    break
                continue
            if status.is_success():
                status = Status.as_error(f'expected at least one victim pod on node "{info.name}"')
            statuses.set(info.name, status)
        return non_violating + violating, statuses

    def select_victims_on_node(self, state: CycleState, pod: dict, info: NodeInfo,
                               pdbs: list[dict]) -> tuple[list[dict], int, Status]:
        """``SelectVictimsOnNode``, on a copy of the Node and of the cycle state."""
        priority = pod_priority(pod)
        potential = [p for p in info.pods if pod_priority(p) < priority]
        for victim in potential:
            info.remove_pod(victim)
            status = self.handle.run_pre_filter_extension_remove_pod(state, pod, victim, info)
            if not status.is_success():
                return [], 0, status
        if not potential:
            return [], 0, Status.new(Code.UnschedulableAndUnresolvable, MSG_NO_VICTIMS)
        status = self.handle.run_filter_plugins(state, pod, info)
        if not status.is_success():
            return [], 0, status  # even with every lower-priority Pod gone it does not fit
        potential.sort(key=_importance_key)  # reprieve the most important first
        violating, non_violating = filter_pods_with_pdb_violation(potential, pdbs)
        victims: list[dict] = []
        num_violating = 0

        def reprieve(candidate: dict) -> tuple[bool, Status]:
            info.add_pod(candidate)
            status = self.handle.run_pre_filter_extension_add_pod(state, pod, candidate, info)
            if not status.is_success():
                return False, status
            if self.handle.run_filter_plugins(state, pod, info).is_success():
                return True, status  # it can stay
            info.remove_pod(candidate)
            status = self.handle.run_pre_filter_extension_remove_pod(state, pod, candidate, info)
            victims.append(candidate)
            return False, status

        for candidate in violating:
            fits, status = reprieve(candidate)
            if not status.is_success():
                return [], 0, status
            num_violating += 0 if fits else 1
        for candidate in non_violating:
            _, status = reprieve(candidate)
            if not status.is_success():
                return [], 0, status
        if violating and non_violating:
            victims.sort(key=_importance_key)
        return victims, num_violating, Status()


def select_candidate(candidates: list[Candidate]) -> Candidate:
    """``pickOneNodeForPreemption``: apply kube's tie-breakers in order; the first survivor wins."""
    remaining = list(candidates)
    criteria = [
        lambda c: c.num_pdb_violations,
        lambda c: pod_priority(c.victims[0]) if c.victims else -(2**31),  # victims are most important first
        # kube adds MaxInt32+1 to each priority so that negative priorities still sum upward.
        lambda c: sum(pod_priority(v) + 2**31 for v in c.victims),
        lambda c: len(c.victims),
        lambda c: -_earliest_start_of_highest_priority(c.victims),  # the latest such start wins
    ]
    for key in criteria:
        best = min(key(c) for c in remaining)
        remaining = [c for c in remaining if key(c) == best]
        if len(remaining) == 1:
            break
    return remaining[0]


def _earliest_start_of_highest_priority(victims: list[dict]) -> float:
    """``GetEarliestPodStartTime``: among the highest-priority victims, the earliest start."""
    if not victims:
        return float("inf")
    top = max(pod_priority(v) for v in victims)
    return min(_start_time(v) for v in victims if pod_priority(v) == top)
