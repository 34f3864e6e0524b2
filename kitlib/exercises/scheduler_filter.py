"""Grading scenarios for the exercise ``scheduler-filter``: may this Pod run on this Node?

The reader writes ``filter_node(pod, node_info) -> Status | None``, the
Filter half of two plugins at once: TaintToleration (a NoSchedule or
NoExecute taint that no toleration of the Pod matches keeps it off, as
UnschedulableAndUnresolvable) and NodeResourcesFit for cpu and memory (a
request larger than what the Node has left is ``Insufficient cpu``,
Unschedulable, or UnschedulableAndUnresolvable if it is larger than the whole
Node). The function becomes an out-of-tree plugin, :data:`PLUGIN`, registered
as kube-scheduler registers one (``app.WithPlugin``: merged into the
registry, listed in the profile); the profile disables the Filter of
TaintToleration and NodeResourcesFit (``plugins.filter.disabled``) and keeps
their Score. The scenarios then run the real framework on a Node snapshot
and compare with kube's default profile on the same cluster: every Node's
verdict, the ``FailedScheduling`` message (with preemption's part), and
Pods placed one after another, preemption included. A failure names the
Node, what its Pods request, its taints, and the rule that was missed.

Clusters are literals, as in :mod:`kitlib.exercises.scheduler_score`; a Node
literal may hold ``"taints"``, a Pod literal ``"tolerations"`` and
``"priority"``.

Simplifications:
- Only cpu and memory are the reader's: scenarios have no extended
  resources, ephemeral storage, Pod-count limits, node affinity or
  nodeName, so no other Filter plugin decides anything.
- As in :mod:`kitlib.exercises.scheduler_score`, no API server: placed Pods
  join their Node's snapshot directly, and preemption's victims leave it.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Mapping, Sequence

from kitlib.scheduler.explain import explain
from kitlib.scheduler.framework import CycleState, PluginSpec, Profile, Status
from kitlib.scheduler.nodeinfo import NodeInfo, pod_resource
from kitlib.scheduler.plugins import node_resources_fit, taint_toleration
from kitlib.scheduler.plugins.helper import do_not_schedule_taints, tolerates_taint
from kitlib.scheduler.plugins.registry import default_profile, disable_extension_point, in_tree_registry
from kitlib.scheduler.runtime import Framework
from kitlib.scheduler.schedule_one import run_post_filter, schedule_pod
from kitlib.exercises.scheduler_score import SEED, Spec, describe_requests, make_pod, snapshot

PLUGIN = "TaintsAndResources"  # the reader's out-of-tree plugin, as it appears in the profile and the tables
POD_NAME = "web"


def _name(candidate: Callable[..., Any]) -> str:
    return getattr(candidate, "__name__", "your function")


class ReaderFilter:
    """The out-of-tree Filter plugin around the reader's ``filter_node(pod, node_info)``."""

    NAME = PLUGIN

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def filter(self, state: CycleState, pod: dict, node_info: NodeInfo) -> Status | None:
        status = self.fn(pod, node_info)
        if status is not None and not isinstance(status, Status):
            raise AssertionError(
                f"{_name(self.fn)} returned {status!r:.60} for node {node_info.name}: return None when the Pod may "
                f"run there, or a Status such as Status.new(Code.Unschedulable, 'Insufficient cpu')")
        return status


def reference_framework() -> Framework:
    """kube's default profile with the in-tree plugins."""
    return Framework(default_profile(), in_tree_registry(), random.Random(SEED))


def reader_framework(candidate: Callable[..., Any]) -> Framework:
    """The default profile plus :class:`ReaderFilter`, with TaintToleration's and NodeResourcesFit's Filter off."""
    registry = in_tree_registry().merge({PLUGIN: lambda _args, _handle: ReaderFilter(candidate)})
    registry = disable_extension_point(registry, "Filter", taint_toleration.NAME, node_resources_fit.NAME)
    base = default_profile()
    return Framework(Profile([*base.plugins, PluginSpec(PLUGIN)], base.plugin_args), registry, random.Random(SEED))


# ---- advice ----------------------------------------------------------------------------------------------------

def _verdict(status: Status) -> str:
    if status.is_success():
        return "the Pod fits"
    return f"{status.code.name}: {', '.join(repr(r) for r in status.reasons)}"


def _taint(taint: Mapping[str, Any]) -> str:
    value = taint.get("value")
    return f"{taint.get('key', '')}{'=' + value if value else ''}:{taint.get('effect', '')}"


def _why_not(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> str:
    """Why one toleration does not match one taint, in the rule's words."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return f"its effect {toleration['effect']} is not the taint's {taint.get('effect')}"
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return f"its key {toleration['key']!r} is not the taint's {taint.get('key')!r}"
    return (f"operator Equal (the default) needs the same value, and {toleration.get('value') or ''!r} is not "
            f"{taint.get('value') or ''!r}")


def _why_yes(toleration: Mapping[str, Any]) -> str:
    """What makes a toleration match, said for this one."""
    rules = []
    if not toleration.get("key") and toleration.get("operator") == "Exists":
        rules.append("an empty key with operator Exists tolerates every taint")
    elif toleration.get("operator") == "Exists":
        rules.append("operator Exists matches any value of the key")
    else:
        if not toleration.get("operator"):
            rules.append("a missing operator means Equal")
        rules.append("a missing value is the empty string" if not toleration.get("value")
                     else "Equal with the same key and value matches")
    if not toleration.get("effect"):
        rules.append("a toleration without an effect matches every effect")
    return "; ".join(rules)


def _taint_advice(pod: Mapping[str, Any], info: NodeInfo, want: Status, got: Status) -> str | None:
    """Advice when a taint is (or should have been) the reason; ``None`` when taints are not the issue."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    untolerated = [t for t in info.taints if do_not_schedule_taints(t)
                   and not any(tolerates_taint(tol, t) for tol in tolerations)]
    named = [t for t in info.taints if taint_toleration.untolerated_taint_reason(t) in got.reasons]
    if named:  # the reader rejected the Node for this taint
        taint = named[0]
        if not do_not_schedule_taints(taint):
            return (f"only NoSchedule and NoExecute taints keep Pods off in Filter; {_taint(taint)} only makes "
                    f"the Node score lower")
        tolerating = [tol for tol in tolerations if tolerates_taint(tol, taint)]
        if tolerating:
            return f"the toleration {tolerating[0]} tolerates the taint {_taint(taint)}: {_why_yes(tolerating[0])}"
        if untolerated and taint is not untolerated[0]:
            return (f"report the first untolerated taint in the Node's list, {_taint(untolerated[0])}, as "
                    f"`{taint_toleration.untolerated_taint_reason(untolerated[0])}`")
    if not untolerated or want.reasons == got.reasons:
        return None
    first = untolerated[0]
    if got.is_success():
        why = "; ".join(f"{tol} does not match because {_why_not(tol, first)}" for tol in tolerations) \
            or "the Pod has no tolerations"
        return f"the taint {_taint(first)} is tolerated by none of the Pod's tolerations: {why}"
    if any(reason.startswith("Insufficient") for reason in got.reasons):
        return ("check the taints first, then the resources: the default profile runs TaintToleration before "
                "NodeResourcesFit, and a Node rejected for both reports the taint")
    return f"the reason must read exactly `{taint_toleration.untolerated_taint_reason(first)}`"


def _amount(value: int, resource: str) -> str:
    """Millicores as ``1500m``, bytes in the largest binary unit that divides them (``256Mi``)."""
    if resource == "cpu":
        return f"{value}m"
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def _resource_advice(pod: Mapping[str, Any], info: NodeInfo, want: Status, got: Status) -> str:
    request = pod_resource(pod)
    facts = []
    for name, want_amount, used, total in (
            ("cpu", request.milli_cpu, info.requested.milli_cpu, info.allocatable.milli_cpu),
            ("memory", request.memory, info.requested.memory, info.allocatable.memory)):
        facts.append(f"{name}: the Pod requests {_amount(want_amount, name)}, the Node has {_amount(total, name)} "
                     f"allocatable and its Pods already request {_amount(used, name)}, so "
                     f"{_amount(total - used, name)} is left")
    if want.reasons == got.reasons and want.code != got.code:
        rule = ("Unschedulable when evicting Pods could make room, UnschedulableAndUnresolvable when the request "
                "is more than the Node's whole allocatable (no eviction can help)")
    elif not want.is_success() and got.is_success():
        rule = "a request that is more than what is left does not fit (allocatable minus what the Node's Pods request)"
    elif want.is_success():
        rule = ("a request fits when it is at most what is left, equal included; a Pod that requests nothing (0) "
                "fits everywhere, even on an overcommitted Node")
    else:
        rule = ("report every resource that does not fit, each as its own reason, cpu before memory: "
                "'Insufficient cpu', 'Insufficient memory'")
    return f"{'; '.join(facts)}; {rule}"


def node_advice(pod: Mapping[str, Any], info: NodeInfo, want: Status, got: Status) -> str:
    """Why the reader's verdict on this Node differs from the reference's."""
    taints = ", ".join(_taint(t) for t in info.taints) or "none"
    tolerations = (pod.get("spec") or {}).get("tolerations") or "none"
    head = (f"on node {info.name} (taints: {taints}) for a Pod requesting {describe_requests(_literal(pod))} "
            f"(tolerations: {tolerations}), kube's filters say {_verdict(want)}, and yours {_verdict(got)}")
    return f"{head}: {_taint_advice(pod, info, want, got) or _resource_advice(pod, info, want, got)}"


def _literal(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The requests of a Pod built by :func:`make_pod`, back as a literal (for messages)."""
    container = pod["spec"]["containers"][0]
    return dict((container.get("resources") or {}).get("requests") or {})


def _verdicts(fwk: Framework, pod: dict, infos: list[NodeInfo]) -> dict[str, Status]:
    return {node.name: node.status for node in explain(fwk, pod, infos).nodes}


def first_disagreement(candidate: Callable[..., Any], pod: dict, infos: Sequence[NodeInfo]) -> str | None:
    """Advice on the first Node the reader's filter judges otherwise than kube's, or ``None``."""
    want = _verdicts(reference_framework(), pod, [i.clone() for i in infos])
    got = _verdicts(reader_framework(candidate), pod, [i.clone() for i in infos])
    for info in infos:
        a, b = want[info.name], got[info.name]
        if (a.code, a.reasons) != (b.code, b.reasons):
            return node_advice(pod, info, a, b)
    return None


# ---- scenarios -------------------------------------------------------------------------------------------------

def filter_verdicts(candidate: Callable[..., Any], *, nodes: Mapping[str, Spec], pod: Spec,
                    running: Mapping[str, Sequence[Spec]] | None = None) -> None:
    """Every Node's verdict for ``pod`` (code and reasons) equals the default profile's."""
    the_pod = make_pod(POD_NAME, pod)
    advice = first_disagreement(candidate, the_pod, snapshot(nodes, running))
    assert advice is None, advice


def _cycle(fwk: Framework, pod: dict, infos: list[NodeInfo], start: int) -> tuple[str, str, tuple[dict, ...], int]:
    """One scheduling cycle as the scheduler's loop runs it: (host, FailedScheduling message, victims, next start)."""
    state = CycleState()
    result = schedule_pod(fwk, state, pod, infos, start)
    if result.fit_error is not None:
        post, _ = run_post_filter(fwk, state, pod, result.fit_error)
        victims = post.victims if post is not None and post.nominated_node_name else ()
        nominated = post.nominated_node_name if post is not None else ""
        return nominated or "", result.fit_error.message(), victims, result.next_start_node_index
    if not result.status.is_success():
        raise AssertionError(f"the scheduler failed with an error: {result.status.message()}")
    return result.suggested_host, "", (), result.next_start_node_index


def failed_scheduling(candidate: Callable[..., Any], *, nodes: Mapping[str, Spec], pod: Spec,
                      running: Mapping[str, Sequence[Spec]] | None = None) -> None:
    """The scheduling cycle's outcome: the same Node, or the same ``FailedScheduling`` message, as kube's."""
    the_pod = make_pod(POD_NAME, pod)
    want_host, want_msg, _, _ = _cycle(reference_framework(), the_pod, snapshot(nodes, running), 0)
    got_host, got_msg, _, _ = _cycle(reader_framework(candidate), the_pod, snapshot(nodes, running), 0)
    if (want_host, want_msg) == (got_host, got_msg):
        return
    said = lambda host, msg: f"FailedScheduling `{msg}`" if msg else f"a placement on {host}"  # noqa: E731
    why = first_disagreement(candidate, the_pod, snapshot(nodes, running)) or (
        "every Node is judged right once, but preemption asks again on copies of the Nodes with some Pods "
        "removed: read what the Node's Pods request from node_info each time, never from state you keep")
    raise AssertionError(f"kube's scheduler records {said(want_host, want_msg)}, but with your filter it records "
                         f"{said(got_host, got_msg)}; {why}")


def _run_all(fwk: Framework, pods: Sequence[Spec], infos: list[NodeInfo]) -> list[tuple[str, list[NodeInfo]]]:
    """Schedule ``pods`` in order; a preempting Pod is retried once its victims are gone. Outcome per Pod."""
    out = []
    start = 0
    for i, spec in enumerate(pods, 1):
        pod = make_pod(f"{POD_NAME}-{i}", spec)
        before = [info.clone() for info in infos]
        host, message, victims, start = _cycle(fwk, pod, infos, start)
        outcome = f"-> {host}" if not message else f"FailedScheduling `{message}`"
        if victims:
            for info in infos:
                if info.name == host:
                    for victim in victims:
                        info.remove_pod(victim)
            gone = ", ".join(sorted(v["metadata"]["name"] for v in victims))
            pod["status"]["nominatedNodeName"] = host
            host, message, _, start = _cycle(fwk, pod, infos, start)
            outcome += f", preempting {gone}, then " + (f"-> {host}" if not message else f"`{message}`")
        elif message:
            host = ""
        if host and not message:
            for info in infos:
                if info.name == host:
                    info.add_pod(make_pod(pod["metadata"]["name"], spec, host))
        out.append((outcome, before))
    return out


def placements(candidate: Callable[..., Any], *, nodes: Mapping[str, Spec], pods: Sequence[Spec],
               running: Mapping[str, Sequence[Spec]] | None = None) -> None:
    """Pods scheduled one after another (and preempting, by priority): each outcome equals kube's."""
    want = _run_all(reference_framework(), pods, snapshot(nodes, running))
    got = _run_all(reader_framework(candidate), pods, snapshot(nodes, running))
    for i, ((want_outcome, before), (got_outcome, _)) in enumerate(zip(want, got)):
        if want_outcome != got_outcome:
            pod = make_pod(f"{POD_NAME}-{i + 1}", pods[i])
            why = first_disagreement(candidate, pod, before) or (
                "every Node is judged right once, but preemption asks again on copies of the Nodes with some "
                "Pods removed: read what the Node's Pods request from node_info each time")
            raise AssertionError(
                f"Pod {i + 1} of {len(pods)} ({describe_requests(pods[i])}) should end {want_outcome}, but with your "
                f"filter it ends {got_outcome}; {why}")


# The notebook's test cells, as data: test cell -> [(scenario, parameters, hidden)].
# The notebook spells the same calls out; tests/exercises runs this table.
GPU = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
TOLERATE_GPU = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}

CASES: dict[str, list[tuple[Callable[..., None], dict[str, Any], bool]]] = {
    "test-fit": [
        (filter_verdicts, {
            "nodes": {"small": {"cpu": "1", "memory": "8Gi"}, "busy": {"cpu": "4", "memory": "8Gi"},
                      "roomy": {"cpu": "4", "memory": "8Gi"}, "both": {"cpu": "2", "memory": "4Gi"}},
            "running": {"busy": [{"cpu": "3", "memory": "2Gi"}], "roomy": [{"cpu": "2500m", "memory": "6Gi"}],
                        "both": [{"cpu": "1", "memory": "3Gi"}]},
            "pod": {"cpu": "1500m", "memory": "2Gi"},
        }, False),
        (filter_verdicts, {
            "nodes": {"overcommitted": {"cpu": "1", "memory": "1Gi"}, "tiny": {"cpu": "4", "memory": "128Mi"},
                      "full": {"cpu": "2", "memory": "1Gi"}, "exact": {"cpu": "2", "memory": "1280Mi"}},
            "running": {"overcommitted": [{"cpu": "2", "memory": "512Mi"}], "full": [{"memory": "900Mi"}],
                        "exact": [{"cpu": "1", "memory": "1Gi"}]},
            "pod": {"memory": "256Mi"},
        }, True),
        (filter_verdicts, {
            "nodes": {"short": {"cpu": "2", "memory": "4Gi"}, "wide": {"cpu": "8", "memory": "2Gi"}},
            "running": {"short": [{"memory": "3500Mi"}], "wide": [{"cpu": "6"}]},
            "pod": {"cpu": "3", "memory": "1Gi"},
        }, True),
    ],
    "test-tolerations": [
        (filter_verdicts, {
            "nodes": {"gpu": {"taints": [GPU]}, "db": {"taints": [{"key": "dedicated", "value": "db",
                                                                   "effect": "NoSchedule"}]},
                      "spot": {"taints": [{"key": "spot", "value": "true", "effect": "NoExecute"}]},
                      "control-plane": {"taints": [CONTROL_PLANE]},
                      "soft": {"taints": [{"key": "team", "value": "a", "effect": "PreferNoSchedule"}]},
                      "plain": {}},
            "pod": {"cpu": "100m", "tolerations": [TOLERATE_GPU, {"key": "spot", "operator": "Exists"}]},
        }, False),
        (filter_verdicts, {
            "nodes": {"gpu": {"taints": [GPU]}, "control-plane": {"taints": [CONTROL_PLANE]},
                      "many": {"taints": [GPU, {"key": "spot", "effect": "NoExecute"}, CONTROL_PLANE]}},
            "pod": {"cpu": "100m", "tolerations": [{"operator": "Exists"}]},
        }, True),
        (filter_verdicts, {
            "nodes": {"gpu": {"taints": [GPU]}, "gpu-evict": {"taints": [dict(GPU, effect="NoExecute")]},
                      "many": {"taints": [dict(GPU, effect="NoExecute"), {"key": "zone", "value": "b",
                                                                          "effect": "NoSchedule"},
                                          CONTROL_PLANE]},
                      "empty-value": {"taints": [{"key": "zone", "effect": "NoSchedule"}]}},
            "pod": {"cpu": "100m", "tolerations": [{"key": "dedicated", "value": "gpu", "effect": "NoExecute"},
                                                   {"key": "zone", "operator": "Equal"}]},
        }, True),
        (filter_verdicts, {
            "nodes": {"gpu": {"taints": [GPU]}, "cp": {"taints": [CONTROL_PLANE]},
                      "spot": {"taints": [{"key": "spot", "value": "x", "effect": "NoSchedule"}]}},
            "pod": {"cpu": "100m", "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu"},
                                                   {"key": "spot", "operator": "Exists", "effect": "NoExecute"},
                                                   {"key": "node-role.kubernetes.io/control-plane",
                                                    "operator": "Exists", "effect": "NoSchedule"}]},
        }, True),
    ],
    "test-taints-and-resources": [
        (filter_verdicts, {
            "nodes": {"gpu-small": {"cpu": "1", "memory": "4Gi", "taints": [GPU]},
                      "gpu-busy": {"cpu": "4", "memory": "4Gi", "taints": [GPU]},
                      "cp-small": {"cpu": "1", "memory": "4Gi", "taints": [CONTROL_PLANE]}},
            "running": {"gpu-busy": [{"cpu": "3", "memory": "3Gi"}]},
            "pod": {"cpu": "2", "memory": "2Gi", "tolerations": [TOLERATE_GPU]},
        }, False),
        (filter_verdicts, {
            "nodes": {"a": {"cpu": "2", "memory": "1Gi", "taints": [{"key": "spot", "effect": "NoExecute"}]},
                      "b": {"cpu": "2", "memory": "1Gi", "taints": [{"key": "spot", "effect": "PreferNoSchedule"}]},
                      "c": {"cpu": "8", "memory": "8Gi",
                            "taints": [CONTROL_PLANE, {"key": "spot", "effect": "NoExecute"}]}},
            "running": {"c": [{"cpu": "7", "memory": "7Gi"}]},
            "pod": {"cpu": "1", "memory": "2Gi", "tolerations": [{"key": "node-role.kubernetes.io/control-plane",
                                                                   "operator": "Exists"}]},
        }, True),
    ],
    "test-failed-scheduling": [
        (failed_scheduling, {
            "nodes": {"cpu-1": {"cpu": "2", "memory": "8Gi"}, "cpu-2": {"cpu": "2", "memory": "8Gi"},
                      "gpu-1": {"cpu": "8", "memory": "8Gi", "taints": [GPU]},
                      "gpu-2": {"cpu": "8", "memory": "8Gi", "taints": [GPU]}},
            "running": {"cpu-1": [{"cpu": "1"}], "cpu-2": [{"cpu": "500m"}]},
            "pod": {"cpu": "2", "memory": "1Gi"},
        }, False),
        (failed_scheduling, {
            "nodes": {"small": {"cpu": "1", "memory": "2Gi"}, "busy": {"cpu": "4", "memory": "4Gi"},
                      "cp": {"cpu": "4", "memory": "8Gi", "taints": [CONTROL_PLANE]}},
            "running": {"busy": [{"cpu": "2", "memory": "3Gi"}, {"cpu": "1", "memory": "512Mi"}]},
            "pod": {"cpu": "2", "memory": "1Gi", "priority": 100},
        }, True),
        (failed_scheduling, {
            "nodes": {"cp": {"cpu": "8", "memory": "8Gi", "taints": [CONTROL_PLANE]},
                      "gpu": {"cpu": "8", "memory": "8Gi", "taints": [GPU]},
                      "worker": {"cpu": "2", "memory": "2Gi"}},
            "running": {"worker": [{"cpu": "1", "memory": "1Gi"}]},
            "pod": {"cpu": "1", "memory": "1Gi"},
        }, True),
    ],
    "test-placement": [
        (placements, {
            "nodes": {"a": {"cpu": "2", "memory": "4Gi"}, "b": {"cpu": "2", "memory": "4Gi"},
                      "gpu": {"cpu": "8", "memory": "16Gi", "taints": [GPU]}},
            "pods": [{"cpu": "1500m", "memory": "1Gi"}, {"cpu": "1500m", "memory": "1Gi"},
                     {"cpu": "1", "memory": "1Gi"}, {"cpu": "4", "memory": "1Gi", "tolerations": [TOLERATE_GPU]},
                     {"cpu": "500m", "memory": "3Gi"}],
        }, False),
        (placements, {
            "nodes": {"a": {"cpu": "2", "memory": "4Gi"}, "b": {"cpu": "2", "memory": "4Gi"},
                      "cp": {"cpu": "4", "memory": "8Gi", "taints": [CONTROL_PLANE]}},
            "running": {"a": [{"cpu": "1500m", "memory": "1Gi", "priority": 10}],
                        "b": [{"cpu": "1", "memory": "1Gi", "priority": 1000}]},
            "pods": [{"cpu": "1", "memory": "1Gi", "priority": 100}, {"cpu": "1500m", "memory": "1Gi", "priority": 100},
                     {"cpu": "3", "memory": "1Gi", "priority": 100}, {"cpu": "500m", "memory": "3Gi"}],
        }, True),
    ],
}
