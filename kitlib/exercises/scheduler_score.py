"""Grading scenarios for the exercise ``scheduler-score``: the balanced-allocation score of a Node.

The reader writes ``balanced_resource_scorer(requested, allocatable)``, the
arithmetic of the Score plugin NodeResourcesBalancedAllocation
(:func:`kitlib.scheduler.plugins.balanced_allocation.balanced_resource_scorer`):
the fraction of each resource the Node would have requested with the Pod on
it, capped at 1, leaving out the resources the Node has none of; then
``int((1 - standard deviation of the fractions) * 100)``. Each scenario
installs the reader's function in the slot
:data:`~kitlib.scheduler.plugins.balanced_allocation.scorer` and runs the real
scheduling framework (kube's default profile) over a snapshot of Nodes and
their Pods: the explain table's score column, the Node a Pod lands on, and
Pods placed one after another. The expected answers come from the same
cluster with the reference function. A failure names the Node, the lists the
engine passed, what the reference gives, and the likely mistake.

Clusters are written as literals, so a notebook cell reads like a manifest::

    nodes={"a": {"cpu": "4", "memory": "8Gi"}}       # status.allocatable of each Node
    running={"a": [{"cpu": "1", "memory": "1Gi"}]}   # requests of the Pods already bound there
    pod={"cpu": "500m", "memory": "2Gi"}             # requests of the Pod to schedule

:mod:`kitlib.exercises.scheduler_filter` builds its clusters the same way.

Simplifications:
- The cycle runs on a Node snapshot through
  :func:`~kitlib.scheduler.schedule_one.schedule_pod`, as the scheduler's
  loop does, without the API server, informers or binding: a placed Pod is
  added to its Node's snapshot directly, as the scheduler's cache assumes it.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Mapping, Sequence

from kitlib.scheduler.explain import Explanation, explain
from kitlib.scheduler.framework import CycleState, Profile
from kitlib.scheduler.nodeinfo import NodeInfo, node_infos
from kitlib.scheduler.plugins import resource_allocation as ra
from kitlib.scheduler.plugins.balanced_allocation import NAME as BALANCED, balanced_resource_scorer, scorer
from kitlib.scheduler.plugins.helper import go_round
from kitlib.scheduler.plugins.registry import default_profile, in_tree_registry
from kitlib.scheduler.runtime import Framework
from kitlib.scheduler.schedule_one import schedule_pod

SEED = 7  # the framework's random generator: ties between equal Nodes are broken the same way every run
POD_NAME = "web"

Spec = Mapping[str, Any]


def _name(candidate: Callable[..., Any]) -> str:
    return getattr(candidate, "__name__", "your function")


# ---- clusters from literals (shared with scheduler_filter) -------------------------------------------------

NODE_DEFAULTS = {"cpu": "4", "memory": "8Gi", "pods": "110"}  # what a Node literal leaves out


def make_node(name: str, spec: Spec) -> dict[str, Any]:
    """A Node whose ``status.allocatable`` is ``spec`` (4 cpu, 8Gi, 110 Pods unless said), with ``spec["taints"]``."""
    allocatable = {**NODE_DEFAULTS, **{k: v for k, v in spec.items() if k != "taints"}}
    node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                            "spec": {}, "status": {"allocatable": allocatable, "capacity": dict(allocatable)}}
    if spec.get("taints"):
        node["spec"]["taints"] = [dict(t) for t in spec["taints"]]
    return node


POD_FIELDS = ("priority", "tolerations")  # the keys of a Pod literal that are not resource requests


def make_pod(name: str, spec: Spec, node_name: str = "") -> dict[str, Any]:
    """A Pod with one container requesting what ``spec`` says, plus its ``priority`` and ``tolerations``."""
    requests = {k: v for k, v in spec.items() if k not in POD_FIELDS}
    container: dict[str, Any] = {"name": "app", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    pod_spec: dict[str, Any] = {"containers": [container]}
    for key in POD_FIELDS:
        if spec.get(key) is not None:
            pod_spec[key] = spec[key]
    if node_name:
        pod_spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": pod_spec, "status": {"phase": "Running" if node_name else "Pending"}}


def snapshot(nodes: Mapping[str, Spec], running: Mapping[str, Sequence[Spec]] | None = None) -> list[NodeInfo]:
    """NodeInfos for ``nodes``, each with its running Pods (named ``<node>-1``, ``<node>-2``, ...)."""
    pods = [make_pod(f"{node}-{i}", spec, node) for node, specs in (running or {}).items()
            for i, spec in enumerate(specs, 1)]
    return node_infos([make_node(name, spec) for name, spec in nodes.items()], pods)


def describe_requests(spec: Spec) -> str:
    """``"cpu 500m, memory 1Gi"`` (or ``"nothing"``) for a Pod literal."""
    parts = [f"{k} {v}" for k, v in spec.items() if k not in POD_FIELDS]
    return ", ".join(parts) or "nothing"


# ---- the framework -------------------------------------------------------------------------------------------

def _framework(resources: Sequence[str] | None) -> Framework:
    """kube's default profile, with BalancedAllocation scoring ``resources`` (names, weight 1) if given."""
    profile = default_profile()
    if resources is not None:
        profile = Profile(profile.plugins, {**profile.plugin_args, BALANCED: {"resources": _resources(resources)}})
    return Framework(profile, in_tree_registry(), random.Random(SEED))


def _resources(resources: Sequence[str] | None) -> list[Spec]:
    return [{"name": r, "weight": 1} for r in resources] if resources is not None else list(ra.DEFAULT_RESOURCES)


def _names(resources: Sequence[str] | None) -> list[str]:
    return [spec["name"] for spec in _resources(resources)]


def engine_inputs(info: NodeInfo, pod: dict[str, Any], resources: Sequence[str] | None) -> tuple[list[int], list[int]]:
    """The ``(requested, allocatable)`` lists the plugin hands the scorer for this Node and Pod."""
    specs = _resources(resources)
    requests = ra.pod_request_list(pod, specs, use_requested=True)
    return ra.score_node(lambda req, alloc: (list(req), list(alloc)), info, specs, requests, use_requested=True)


class _Checked:
    """What the slot holds during a scenario: the reader's function, its answers checked as they come."""

    def __init__(self, candidate: Callable[..., Any]) -> None:
        self.candidate = candidate
        self.__name__ = _name(candidate)

    def __call__(self, requested: Sequence[int], allocatable: Sequence[int]) -> int:
        given = (list(requested), list(allocatable))
        try:
            got = self.candidate(list(requested), list(allocatable))  # copies: the engine's lists stay intact
        except ZeroDivisionError:
            if 0 in given[1]:
                raise AssertionError(
                    f"{self.__name__}(requested={given[0]}, allocatable={given[1]}) divided by zero: an "
                    f"allocatable of 0 means the Node has none of that resource (or the Pod does not ask for "
                    f"that extended resource), so leave that resource out of the fractions") from None
            raise
        if isinstance(got, bool) or not isinstance(got, int):
            raise AssertionError(
                f"{self.__name__}(requested={given[0]}, allocatable={given[1]}) returned {got!r:.60}: return an "
                f"int from 0 to 100 (int(...) drops the decimals, as kube's int64() conversion does)")
        return got


# ---- advice --------------------------------------------------------------------------------------------------

def _fractions(requested: Sequence[int], allocatable: Sequence[int], *, cap: bool = True, floor_div: bool = False,
               keep_zero: bool = False) -> list[float]:
    out = []
    for req, alloc in zip(requested, allocatable):
        if alloc == 0:
            if keep_zero:
                out.append(0.0)
            continue
        fraction = req // alloc if floor_div else req / alloc
        out.append(min(fraction, 1.0) if cap else fraction)
    return out


def _std(fractions: Sequence[float], sample: bool = False, two_as_diff: bool = False) -> float:
    n = len(fractions)
    if n < 2:
        return 0.0
    if n == 2 and not sample:
        return abs(fractions[0] - fractions[1]) if two_as_diff else abs(fractions[0] - fractions[1]) / 2
    mean = sum(fractions) / n
    return math.sqrt(sum((f - mean) ** 2 for f in fractions) / (n - 1 if sample else n))


def _score(fractions: Sequence[float], std: float | None = None, to_int: Callable[[float], int] = int) -> int:
    std = _std(fractions) if std is None else std
    return to_int((1 - std) * 100)


# Known mistakes: (what the wrong version computes, what to say). The first that reproduces the reader's
# number (and differs from the reference) is named in the advice.
MISTAKES: list[tuple[Callable[[Sequence[int], Sequence[int]], float], str]] = [
    (lambda r, a: _score(_fractions(r, a, cap=False)),
     "cap each fraction at 1 (min(requested / allocatable, 1)): a Node whose Pods already ask for more than it "
     "has is full, not more than full"),
    (lambda r, a: _score(_fractions(r, a, keep_zero=True)),
     "leave out the resources whose allocatable is 0 (the Node has none, or the Pod does not ask for that "
     "extended resource): they are not part of the balance, not a fraction of 0"),
    (lambda r, a: _score(_fractions(r, a, floor_div=True)),
     "divide with `/`, not `//`: the fractions lie between 0 and 1, and integer division makes them 0 or 1"),
    (lambda r, a: _score(_fractions(r, a), to_int=go_round),
     "truncate with int(...), do not round: kube converts the score with int64(), which drops the decimals"),
    (lambda r, a: _score(_fractions(r, a), to_int=round),
     "truncate with int(...), do not round: kube converts the score with int64(), which drops the decimals"),
    (lambda r, a: _score(_fractions(r, a), to_int=math.ceil),
     "truncate with int(...), do not round up: kube converts the score with int64(), which drops the decimals"),
    (lambda r, a: _score(_fractions(r, a), _std(_fractions(r, a), sample=True)),
     "use the population standard deviation (divide by the number of resources, as statistics.pstdev does), "
     "not the sample one (divide by n - 1, statistics.stdev)"),
    (lambda r, a: _score(_fractions(r, a), _std(_fractions(r, a), two_as_diff=True)),
     "with two resources the deviation is |a - b| / 2, half the gap: each fraction lies that far from their mean"),
    (lambda r, a: _score(_fractions(r, a), _std(_fractions(r, a)) ** 2),
     "the standard deviation is the square root of the mean of the squared distances from the mean, not that "
     "mean itself (the variance)"),
    (lambda r, a: _score(_fractions(r[:2], a[:2])),
     "use every resource in the lists, not only the first two: with three or more, the deviation is over all"),
    (lambda r, a: int(1 - _std(_fractions(r, a))),
     "the score runs from 0 to 100: multiply (1 - std) by 100 before converting to int"),
]

FORMULA = ("the score is int((1 - std) * 100), where std is the population standard deviation of the fractions "
           "min(requested / allocatable, 1) over the resources whose allocatable is not 0 (|a - b| / 2 for two)")


def likely_mistake(candidate: Callable[..., Any], requested: Sequence[int], allocatable: Sequence[int]) -> str:
    """What the reader's number on these inputs suggests they got wrong."""
    got = candidate(list(requested), list(allocatable))
    want = balanced_resource_scorer(requested, allocatable)
    for wrong, advice in MISTAKES:
        try:
            value = wrong(requested, allocatable)
        except ArithmeticError:
            continue
        if value == got != want:
            return advice
    return FORMULA


def node_advice(candidate: Callable[..., Any], info: NodeInfo, pod: dict[str, Any],
                resources: Sequence[str] | None) -> str | None:
    """Advice if the candidate scores this Node otherwise than the reference, else ``None``."""
    requested, allocatable = engine_inputs(info, pod, resources)
    want = balanced_resource_scorer(requested, allocatable)
    got = candidate(list(requested), list(allocatable))
    if got == want:
        return None
    return (f"on node {info.name} the plugin called your function with requested={requested} and "
            f"allocatable={allocatable} (for {_names(resources)}; cpu in millicores, the others in bytes or "
            f"units): the reference scores {want}, yours {got}: {likely_mistake(candidate, requested, allocatable)}")


def _first_node_advice(candidate: Callable[..., Any], infos: Sequence[NodeInfo], pod: dict[str, Any],
                       resources: Sequence[str] | None) -> str:
    for info in infos:
        advice = node_advice(candidate, info, pod, resources)
        if advice is not None:
            return advice
    return ("every Node is scored right when asked once, so look for state your function keeps between calls, "
            "or for changes it makes to the lists it is given")


# ---- scenarios -------------------------------------------------------------------------------------------------

def _explain(candidate: Callable[..., Any] | None, pod: dict[str, Any], infos: list[NodeInfo],
             resources: Sequence[str] | None) -> Explanation:
    if candidate is None:
        return explain(_framework(resources), pod, infos)
    with scorer.installed(_Checked(candidate)):
        return explain(_framework(resources), pod, infos)


def _balanced_column(explanation: Explanation) -> dict[str, int | None]:
    return {node.name: node.scores[BALANCED].raw if BALANCED in node.scores else None
            for node in explanation.nodes if node.feasible}


def score_table(candidate: Callable[..., Any], *, nodes: Mapping[str, Spec], pod: Spec,
                running: Mapping[str, Sequence[Spec]] | None = None, resources: Sequence[str] | None = None) -> None:
    """The explain table for ``pod``: BalancedAllocation's score on every feasible Node equals the reference's.

    ``resources`` are the names BalancedAllocation scores (its ``resources``
    argument); by default cpu and memory.
    """
    the_pod = make_pod(POD_NAME, pod)
    want = _balanced_column(_explain(None, the_pod, snapshot(nodes, running), resources))
    got = _balanced_column(_explain(candidate, the_pod, snapshot(nodes, running), resources))
    for name, score in want.items():
        if got.get(name) != score:
            info = next(i for i in snapshot(nodes, running) if i.name == name)
            advice = node_advice(candidate, info, the_pod, resources)
            if advice is None:  # right alone, wrong in the engine: the whole column failed (a score out of range)
                advice = _first_node_advice(candidate, snapshot(nodes, running), the_pod, resources)
            raise AssertionError(
                f"in the score table for a Pod requesting {describe_requests(pod)}, {BALANCED} gives node {name} "
                f"{score} with the reference, but {'no score' if got.get(name) is None else got[name]} with your "
                f"function; {advice}")


def _schedule(candidate: Callable[..., Any] | None, pods: Sequence[Spec], nodes: Mapping[str, Spec],
              running: Mapping[str, Sequence[Spec]] | None,
              resources: Sequence[str] | None) -> list[tuple[str, list[NodeInfo]]]:
    """Schedule ``pods`` one after another; each one's host (or ``""``) and the snapshot it was scheduled on."""
    fwk = _framework(resources)
    infos = snapshot(nodes, running)
    out = []
    start = 0
    for i, spec in enumerate(pods, 1):
        pod = make_pod(f"{POD_NAME}-{i}", spec)
        before = [info.clone() for info in infos]
        if candidate is None:
            result = schedule_pod(fwk, CycleState(), pod, infos, start)
        else:
            with scorer.installed(_Checked(candidate)):
                result = schedule_pod(fwk, CycleState(), pod, infos, start)
        start = result.next_start_node_index
        host = result.suggested_host
        out.append((host, before))
        for info in infos:
            if info.name == host:  # the scheduler's cache assumes the Pod on its Node at once
                info.add_pod(make_pod(pod["metadata"]["name"], spec, host))
    return out


def placement(candidate: Callable[..., Any], *, nodes: Mapping[str, Spec], pods: Sequence[Spec],
              running: Mapping[str, Sequence[Spec]] | None = None, resources: Sequence[str] | None = None) -> None:
    """Pods scheduled one after another by the default profile: each lands where it does with the reference."""
    want = _schedule(None, pods, nodes, running, resources)
    got = _schedule(candidate, pods, nodes, running, resources)
    for i, ((want_host, before), (got_host, _)) in enumerate(zip(want, got)):
        if want_host != got_host:
            pod = make_pod(f"{POD_NAME}-{i + 1}", pods[i])
            which = f"Pod {i + 1} of {len(pods)} ({describe_requests(pods[i])})" if len(pods) > 1 else \
                f"the Pod ({describe_requests(pods[i])})"
            earlier = " after the earlier ones landed on the same Nodes as with the reference" if i else ""
            raise AssertionError(
                f"{which} should land on node {want_host or '(none)'}, but with your function the scheduler put it "
                f"on node {got_host or '(none)'}{earlier}; {_first_node_advice(candidate, before, pod, resources)}")


# The notebook's test cells, as data: test cell -> [(scenario, parameters, hidden)].
# The notebook spells the same calls out; tests/exercises runs this table.
CASES: dict[str, list[tuple[Callable[..., None], dict[str, Any], bool]]] = {
    "test-two-resources": [
        (score_table, {
            "nodes": {"a": {"cpu": "4", "memory": "8Gi"}, "b": {"cpu": "4", "memory": "8Gi"},
                      "c": {"cpu": "2", "memory": "16Gi"}},
            "running": {"b": [{"cpu": "2", "memory": "1Gi"}]},
            "pod": {"cpu": "1", "memory": "2Gi"},
        }, False),
        (score_table, {
            "nodes": {"small": {"cpu": "3", "memory": "10Gi"}, "odd": {"cpu": "7", "memory": "3Gi"},
                      "busy": {"cpu": "16", "memory": "64Gi"}},
            "running": {"odd": [{"cpu": "2500m", "memory": "100Mi"}],
                        "busy": [{"cpu": "9", "memory": "7Gi"}, {"cpu": "1500m", "memory": "30Gi"}]},
            "pod": {"cpu": "700m", "memory": "1500Mi"},
        }, True),
    ],
    "test-full-node": [
        (score_table, {
            "nodes": {"overcommitted": {"cpu": "2", "memory": "8Gi"}, "half": {"cpu": "2", "memory": "8Gi"}},
            "running": {"overcommitted": [{"cpu": "3"}], "half": [{"cpu": "1"}]},
            "pod": {"memory": "2Gi"},
        }, False),
        (score_table, {
            "nodes": {"x": {"cpu": "1", "memory": "2Gi"}, "y": {"cpu": "4", "memory": "1Gi"},
                      "z": {"cpu": "8", "memory": "16Gi"}},
            "running": {"x": [{"cpu": "1500m", "memory": "512Mi"}], "y": [{"cpu": "1", "memory": "3Gi"}],
                        "z": [{"cpu": "10"}]},
            "pod": {"memory": "256Mi"},
        }, True),
    ],
    "test-more-resources": [
        (score_table, {
            "nodes": {"a": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"},
                      "b": {"cpu": "8", "memory": "8Gi", "ephemeral-storage": "20Gi"}},
            "running": {"a": [{"cpu": "1", "memory": "1Gi", "ephemeral-storage": "30Gi"}]},
            "pod": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "10Gi"},
            "resources": ["cpu", "memory", "ephemeral-storage"],
        }, False),
        (score_table, {
            "nodes": {"gpu-1": {"cpu": "16", "memory": "64Gi", "ephemeral-storage": "200Gi", "example.com/gpu": "4"},
                      "gpu-2": {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "50Gi", "example.com/gpu": "2"}},
            "running": {"gpu-1": [{"cpu": "6", "memory": "10Gi", "example.com/gpu": "3"}],
                        "gpu-2": [{"cpu": "1", "memory": "20Gi", "ephemeral-storage": "20Gi"}]},
            "pod": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "5Gi", "example.com/gpu": "1"},
            "resources": ["cpu", "memory", "ephemeral-storage", "example.com/gpu"],
        }, True),
    ],
    "test-missing-resources": [
        (score_table, {
            "nodes": {"plain": {"cpu": "4", "memory": "8Gi"},
                      "gpu": {"cpu": "8", "memory": "16Gi", "example.com/gpu": "2"}},
            "running": {"gpu": [{"cpu": "2", "memory": "2Gi", "example.com/gpu": "1"}]},
            "pod": {"cpu": "1", "memory": "3Gi"},
            "resources": ["cpu", "memory", "example.com/gpu"],
        }, False),
        (score_table, {
            "nodes": {"disk": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "40Gi"},
                      "diskless": {"cpu": "4", "memory": "8Gi"}, "no-memory": {"cpu": "2", "memory": "0"}},
            "running": {"disk": [{"cpu": "1", "ephemeral-storage": "30Gi"}],
                        "diskless": [{"cpu": "3", "memory": "1Gi"}]},
            "pod": {"cpu": "500m"},
            "resources": ["cpu", "memory", "ephemeral-storage"],
        }, True),
    ],
    "test-placement": [
        (placement, {
            "nodes": {"a": {"cpu": "4", "memory": "8Gi"}, "b": {"cpu": "4", "memory": "16Gi"},
                      "c": {"cpu": "2", "memory": "16Gi"}},
            "running": {"a": [{"cpu": "2", "memory": "5Gi"}], "b": [{"cpu": "1500m", "memory": "6Gi"}]},
            "pods": [{"cpu": "1500m", "memory": "1Gi"}],
        }, False),
        (placement, {
            "nodes": {"a": {"cpu": "8", "memory": "8Gi"}, "b": {"cpu": "8", "memory": "8Gi"},
                      "c": {"cpu": "8", "memory": "8Gi"}},
            "running": {"a": [{"cpu": "3", "memory": "1Gi"}], "b": [{"memory": "8Gi"}]},
            "pods": [{"cpu": "1250m", "memory": "3Gi"}, {"cpu": "500m", "memory": "512Mi"},
                     {"cpu": "1250m", "memory": "3Gi"}, {"cpu": "250m", "memory": "2560Mi"}],
        }, True),
    ],
}
