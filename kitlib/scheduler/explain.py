"""Explain a scheduling decision: every Filter plugin's verdict and every Score plugin's score, per Node.

kube-scheduler tells you only the outcome (a Binding, or a FailedScheduling
message). To *see* the framework at work, :func:`explain` runs a profile on
one Pod against every Node and keeps what each plugin said:

    NODE    NodeUnschedulable  NodeName  TaintToleration  ...  RESULT
    cp      ok                 ok        node(s) had ...        TaintToleration: node(s) had untolerated taint {...}
    node-1  ok                 ok        ok                     ok

    NODE    TaintToleration(x3)  NodeAffinity(x2)  NodeResourcesFit(x1)  ...  TOTAL
    node-1  300                  0                 75                         ...

Unlike the real cycle, every Filter plugin runs on every Node (kube stops at
the first rejection); the RESULT column names the rejection kube would
report. Scores are shown normalised and weighted, for the feasible Nodes;
each cell's raw score is kept in :attr:`NodeExplanation.scores`.

Simplifications:
- All Nodes are filtered (no adaptive count), and scores are computed even
  for a single feasible Node (the real cycle skips scoring then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kitlib.scheduler.framework import CycleState, PluginScore, Status
from kitlib.scheduler.nodeinfo import NodeInfo
from kitlib.scheduler.runtime import Framework

Obj = dict[str, Any]


@dataclass
class NodeExplanation:
    """One Node: each Filter plugin's verdict (``None``: skipped), kube's verdict, the scores."""

    name: str
    verdicts: dict[str, Status | None]
    status: Status
    scores: dict[str, PluginScore] = field(default_factory=dict)
    total: int | None = None

    @property
    def feasible(self) -> bool:
        return self.status.is_success()


@dataclass
class Explanation:
    """The whole table for one Pod."""

    pod: Obj
    filter_plugins: list[str]
    score_plugins: list[str]
    weights: dict[str, int]
    pre_filter: Status
    nodes: list[NodeExplanation]

    def feasible(self) -> list[str]:
        return [node.name for node in self.nodes if node.feasible]

    def best(self) -> list[str]:
        """The feasible Nodes with the highest total (the scheduler picks one of them at random)."""
        totals = [node.total for node in self.nodes if node.total is not None]
        return [node.name for node in self.nodes if totals and node.total == max(totals)]

    def filter_table(self) -> list[list[str]]:
        """Rows of strings: a header, then one row per Node."""
        rows = [["NODE", *self.filter_plugins, "RESULT"]]
        for node in self.nodes:
            cells = [_verdict(node.verdicts.get(name)) for name in self.filter_plugins]
            result = "ok" if node.feasible else f"{node.status.plugin or 'PreFilter'}: {node.status.message()}"
            rows.append([node.name, *cells, result])
        return rows

    def score_table(self) -> list[list[str]]:
        rows = [["NODE", *(f"{name}(x{self.weights.get(name, 1)})" for name in self.score_plugins), "TOTAL"]]
        for node in self.nodes:
            if node.total is None:
                continue
            cells = [str(node.scores[name].score) if name in node.scores else "-" for name in self.score_plugins]
            rows.append([node.name, *cells, str(node.total)])
        return rows

    def render(self) -> str:
        """Both tables as aligned text (what the book prints)."""
        parts = []
        if not self.pre_filter.is_success():
            parts.append(f"PreFilter {self.pre_filter.plugin}: {self.pre_filter.message()}")
        parts.append(_align(self.filter_table()))
        if len(self.score_table()) > 1:
            parts.append(_align(self.score_table()))
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return self.render()


def explain(fwk: Framework, pod: Obj, nodes: list[NodeInfo], state: CycleState | None = None) -> Explanation:
    """Run ``fwk`` on ``pod`` against every Node, keeping every plugin's answer."""
    state = state if state is not None else CycleState()
    fwk.set_snapshot(nodes)
    _, pre_filter, _ = fwk.run_pre_filter(state, pod)
    filter_names = [p.NAME for p in fwk.filter_plugins]
    explained: list[NodeExplanation] = []
    if not pre_filter.is_success():
        for info in nodes:
            explained.append(NodeExplanation(info.name, {}, pre_filter))
        return Explanation(pod, filter_names, [], dict(fwk.weights), pre_filter, explained)
    for info in nodes:
        explained.append(NodeExplanation(info.name, fwk.run_filter_each(state, pod, info),
                                         fwk.run_filter(state, pod, info)))
    feasible = [info for info, node in zip(nodes, explained) if node.feasible]
    score_names: list[str] = []
    if feasible and fwk.run_pre_score(state, pod, feasible).is_success():
        score_names = [p.NAME for p in fwk.score_plugins if p.NAME not in state.skip_score_plugins]
        scores, status = fwk.run_scores(state, pod, feasible)
        if status.is_success():
            by_name = {node.name: node for node in explained}
            for node_scores in scores:
                node = by_name[node_scores.name]
                node.scores = {score.name: score for score in node_scores.scores}
                node.total = node_scores.total_score
    return Explanation(pod, filter_names, score_names, dict(fwk.weights), pre_filter, explained)


def _verdict(status: Status | None) -> str:
    if status is None:
        return "skip"
    return "ok" if status.is_success() else status.message()


def _align(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
