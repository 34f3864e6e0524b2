"""PodTopologySpread: spread a workload's Pods evenly across zones, Nodes or any other topology.

A ``topologySpreadConstraint`` names a Node label (``topologyKey``: each
value is a *domain*, e.g. a zone), a label selector for the Pods to count,
and ``maxSkew``: how far the most loaded domain may get ahead of the least
loaded (``pkg/scheduler/framework/plugins/podtopologyspread``).

Filter (``whenUnsatisfiable: DoNotSchedule``): putting the Pod on this Node
must keep ``matching Pods in the Node's domain + 1 - global minimum <= maxSkew``
(the ``+1`` only if the Pod matches its own selector). The counts come from
PreFilter, over the Nodes that pass the Pod's node affinity and nodeSelector
(``nodeAffinityPolicy: Honor``) and, if ``nodeTaintsPolicy: Honor``, whose
taints it tolerates. With fewer domains than ``minDomains`` the global
minimum is 0. A Node without the topology label is rejected outright
(UnschedulableAndUnresolvable, "... (missing required label)"); a skew too
large is Unschedulable, since evicting Pods can change the counts.

Score (``whenUnsatisfiable: ScheduleAnyway``): a Node scores the number of
matching Pods in its domains, each weighted by ``log(number of domains + 2)``
plus ``maxSkew - 1``; NormalizeScore turns "fewest" into 100.

Simplifications:
- No cluster-level default constraints (kube spreads every Pod of a
  Service/ReplicaSet by hostname and zone when the Pod has none).
- ``matchLabelKeys`` is merged here, as kube < 1.34 did in the scheduler.
- The global minimum is recomputed from all counts rather than kept as
  kube's two-entry ``criticalPaths``; the values are the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from kitlib.api.meta import labels as labels_of, namespace
from kitlib.api.selectors import EQUALS, Requirement, Selector, selector_from_label_selector
from kitlib.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, Handle, NodeScore, PreFilterResult, Status
from kitlib.scheduler.nodeinfo import NodeInfo
from kitlib.scheduler.plugins.helper import do_not_schedule_taints, find_matching_untolerated_taint, go_round, \
    pod_tolerations
from kitlib.scheduler.plugins.node_affinity import RequiredNodeAffinity

NAME = "PodTopologySpread"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
LABEL_HOSTNAME = "kubernetes.io/hostname"
DO_NOT_SCHEDULE, SCHEDULE_ANYWAY = "DoNotSchedule", "ScheduleAnyway"
_NO_DOMAIN_MIN = 2**31 - 1  # kube's criticalPaths start at MaxInt32: no domain means no minimum to respect
_INVALID_SCORE = -1


@dataclass(frozen=True)
class Constraint:
    """A constraint with its selector parsed and its defaults applied."""

    max_skew: int
    topology_key: str
    selector: Selector
    min_domains: int = 1
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"

    def matches_node_inclusion_policies(self, pod: dict, node_info: NodeInfo, required: RequiredNodeAffinity) -> bool:
        """Whether this Node's Pods count at all (``matchNodeInclusionPolicies``)."""
        if self.node_affinity_policy == "Honor" and not required.matches(node_info):
            return False
        if self.node_taints_policy == "Honor" and find_matching_untolerated_taint(
                node_info.taints, pod_tolerations(pod), do_not_schedule_taints) is not None:
            return False
        return True


def constraints_of(pod: dict, action: str) -> list[Constraint]:
    """The Pod's constraints with ``whenUnsatisfiable == action`` (``filterTopologySpreadConstraints``)."""
    pod_labels = labels_of(pod)
    out = []
    for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []:
        if c.get("whenUnsatisfiable") != action:
            continue
        selector = selector_from_label_selector(c.get("labelSelector"))
        extra = [Requirement(key, EQUALS, (pod_labels[key],)) for key in c.get("matchLabelKeys") or []
                 if key in pod_labels]
        if extra and not selector.selects_nothing:
            selector = Selector(tuple(sorted((*selector.requirements, *extra), key=lambda r: r.key)))
        out.append(Constraint(int(c.get("maxSkew", 1)), c.get("topologyKey", ""), selector,
                              int(c["minDomains"]) if c.get("minDomains") is not None else 1,
                              c.get("nodeAffinityPolicy") or "Honor", c.get("nodeTaintsPolicy") or "Ignore"))
    return out


def node_labels_match_spread_constraints(node_labels: Mapping[str, str], constraints: list[Constraint]) -> bool:
    return all(c.topology_key in node_labels for c in constraints)


def count_pods_match_selector(pods: list[dict], selector: Selector, ns: str) -> int:
    """Matching Pods of namespace ``ns``, not terminating; an empty selector counts none (as kube's)."""
    if selector.empty:
        return 0
    return sum(1 for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")
               and namespace(p) == ns and selector.matches(labels_of(p)))


@dataclass
class PreFilterState:
    """Matching-Pod counts per (topology key, value) over the eligible Nodes."""

    constraints: list[Constraint]
    tp_pair_to_match_num: dict[tuple[str, str], int] = field(default_factory=dict)

    def clone(self) -> "PreFilterState":
        return PreFilterState(self.constraints, dict(self.tp_pair_to_match_num))

    def min_match_num(self, constraint: Constraint) -> int:
        counts = [n for (key, _), n in self.tp_pair_to_match_num.items() if key == constraint.topology_key]
        if len(counts) < constraint.min_domains:
            return 0  # fewer eligible domains than minDomains: the global minimum is taken as 0
        return min(counts, default=_NO_DOMAIN_MIN)


@dataclass
class PreScoreState:
    constraints: list[Constraint]
    ignored_nodes: set[str]
    pair_counts: dict[tuple[str, str], int]
    weights: list[float]


class PodTopologySpread:
    """PreFilter + Filter for DoNotSchedule constraints; PreScore + Score for ScheduleAnyway."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def _all_nodes(self, given: list[NodeInfo]) -> list[NodeInfo]:
        return self.handle.node_infos() if self.handle is not None else given

    # --- Filter -------------------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: dict,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        constraints = constraints_of(pod, DO_NOT_SCHEDULE)
        if not constraints:
            return None, Status.new(Code.Skip)
        s = PreFilterState(constraints)
        required = RequiredNodeAffinity.of(pod)
        for info in nodes:
            if not node_labels_match_spread_constraints(info.labels, constraints):
                continue
            for c in constraints:
                if not c.matches_node_inclusion_policies(pod, info, required):
                    continue
                pair = (c.topology_key, info.labels[c.topology_key])
                s.tp_pair_to_match_num[pair] = s.tp_pair_to_match_num.get(pair, 0) + \
                    count_pods_match_selector(info.pods, c.selector, namespace(pod))
        state.write(PRE_FILTER_STATE_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> "PodTopologySpread":
        return self

    def add_pod(self, state: CycleState, pod: dict, pod_to_add: dict, node_info: NodeInfo) -> Status | None:
        self._update_with_pod(state.get(PRE_FILTER_STATE_KEY), pod_to_add, pod, node_info, 1)
        return None

    def remove_pod(self, state: CycleState, pod: dict, pod_to_remove: dict, node_info: NodeInfo) -> Status | None:
        self._update_with_pod(state.get(PRE_FILTER_STATE_KEY), pod_to_remove, pod, node_info, -1)
        return None

    def _update_with_pod(self, s: PreFilterState | None, updated: dict, preemptor: dict, node_info: NodeInfo,
                         delta: int) -> None:
        """Preemption removed (or put back) ``updated`` from this Node: adjust the counts (``updateWithPod``)."""
        if s is None or namespace(updated) != namespace(preemptor):
            return
        if not node_labels_match_spread_constraints(node_info.labels, s.constraints):
            return
        required = RequiredNodeAffinity.of(preemptor)
        for c in s.constraints:
            if not c.selector.matches(labels_of(updated)):
                continue
            if not c.matches_node_inclusion_policies(preemptor, node_info, required):
                continue
            pair = (c.topology_key, node_info.labels[c.topology_key])
            s.tp_pair_to_match_num[pair] = s.tp_pair_to_match_num.get(pair, 0) + delta

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        s = state.get(PRE_FILTER_STATE_KEY)
        if s is None:
            return Status.as_error(f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: not found')
        for c in s.constraints:
            value = node_info.labels.get(c.topology_key)
            if value is None:
                return Status.new(Code.UnschedulableAndUnresolvable, ERR_REASON_NODE_LABEL_NOT_MATCH)
            self_match = 1 if c.selector.matches(labels_of(pod)) else 0
            match_num = s.tp_pair_to_match_num.get((c.topology_key, value), 0)
            skew = match_num + self_match - s.min_match_num(c)
            if skew > c.max_skew:
                return Status.new(Code.Unschedulable, ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    # --- Score --------------------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        all_nodes = self._all_nodes(nodes)
        constraints = constraints_of(pod, SCHEDULE_ANYWAY)
        if not all_nodes or not constraints:
            return Status.new(Code.Skip)
        ignored: set[str] = set()
        pair_counts: dict[tuple[str, str], int] = {}
        topo_size = [0] * len(constraints)
        for info in nodes:
            if not node_labels_match_spread_constraints(info.labels, constraints):
                ignored.add(info.name)  # Nodes lacking a topology label get no score at all
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == LABEL_HOSTNAME:
                    continue  # per-Node counts are taken in Score
                pair = (c.topology_key, info.labels[c.topology_key])
                if pair not in pair_counts:
                    pair_counts[pair] = 0
                    topo_size[i] += 1
        weights = []
        for i, c in enumerate(constraints):
            size = len(nodes) - len(ignored) if c.topology_key == LABEL_HOSTNAME else topo_size[i]
            weights.append(math.log(size + 2))  # topologyNormalizingWeight
        required = RequiredNodeAffinity.of(pod)
        for info in all_nodes:
            if not node_labels_match_spread_constraints(info.labels, constraints):
                continue
            for c in constraints:
                if not c.matches_node_inclusion_policies(pod, info, required):
                    continue
                pair = (c.topology_key, info.labels[c.topology_key])
                if pair in pair_counts:  # only domains that hold a candidate Node are counted
                    pair_counts[pair] += count_pods_match_selector(info.pods, c.selector, namespace(pod))
        state.write(PRE_SCORE_STATE_KEY, PreScoreState(constraints, ignored, pair_counts, weights))
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        s = state.get(PRE_SCORE_STATE_KEY)
        if s is None:
            return 0, Status.as_error(f'reading "{PRE_SCORE_STATE_KEY}" from cycleState: not found')
        if node_info.name in s.ignored_nodes:
            return 0, None
        score = 0.0
        for i, c in enumerate(s.constraints):
            value = node_info.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == LABEL_HOSTNAME:
                count = count_pods_match_selector(node_info.pods, c.selector, namespace(pod))
            else:
                count = s.pair_counts[(c.topology_key, value)]
            score += count * s.weights[i] + (c.max_skew - 1)  # scoreForCount: maxSkew-1 waters differences down
        return go_round(score), None

    def score_extensions(self) -> "PodTopologySpread":
        return self

    def normalize_score(self, state: CycleState, pod: dict, scores: list[NodeScore]) -> Status | None:
        """Fewest matching Pods -> 100: ``100 * (max + min - score) / max``; ignored Nodes -> 0."""
        s = state.get(PRE_SCORE_STATE_KEY)
        if s is None:
            return None
        min_score, max_score = None, 0
        for node in scores:
            if node.name in s.ignored_nodes:
                node.score = _INVALID_SCORE
                continue
            min_score = node.score if min_score is None else min(min_score, node.score)
            max_score = max(max_score, node.score)
        for node in scores:
            if node.score == _INVALID_SCORE:
                node.score = 0
            elif max_score == 0:
                node.score = MAX_NODE_SCORE
            else:
                node.score = MAX_NODE_SCORE * (max_score + (min_score or 0) - node.score) // max_score
        return None

