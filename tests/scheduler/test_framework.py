"""The framework: codes and statuses, cycle state, profiles, and kube's rules for running each extension point."""

from __future__ import annotations

import random

import pytest

from kitlib.scheduler.framework import (
    MAX_NODE_SCORE, Code, CycleState, NodeScore, NodeToStatus, PluginSpec, PostFilterResult, PreFilterResult,
    Profile, Registry, Status, as_status,
)
from kitlib.scheduler.plugins.registry import in_tree_registry
from kitlib.scheduler.runtime import Framework, FrameworkError

from .helpers import framework_of, info, node, pod


class Fake:
    """A configurable plugin: each extension point answers from ``answers`` and logs the call."""

    def __init__(self, name: str, log: list | None = None, **answers) -> None:
        self.NAME, self.log, self.answers = name, log if log is not None else [], answers
        for point in answers:
            setattr(self, point, self._make(point))

    def _make(self, point):
        def call(state, p, arg):
            self.log.append((self.NAME, point, getattr(arg, "name", arg)))
            answer = self.answers[point]
            return answer(arg) if callable(answer) else answer
        return call


def test_codes_print_as_kube_names_and_statuses_answer_questions():
    assert [str(c) for c in Code] == ["Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Wait",
                                      "Skip", "Pending"]
    s = Status.new(Code.Unschedulable, "Insufficient cpu", "Insufficient memory")
    assert (s.message(), s.is_rejected(), s.is_success()) == ("Insufficient cpu, Insufficient memory", True, False)
    assert as_status(None).is_success() and Status.new(Code.Skip).is_skip() and Status.new(Code.Wait).is_wait()
    assert not Status.new(Code.Error).is_rejected() and Status.new(Code.Pending).is_rejected()
    err = Status.as_error(ValueError("boom"))
    assert (err.code, err.message(), type(err.error)) == (Code.Error, "boom", ValueError)
    assert s.with_plugin("X").plugin == "X" and s.plugin == ""  # statuses are values


def test_cycle_state_clone_copies_what_can_be_cloned():
    class Counted:
        def __init__(self, n):
            self.n = n

        def clone(self):
            return Counted(self.n)

    state = CycleState()
    state.write("a", Counted(1))
    state.write("b", [1])
    state.skip_filter_plugins.add("X")
    copy = state.clone()
    copy.read("a").n = 2
    assert state.read("a").n == 1 and copy.read("b") is state.read("b") and copy.skip_filter_plugins == {"X"}
    with pytest.raises(KeyError):
        state.read("missing")


def test_pre_filter_results_intersect():
    a, b = PreFilterResult(frozenset({"n1", "n2"})), PreFilterResult(frozenset({"n2", "n3"}))
    assert a.merge(b).node_names == {"n2"} and PreFilterResult().merge(a) is a and a.merge(None) is a


def test_registry_refuses_duplicates_and_profile_unknown_plugins():
    registry = in_tree_registry()
    with pytest.raises(ValueError, match="already exists"):
        registry.register("NodeName", object)
    with pytest.raises(FrameworkError, match="'Nope' is not in the registry"):
        Framework(Profile([PluginSpec("Nope")]), Registry(), random.Random(0))
    with pytest.raises(FrameworkError, match="initializing plugin 'NodeResourcesFit': scoring strategy X is not supported"):
        Framework(Profile([PluginSpec("NodeResourcesFit")], {"NodeResourcesFit": {"scoringStrategy": {"type": "X"}}}),
                  registry, random.Random(0))


def test_filter_stops_at_the_first_rejection():
    log: list = []
    fwk = framework_of(Fake("A", log, filter=None),
                       Fake("B", log, filter=Status.new(Code.Unschedulable, "no")),
                       Fake("C", log, filter=Status.new(Code.UnschedulableAndUnresolvable, "never")))
    status = fwk.run_filter(CycleState(), pod("p"), info(node("n1")))
    assert (status.code, status.message(), status.plugin) == (Code.Unschedulable, "no", "B")
    assert [entry[0] for entry in log] == ["A", "B"]


def test_filter_turns_unexpected_codes_into_errors():
    fwk = framework_of(Fake("A", filter=Status.new(Code.Wait, "huh")))
    status = fwk.run_filter(CycleState(), pod("p"), info(node("n1")))
    assert (status.code, status.message(), status.plugin) == (Code.Error, "running 'A' filter plugin: huh", "A")


def test_pre_filter_skip_skips_that_filter():
    log: list = []
    fwk = framework_of(Fake("A", log, pre_filter=(None, Status.new(Code.Skip)), filter=Status.new(Code.Unschedulable)))
    state = CycleState()
    _, status, _ = fwk.run_pre_filter(state, pod("p"))
    assert status.is_success() and fwk.run_filter(state, pod("p"), info(node("n1"))).is_success()
    assert [point for _, point, _ in log] == ["pre_filter"]


# (name, answers of plugins A and B, expected code, message, result)
PRE_FILTER = [
    ("both narrow", [(PreFilterResult(frozenset({"n1", "n2"})), None), (PreFilterResult(frozenset({"n2"})), None)],
     Code.Success, "", {"n2"}),
    ("disjoint", [(PreFilterResult(frozenset({"n1"})), None), (PreFilterResult(frozenset({"n2"})), None)],
     Code.UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) [A B] simultaneously", set()),
    ("one empty", [(PreFilterResult(frozenset()), None), (None, None)],
     Code.UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin A", set()),
    ("unresolvable stops", [(None, Status.new(Code.UnschedulableAndUnresolvable, "x")), (None, None)],
     Code.UnschedulableAndUnresolvable, "x", None),
    ("unschedulable goes on", [(None, Status.new(Code.Unschedulable, "y")), (PreFilterResult(frozenset({"n1"})), None)],
     Code.Unschedulable, "y", None),
    ("error", [(None, Status.new(Code.Error, "z")), (None, None)], Code.Error, "running PreFilter plugin 'A': z", None),
]


@pytest.mark.parametrize("name,answers,code,message,result", PRE_FILTER, ids=[c[0] for c in PRE_FILTER])
def test_run_pre_filter(name, answers, code, message, result):
    fwk = framework_of(Fake("A", pre_filter=answers[0]), Fake("B", pre_filter=answers[1]))
    got, status, _ = fwk.run_pre_filter(CycleState(), pod("p"))
    assert (status.code, status.message()) == (code, message)
    if result is not None:
        assert got.node_names == result


class Normalizing(Fake):
    def score_extensions(self):
        return self

    def normalize_score(self, state, p, scores: list[NodeScore]):
        top = max(s.score for s in scores) or 1
        for s in scores:
            s.score = s.score * MAX_NODE_SCORE // top


def test_scores_are_normalised_weighted_and_summed():
    raw = {"n1": 1, "n2": 4}
    fwk = framework_of(Normalizing("Count", score=lambda n: (raw[n.name], None)),
                       Fake("Flat", score=(10, None)), weights={"Count": 2, "Flat": 3})
    nodes = [info(node("n1")), info(node("n2"))]
    result, status = fwk.run_scores(CycleState(), pod("p"), nodes)
    assert status.is_success()
    assert [(r.name, [(s.name, s.raw, s.score) for s in r.scores], r.total_score) for r in result] == [
        ("n1", [("Count", 1, 50), ("Flat", 10, 30)], 80), ("n2", [("Count", 4, 200), ("Flat", 10, 30)], 230)]


def test_a_score_out_of_range_is_an_error():
    fwk = framework_of(Fake("Big", score=(101, None)))
    _, status = fwk.run_scores(CycleState(), pod("p"), [info(node("n1"))])
    assert status.code == Code.Error and "invalid score 101" in status.message()


def test_pre_score_skip_drops_the_score():
    fwk = framework_of(Fake("A", pre_score=Status.new(Code.Skip), score=(1, None)), Fake("B", score=(2, None)))
    state = CycleState()
    assert fwk.run_pre_score(state, pod("p"), []).is_success()
    result, _ = fwk.run_scores(state, pod("p"), [info(node("n1"))])
    assert [s.name for s in result[0].scores] == ["B"]


def test_post_filter_first_success_wins_else_reasons_gather():
    nts = NodeToStatus()
    fwk = framework_of(Fake("Info", post_filter=(None, Status.new(Code.Unschedulable, "informational"))),
                       Fake("Preempt", post_filter=(PostFilterResult("n1"), None)))
    result, status = fwk.run_post_filter(CycleState(), pod("p"), nts)
    assert status.is_success() and result.nominated_node_name == "n1"
    fwk = framework_of(Fake("A", post_filter=(None, Status.new(Code.Unschedulable, "a"))),
                       Fake("B", post_filter=(PostFilterResult(""), Status.new(Code.Unschedulable, "b"))))
    result, status = fwk.run_post_filter(CycleState(), pod("p"), nts)
    assert (status.code, status.reasons, status.plugin, result.nominated_node_name) == \
        (Code.Unschedulable, ("a", "b"), "A", "")


def test_reserve_failure_and_unreserve_in_reverse():
    log: list = []
    fwk = framework_of(Fake("A", log, reserve=None, unreserve=None),
                       Fake("B", log, reserve=Status.new(Code.Error, "full"), unreserve=None))
    status = fwk.run_reserve(CycleState(), pod("p"), "n1")
    assert (status.code, status.plugin) == (Code.Error, "B")
    fwk.run_unreserve(CycleState(), pod("p"), "n1")
    assert [(name, point) for name, point, _ in log] == [("A", "reserve"), ("B", "reserve"), ("B", "unreserve"),
                                                          ("A", "unreserve")]


def test_permit_wait_takes_the_shortest_timeout():
    fwk = framework_of(Fake("A", permit=(Status.new(Code.Wait), 30.0)), Fake("B", permit=(None, 0.0)),
                       Fake("C", permit=(Status.new(Code.Wait), 10.0)))
    status, timeout = fwk.run_permit(CycleState(), pod("p"), "n1")
    assert (status.code, timeout) == (Code.Wait, 10.0)
    fwk = framework_of(Fake("A", permit=(Status.new(Code.Unschedulable, "no"), 0.0)))
    assert fwk.run_permit(CycleState(), pod("p"), "n1")[0].plugin == "A"


def test_bind_plugins_may_skip():
    log: list = []
    fwk = framework_of(Fake("Mine", log, bind=Status.new(Code.Skip)), Fake("Default", log, bind=None))
    assert fwk.run_bind(CycleState(), pod("p"), "n1").is_success()
    assert [name for name, _, _ in log] == ["Mine", "Default"]
    assert framework_of(Fake("Only", bind=Status.new(Code.Skip))).run_bind(CycleState(), pod("p"), "n1").is_skip()
