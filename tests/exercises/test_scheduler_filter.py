"""The scheduler-filter grading scenarios, without nbgrader: right answers pass, wrong ones fail for the right reason.

Every case of :data:`kitlib.exercises.scheduler_filter.CASES` runs against a
filter built from the reference plugins and two other honest
implementations, and against a table of deliberately wrong ones, each with
the test cells it must fail and a phrase its advice must contain. The
out-of-tree plugin really replaces the in-tree filters in the profile.
"""

from __future__ import annotations

import pytest

from kitlib.exercises import NotWrittenYet, check, scheduler_filter
from kitlib.exercises.scheduler_filter import CASES, PLUGIN, reader_framework
from kitlib.scheduler.framework import Code, CycleState, Status
from kitlib.scheduler.nodeinfo import pod_resource
from kitlib.scheduler.plugins import node_resources_fit, taint_toleration
from kitlib.scheduler.plugins.helper import do_not_schedule_taints, find_matching_untolerated_taint, pod_tolerations

from .helpers import notebook_calls, sorted_calls
from .test_scheduler_score import assert_fails_with_advice, failures

ALL_CASES = [
    pytest.param(scenario, params, id=f"{cell}-{scenario.__name__}-{'hidden' if hidden else 'visible'}-{i}")
    for cell, cases in CASES.items()
    for i, (scenario, params, hidden) in enumerate(cases)
]


# ---- correct implementations: the reference plugins, and two other honest ways -------------------------------

def reference_plugins(pod, node_info):
    """TaintToleration's Filter, then NodeResourcesFit's, as the default profile runs them."""
    state = CycleState()
    fit = node_resources_fit.Fit()
    fit.pre_filter(state, pod, [node_info])
    return taint_toleration.TaintToleration().filter(state, pod, node_info) or fit.filter(state, pod, node_info)


def matches(toleration, taint):
    """Toleration.ToleratesTaint spelled out as one boolean expression."""
    operator = toleration.get("operator", "Equal") or "Equal"
    return ((not toleration.get("effect") or toleration.get("effect") == taint.get("effect"))
            and (not toleration.get("key") or toleration.get("key") == taint.get("key"))
            and (operator == "Exists"
                 or (operator == "Equal" and toleration.get("value", "") == taint.get("value", ""))))


def table_driven(pod, node_info):
    """Taints with next(), then a table of resources; reasons and codes gathered separately."""
    tolerations = pod["spec"].get("tolerations", [])
    bad = next((t for t in node_info.taints if t["effect"] in ("NoSchedule", "NoExecute")
                and not any(matches(tol, t) for tol in tolerations)), None)
    if bad is not None:
        return Status(Code.UnschedulableAndUnresolvable, (f"node(s) had untolerated taint {{{bad['key']}: "
                                                          f"{bad.get('value', '')}}}",))
    want = pod_resource(pod)
    short = [(name, w > cap) for name, w, used, cap in (
        ("cpu", want.milli_cpu, node_info.requested.milli_cpu, node_info.allocatable.milli_cpu),
        ("memory", want.memory, node_info.requested.memory, node_info.allocatable.memory)) if w and used + w > cap]
    if short:
        code = Code.UnschedulableAndUnresolvable if any(whole for _, whole in short) else Code.Unschedulable
        return Status.new(code, *(f"Insufficient {name}" for name, _ in short))
    return None


def with_kitlib_helpers(pod, node_info):
    """The helper module's taint search with a home-made matcher, and an early-return resource check."""
    taint = find_matching_untolerated_taint(node_info.taints, pod_tolerations(pod), do_not_schedule_taints)
    if taint is not None:
        return Status.new(Code.UnschedulableAndUnresolvable, taint_toleration.untolerated_taint_reason(taint))
    request, free = pod_resource(pod), node_info.allocatable.copy()
    free.milli_cpu -= node_info.requested.milli_cpu
    free.memory -= node_info.requested.memory
    reasons = []
    if request.milli_cpu and request.milli_cpu > free.milli_cpu:
        reasons.append("Insufficient cpu")
    if request.memory and request.memory > free.memory:
        reasons.append("Insufficient memory")
    if not reasons:
        return None
    whole = request.milli_cpu > node_info.allocatable.milli_cpu or request.memory > node_info.allocatable.memory
    return Status.new(Code.UnschedulableAndUnresolvable if whole else Code.Unschedulable, *reasons)


CORRECT = [reference_plugins, table_driven, with_kitlib_helpers]


@pytest.mark.parametrize("candidate", CORRECT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scenario,params", ALL_CASES)
def test_correct_implementations_pass(candidate, scenario, params):
    check(scenario, candidate, **params)


def test_the_reader_plugin_replaces_the_in_tree_filters_only():
    fwk = reader_framework(reference_plugins)
    assert [p.NAME for p in fwk.filter_plugins] == ["NodeUnschedulable", "NodeName", "NodeAffinity",
                                                    "PodTopologySpread", PLUGIN]
    assert [p.NAME for p in fwk.score_plugins] == ["TaintToleration", "NodeAffinity", "NodeResourcesFit",
                                                   "PodTopologySpread", "NodeResourcesBalancedAllocation"]
    assert fwk.weights["TaintToleration"] == 3


# ---- wrong implementations -----------------------------------------------------------------------------

def not_written(pod, node_info):
    # YOUR CODE HERE
    raise NotImplementedError()


def variant(tolerates=matches, taints_first=True, zero_fits=True, strict=False, always_unresolvable=False,
            first_reason_only=False, prefer_too=False, reason=None, taints=True, resources=True, count_used=True,
            last_taint=False):
    """A filter with one rule broken."""
    effects = ("NoSchedule", "NoExecute", "PreferNoSchedule") if prefer_too else ("NoSchedule", "NoExecute")

    def taint_status(pod, node_info):
        tolerations = pod["spec"].get("tolerations") or []
        for t in reversed(node_info.taints) if last_taint else node_info.taints:
            if t["effect"] in effects and not any(tolerates(tol, t) for tol in tolerations):
                text = reason(t) if reason else f"node(s) had untolerated taint {{{t['key']}: {t.get('value', '')}}}"
                return Status.new(Code.UnschedulableAndUnresolvable, text)
        return None

    def resource_status(pod, node_info):
        r, reasons, whole = pod_resource(pod), [], False
        for name, want, used, cap in (
                ("cpu", r.milli_cpu, node_info.requested.milli_cpu, node_info.allocatable.milli_cpu),
                ("memory", r.memory, node_info.requested.memory, node_info.allocatable.memory)):
            left = cap - (used if count_used else 0)
            if (want > 0 or not zero_fits) and (want >= left if strict else want > left):
                reasons.append(f"Insufficient {name}")
                whole = whole or want > cap
        if not reasons:
            return None
        code = Code.UnschedulableAndUnresolvable if whole or always_unresolvable else Code.Unschedulable
        return Status.new(code, *reasons[:1] if first_reason_only else reasons)

    checks = [c for c, on in ((taint_status, taints), (resource_status, resources)) if on]

    def filter_node(pod, node_info):
        for c in checks if taints_first else reversed(checks):
            status = c(pod, node_info)
            if status is not None:
                return status
        return None
    return filter_node


def _tolerates_without(rule):
    def tolerates(toleration, taint):
        if rule == "empty-key" and not toleration.get("key"):
            return False
        if rule == "effect-required" and toleration.get("effect") != taint.get("effect"):
            return False
        if rule == "exists-compares-values" and toleration.get("operator") == "Exists":
            return matches({**toleration, "operator": "Equal"}, taint)
        if rule == "operator-required" and not toleration.get("operator"):
            return False
        if rule == "effect-ignored":
            toleration = {k: v for k, v in toleration.items() if k != "effect"}
        return matches(toleration, taint)
    return tolerates


def returns_bool(pod, node_info):
    return reference_plugins(pod, node_info) is None


ALL_CELLS = set(CASES)
RESOURCE_CELLS = {"test-fit", "test-taints-and-resources", "test-failed-scheduling", "test-placement"}
TAINT_CELLS = {"test-tolerations", "test-taints-and-resources", "test-failed-scheduling", "test-placement"}

# wrong version -> {test cell it must fail: a phrase of the advice it gets there}; every other cell passes.
WRONG = [
    (not_written, {cell: "is not written yet: replace `raise NotImplementedError()`" for cell in ALL_CELLS}),
    (returns_bool, {cell: "return None when the Pod may run there" for cell in ALL_CELLS}),
    (variant(taints_first=False), {"test-taints-and-resources": "check the taints first"}),
    (variant(zero_fits=False), {"test-fit": "a Pod that requests nothing (0) fits everywhere"}),
    (variant(strict=True), {cell: "equal included" for cell in ("test-fit", "test-failed-scheduling", "test-placement")}),
    (variant(always_unresolvable=True), {cell: "Unschedulable when evicting Pods could make room"
                                         for cell in RESOURCE_CELLS}),
    (variant(first_reason_only=True), {cell: "report every resource that does not fit"
                                       for cell in ("test-fit", "test-taints-and-resources", "test-failed-scheduling")}),
    (variant(prefer_too=True), {cell: "only NoSchedule and NoExecute" for cell in ("test-tolerations",
                                                                                    "test-taints-and-resources")}),
    (variant(reason=lambda t: f"node(s) had untolerated taint {t['key']}={t.get('value', '')}"),
     {cell: "the reason must read exactly" for cell in TAINT_CELLS}),
    (variant(taints=False), {"test-tolerations": "is tolerated by none of the Pod's tolerations",
                             "test-taints-and-resources": "check the taints first",
                             "test-failed-scheduling": "is tolerated by none", "test-placement": "is tolerated by none"}),
    (variant(resources=False), {cell: "more than what is left does not fit" for cell in RESOURCE_CELLS}),
    (variant(count_used=False), {cell: "already request" for cell in RESOURCE_CELLS}),
    (variant(last_taint=True), {"test-tolerations": "report the first untolerated taint"}),
    (variant(tolerates=_tolerates_without("empty-key")), {"test-tolerations": "an empty key with operator Exists"}),
    (variant(tolerates=_tolerates_without("effect-required")),
     {cell: "without an effect matches every effect" for cell in ("test-tolerations", "test-taints-and-resources")}),
    (variant(tolerates=_tolerates_without("exists-compares-values")),
     {"test-tolerations": "operator Exists matches any value"}),
    (variant(tolerates=_tolerates_without("operator-required")), {"test-tolerations": "a missing operator means Equal"}),
    (variant(tolerates=_tolerates_without("effect-ignored")), {"test-tolerations": "does not match because its effect"}),
]


@pytest.mark.parametrize("candidate,failing", WRONG, ids=[f"{i}-{w[0].__name__}" for i, w in enumerate(WRONG)])
def test_wrong_implementations_fail_with_advice(candidate, failing):
    assert_fails_with_advice(CASES, candidate, failing)


@pytest.mark.parametrize("candidate", [variant(taints=False), variant(resources=False), variant(strict=True),
                                       variant(always_unresolvable=True),
                                       variant(tolerates=_tolerates_without("effect-required"))])
def test_visible_tests_alone_catch_the_common_mistakes(candidate):
    assert failures(CASES, candidate, hidden_too=False)


# ---- the messages a student reads ------------------------------------------------------------------------

def test_failed_scheduling_shows_both_messages():
    scenario, params, _ = CASES["test-failed-scheduling"][0]
    with pytest.raises(AssertionError) as info:
        check(scenario, variant(always_unresolvable=True), **params)
    message = str(info.value)
    assert message.startswith(
        "kube's scheduler records FailedScheduling `0/4 nodes are available: 2 Insufficient cpu, 2 node(s) had "
        "untolerated taint {dedicated: gpu}. preemption: 0/4 nodes are available: 2 No preemption victims found "
        "for incoming pod, 2 Preemption is not helpful for scheduling.`, but with your filter it records "
        "FailedScheduling `0/4 nodes are available: 2 Insufficient cpu, 2 node(s) had untolerated taint "
        "{dedicated: gpu}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.`; "
        "on node cpu-1")
    assert "cpu: the Pod requests 2000m, the Node has 2000m allocatable and its Pods already request 1000m" in message


def test_untouched_function_gets_one_line_not_a_traceback():
    scenario, params, _ = CASES["test-fit"][0]
    with pytest.raises(NotWrittenYet) as info:
        check(scenario, not_written, **params)
    assert str(info.value).startswith("not_written is not written yet: replace `raise NotImplementedError()`")


def test_an_error_in_the_readers_code_names_its_line():
    def reads_a_missing_field(pod, node_info):
        return pod["spec"]["tolerations"]

    scenario, params, _ = CASES["test-fit"][0]
    with pytest.raises(AssertionError) as info:
        check(scenario, reads_a_missing_field, **params)
    assert str(info.value).startswith("reads_a_missing_field raised KeyError: 'tolerations'")


def test_the_notebook_runs_exactly_the_table():
    assert sorted_calls(notebook_calls("scheduler-filter", scheduler_filter, "filter_node")) == sorted_calls(CASES)
