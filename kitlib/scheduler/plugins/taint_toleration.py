"""TaintToleration: a Node's taints repel Pods that do not tolerate them.

Filter: a ``NoSchedule`` or ``NoExecute`` taint that none of the Pod's
tolerations matches rejects the Node, naming the first such taint as
``node(s) had untolerated taint {key: value}`` -- the message a fresh
kubeadm cluster shows for its control-plane Node,
``{node-role.kubernetes.io/control-plane: }``. Preemption cannot remove a
taint: UnschedulableAndUnresolvable.

Score: the number of ``PreferNoSchedule`` taints the Pod does not tolerate,
normalised *reversed*: the Node with the most gets 0, a Node with none gets
100 (``pkg/scheduler/framework/plugins/tainttoleration``). Only tolerations
with effect ``PreferNoSchedule`` or no effect count for scoring.

Simplifications:
- kube 1.34 and later shorten the reason to ``node(s) had untolerated
  taint(s)`` (no key or value, which may be private); this keeps the
  ``{key: value}`` form of kube 1.25-1.33 that most published output shows.
"""

from __future__ import annotations

from typing import Any, Mapping

from kitlib.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, Handle, NodeScore, Status
from kitlib.scheduler.nodeinfo import NodeInfo
from kitlib.scheduler.plugins.helper import PREFER_NO_SCHEDULE, default_normalize_score, do_not_schedule_taints, \
    find_matching_untolerated_taint, pod_tolerations, tolerations_tolerate_taint

NAME = "TaintToleration"
PRE_SCORE_STATE_KEY = "PreScore" + NAME


def untolerated_taint_reason(taint: dict) -> str:
    """``fmt.Sprintf("node(s) had untolerated taint {%s: %s}", taint.Key, taint.Value)``."""
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"


def prefer_no_schedule_tolerations(tolerations: list[dict]) -> list[dict]:
    """Tolerations that can match a PreferNoSchedule taint: that effect, or no effect (every effect)."""
    return [t for t in tolerations if not t.get("effect") or t.get("effect") == PREFER_NO_SCHEDULE]


def count_intolerable_prefer_no_schedule(taints: list[dict], tolerations: list[dict]) -> int:
    return sum(1 for taint in taints
               if taint.get("effect") == PREFER_NO_SCHEDULE and not tolerations_tolerate_taint(tolerations, taint))


class TaintToleration:
    """Filter on NoSchedule/NoExecute taints; Score on PreferNoSchedule taints (fewer is better)."""

    NAME = NAME

    def __init__(self, args: Mapping[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        if not node_info.taints:
            return None  # most Nodes have no taint: nothing to tolerate, no need to read the Pod's tolerations
        taint = find_matching_untolerated_taint(node_info.taints, pod_tolerations(pod), do_not_schedule_taints)
        if taint is None:
            return None
        return Status.new(Code.UnschedulableAndUnresolvable, untolerated_taint_reason(taint))

    def pre_score(self, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> Status | None:
        if nodes:
            state.write(PRE_SCORE_STATE_KEY, prefer_no_schedule_tolerations(pod_tolerations(pod)))
        return None

    def score(self, state: CycleState, pod: dict, node_info: NodeInfo) -> tuple[int, Status | None]:
        if not node_info.taints:
            return 0, None  # no taint at all, so no PreferNoSchedule one to count
        tolerations = state.get(PRE_SCORE_STATE_KEY)
        if tolerations is None:  # PreScore did not run: compute here, as kube's fallback does
            tolerations = prefer_no_schedule_tolerations(pod_tolerations(pod))
        return count_intolerable_prefer_no_schedule(node_info.taints, tolerations), None

    def score_extensions(self) -> "TaintToleration":
        return self

    def normalize_score(self, state: CycleState, pod: dict, scores: list[NodeScore]) -> Status | None:
        default_normalize_score(MAX_NODE_SCORE, True, scores)
        return None
