"""Why a Pod did not fit, in kube's words; how many Nodes to look at; which host wins.

When no Node passes Filter, kube-scheduler records a ``FailedScheduling``
event and sets the Pod's ``PodScheduled`` condition to a message that
counts the reasons over all Nodes (``framework.FitError.Error()``):

    0/5 nodes are available: 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: },
    3 Insufficient cpu. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling,
    3 No preemption victims found for incoming pod.

Each entry is ``"<count> <reason>"``, and the entries are sorted *as
strings* (Go's ``sort.Strings``), so ``"2 node(s)..."`` comes before
``"3 Insufficient cpu"`` and ``"10 ..."`` before ``"9 ..."``. The part after
``preemption:`` is PostFilter's own message, appended as it is.

Two more pieces of ``schedule_one.go`` live here: how many feasible Nodes
to find before stopping (:func:`num_feasible_nodes_to_find`: in a large
cluster, scoring every Node costs more than it gains) and how to pick among
the best-scored Nodes (:func:`select_host`: uniformly at random among ties,
by reservoir sampling, from an injected random generator).

Simplifications:
- No ``UnschedulablePlugins``/``PendingPlugins`` bookkeeping beyond a set of
  names; no extender messages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from kitlib.errors import KitError
from kitlib.scheduler.framework import NodePluginScores, NodeToStatus, Status

Obj = dict[str, Any]

NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"

# schedule_one.go: below 100 Nodes every Node is checked; above, at least 5%.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


@dataclass
class Diagnosis:
    """What the Filter phase learned (``framework.Diagnosis``)."""

    node_to_status: NodeToStatus = field(default_factory=NodeToStatus)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def add_plugin_status(self, status: Status) -> None:
        if status.plugin and status.is_rejected():
            self.unschedulable_plugins.add(status.plugin)


@dataclass
class FitError:
    """No Node fits the Pod: a value, not an exception; ``str()`` is kube's message."""

    pod: Obj
    num_all_nodes: int
    diagnosis: Diagnosis

    def message(self) -> str:
        """``FitError.Error()``: the reasons counted over all Nodes, then PostFilter's message."""
        message = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + ":"
        diagnosis = self.diagnosis
        if diagnosis.pre_filter_msg:
            # PreFilter rejected the Pod for every Node at once: one reason, not a count per Node.
            message += f" {diagnosis.pre_filter_msg}."
        else:
            histogram = reason_histogram(diagnosis.node_to_status, self.num_all_nodes)
            if histogram:
                message += f" {', '.join(histogram)}."
        if diagnosis.post_filter_msg:
            message += f" {diagnosis.post_filter_msg}"
        return message

    def __str__(self) -> str:
        return self.message()


def reason_histogram(node_to_status: NodeToStatus, num_all_nodes: int) -> list[str]:
    """``["<count> <reason>", ...]`` over all Nodes, sorted as strings, as ``FitError.Error()`` builds it."""
    counts: dict[str, int] = {}
    for status in node_to_status.statuses.values():
        for reason in status.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    absent = num_all_nodes - len(node_to_status)
    if absent > 0:
        # Nodes never filtered (PreFilter narrowed them away) all carry the absent status.
        for reason in node_to_status.absent.reasons:
            counts[reason] = counts.get(reason, 0) + absent
    return sorted(f"{count} {reason}" for reason, count in counts.items())


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int | None = 0) -> int:
    """How many feasible Nodes Filter looks for before it stops (``numFeasibleNodesToFind``).

    Below 100 Nodes, all of them. Otherwise ``percentage`` of them (the
    profile's ``percentageOfNodesToScore``); 0 or ``None`` means adaptive:
    ``50 - nodes/125`` percent, at least 5% -- half of a 100-Node cluster,
    10% of 5000 Nodes -- and never fewer than 100 Nodes.

        >>> num_feasible_nodes_to_find(50), num_feasible_nodes_to_find(1000), num_feasible_nodes_to_find(5000)
        (50, 420, 500)
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if not percentage:
        percentage = 50 - num_all_nodes // 125  # Go's int32 division
        percentage = max(percentage, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    if percentage >= 100:
        return num_all_nodes
    num_nodes = num_all_nodes * percentage // 100
    return max(num_nodes, MIN_FEASIBLE_NODES_TO_FIND)


class NoNodesScored(KitError, ValueError):
    """``select_host`` was given no scored Nodes: a caller bug (kube's ``errEmptyPriorityList``)."""


def select_host(scores: list[NodePluginScores], rng: random.Random) -> str:
    """The Node with the highest total score; ties broken uniformly at random (``selectHost``).

    Reservoir sampling in one pass: the k-th Node found with the best score
    so far replaces the choice with probability 1/k, so each of the tied
    Nodes ends up chosen with the same probability without collecting them.
    """
    if not scores:
        raise NoNodesScored("empty priorityList")
    best = scores[0].total_score
    selected = scores[0].name
    count_of_best = 1
    getrandbits = rng.getrandbits
    for node in scores[1:]:
        if node.total_score > best:
            best, selected, count_of_best = node.total_score, node.name, 1
        elif node.total_score == best:
            count_of_best += 1
            # Go: rand.Intn(cntOfMaxScore) == 0. In a cluster of equal Nodes nearly every Node ties, so
            # this draws once per scored Node: rng.randrange's own steps, inline (the same draws, so
            # the same choices): rejection sampling on just enough random bits.
            bits = count_of_best.bit_length()
            draw = getrandbits(bits)
            while draw >= count_of_best:
                draw = getrandbits(bits)
            if draw == 0:
                selected = node.name
    return selected
