"""The scheduler-score grading scenarios, without nbgrader: right answers pass, wrong ones fail for the right reason.

Every case of :data:`kitlib.exercises.scheduler_score.CASES` (the notebook's
visible and hidden tests) runs against the reference and two other honest
implementations, and against a table of deliberately wrong ones, each with
the test cells it must fail and a phrase its advice must contain.
"""

from __future__ import annotations

import math
import statistics

import pytest

from kitlib.exercises import NotWrittenYet, check, scheduler_score
from kitlib.exercises.scheduler_score import CASES
from kitlib.scheduler.plugins.balanced_allocation import balanced_resource_scorer, scorer

from .helpers import notebook_calls, sorted_calls

ALL_CASES = [
    pytest.param(scenario, params, id=f"{cell}-{scenario.__name__}-{'hidden' if hidden else 'visible'}-{i}")
    for cell, cases in CASES.items()
    for i, (scenario, params, hidden) in enumerate(cases)
]


# ---- correct implementations: the reference and two other honest ways -------------------------------

def with_pstdev(requested, allocatable):
    """statistics.pstdev for any number of fractions (it is |a - b| / 2 for two)."""
    fractions = [min(r / a, 1) for r, a in zip(requested, allocatable) if a]
    std = statistics.pstdev(fractions) if len(fractions) > 1 else 0
    return int((1 - std) * 100)


def with_variance_sum(requested, allocatable):
    """The variance as mean of squares minus square of the mean, written out with math.fsum."""
    fractions = []
    for r, a in zip(requested, allocatable):
        if a > 0:
            fractions.append(1.0 if r >= a else r / a)
    if len(fractions) == 2:
        return math.trunc(100 - 50 * abs(fractions[0] - fractions[1]))
    if len(fractions) < 2:
        return 100
    mean = math.fsum(fractions) / len(fractions)
    std = math.sqrt(math.fsum((f - mean) ** 2 for f in fractions) / len(fractions))
    return math.trunc((1 - std) * 100)


CORRECT = [balanced_resource_scorer, with_pstdev, with_variance_sum]


@pytest.mark.parametrize("candidate", CORRECT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scenario,params", ALL_CASES)
def test_correct_implementations_pass(candidate, scenario, params):
    check(scenario, candidate, **params)


def test_scenarios_leave_the_reference_installed():
    scenario, params, _ = CASES["test-placement"][0]
    check(scenario, with_pstdev, **params)
    assert scorer.current is balanced_resource_scorer


# ---- wrong implementations -----------------------------------------------------------------------------

def not_written(requested, allocatable):
    # YOUR CODE HERE
    raise NotImplementedError()


def _fractions(requested, allocatable, cap=True, div=lambda r, a: r / a):
    return [min(div(r, a), 1) if cap else div(r, a) for r, a in zip(requested, allocatable) if a]


def _std(fractions):
    return abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else statistics.pstdev(fractions or [0])


def no_cap(requested, allocatable):
    return int((1 - _std(_fractions(requested, allocatable, cap=False))) * 100)


def divides_by_zero(requested, allocatable):
    """Never skips a resource: 0 / 0."""
    return int((1 - _std([min(r / a, 1) for r, a in zip(requested, allocatable)])) * 100)


def zero_as_empty(requested, allocatable):
    """A resource with allocatable 0 counts as an unused one (fraction 0)."""
    return int((1 - _std([min(r / a, 1) if a else 0.0 for r, a in zip(requested, allocatable)])) * 100)


def floor_division(requested, allocatable):
    return int((1 - _std(_fractions(requested, allocatable, div=lambda r, a: r // a))) * 100)


def rounds(requested, allocatable):
    return round((1 - _std(_fractions(requested, allocatable))) * 100)


def sample_std(requested, allocatable):
    fractions = _fractions(requested, allocatable)
    return int((1 - (statistics.stdev(fractions) if len(fractions) > 1 else 0)) * 100)


def whole_gap(requested, allocatable):
    """|a - b| for two resources, forgetting the half."""
    fractions = _fractions(requested, allocatable)
    std = abs(fractions[0] - fractions[1]) if len(fractions) == 2 else _std(fractions)
    return int((1 - std) * 100)


def first_two_only(requested, allocatable):
    return int((1 - _std(_fractions(requested[:2], allocatable[:2]))) * 100)


def variance(requested, allocatable):
    return int((1 - _std(_fractions(requested, allocatable)) ** 2) * 100)


def returns_float(requested, allocatable):
    return (1 - _std(_fractions(requested, allocatable))) * 100


def forgot_100(requested, allocatable):
    return int(1 - _std(_fractions(requested, allocatable)))


ALL_CELLS = set(CASES)

# wrong version -> {test cell it must fail: a phrase of the advice it gets there}; every other cell passes.
WRONG = [
    (not_written, {cell: "is not written yet: replace `raise NotImplementedError()`" for cell in ALL_CELLS}),
    (no_cap, {"test-full-node": "cap each fraction at 1"}),
    (divides_by_zero, {"test-missing-resources": "divided by zero: an allocatable of 0"}),
    (zero_as_empty, {"test-missing-resources": "leave out the resources whose allocatable is 0"}),
    (floor_division, {cell: "not `//`" for cell in ALL_CELLS}),
    (rounds, {cell: "do not round" for cell in ALL_CELLS}),
    (sample_std, {cell: "population standard deviation" for cell in ALL_CELLS - {"test-placement"}}),
    (whole_gap, {cell: "|a - b| / 2" for cell in ALL_CELLS - {"test-more-resources"}}),
    (first_two_only, {"test-more-resources": "not only the first two", "test-missing-resources": "not only the first two"}),
    (variance, {cell: "square root" for cell in ALL_CELLS}),
    (returns_float, {cell: "return an int" for cell in ALL_CELLS}),
    (forgot_100, {cell: "multiply (1 - std) by 100" for cell in ALL_CELLS}),
]


@pytest.mark.parametrize("candidate,failing", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_wrong_implementations_fail_with_advice(candidate, failing):
    assert_fails_with_advice(CASES, candidate, failing)
    assert scorer.current is balanced_resource_scorer


def failures(cases, candidate, hidden_too=True):
    """test cell -> the messages of its scenarios that ``candidate`` fails."""
    messages: dict[str, list[str]] = {}
    for cell, calls in cases.items():
        for scenario, params, hidden in calls:
            if hidden and not hidden_too:
                continue
            try:
                check(scenario, candidate, **params)
            except AssertionError as failure:
                messages.setdefault(cell, []).append(str(failure))
    return messages


def assert_fails_with_advice(cases, candidate, failing):
    """``candidate`` fails exactly the cells of ``failing``, each time with advice containing its phrase."""
    messages = failures(cases, candidate)
    assert set(messages) == set(failing), {cell: msgs[0] for cell, msgs in messages.items()}
    for cell, phrase in failing.items():
        assert any(phrase in message for message in messages[cell]), (cell, messages[cell])


@pytest.mark.parametrize("candidate", [no_cap, zero_as_empty, rounds, whole_gap, sample_std],
                         ids=lambda f: f.__name__)
def test_visible_tests_alone_catch_the_common_mistakes(candidate):
    """A reader who passes every visible test has not made these mistakes: hidden tests are not the only net."""
    assert failures(CASES, candidate, hidden_too=False)


# ---- the advice a student reads ----------------------------------------------------------------------------

def test_advice_names_the_node_the_inputs_and_both_scores():
    with pytest.raises(AssertionError) as info:
        check(scheduler_score.score_table, no_cap, nodes={"full": {"cpu": "2", "memory": "8Gi"}},
              running={"full": [{"cpu": "3"}]}, pod={"memory": "2Gi"})
    assert str(info.value) == (
        "in the score table for a Pod requesting memory 2Gi, NodeResourcesBalancedAllocation gives node full 62 "
        "with the reference, but 37 with your function; on node full the plugin called your function with "
        "requested=[3000, 2147483648] and allocatable=[2000, 8589934592] (for ['cpu', 'memory']; cpu in "
        "millicores, the others in bytes or units): the reference scores 62, yours 37: cap each fraction at 1 "
        "(min(requested / allocatable, 1)): a Node whose Pods already ask for more than it has is full, not more "
        "than full")


def test_untouched_function_gets_one_line_not_a_traceback():
    scenario, params, _ = CASES["test-two-resources"][0]
    with pytest.raises(NotWrittenYet) as info:
        check(scenario, not_written, **params)
    assert str(info.value).startswith("not_written is not written yet: replace `raise NotImplementedError()`")


def test_an_error_in_the_readers_code_names_its_line():
    def indexes_past_the_end(requested, allocatable):
        return requested[5]

    scenario, params, _ = CASES["test-two-resources"][0]
    with pytest.raises(AssertionError) as info:
        check(scenario, indexes_past_the_end, **params)
    assert str(info.value).startswith("indexes_past_the_end raised IndexError: list index out of range")
    assert "`return requested[5]`" in str(info.value)


def test_the_notebook_runs_exactly_the_table():
    """solutions/scheduler-score spells out the calls of CASES, cell by cell, visible and hidden alike."""
    assert sorted_calls(notebook_calls("scheduler-score", scheduler_score, "balanced_resource_scorer")) == \
        sorted_calls(CASES)
