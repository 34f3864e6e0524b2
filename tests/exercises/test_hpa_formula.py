"""The hpa-formula grading scenarios, without nbgrader: right answers pass, wrong ones fail for the right reason.

Every case of :data:`kitlib.exercises.hpa_formula.CASES` runs against the
engine's reference and another honest version, and against a table of
deliberately wrong versions, each with the test cells it must fail and a
phrase of the advice it gets there.
"""

from __future__ import annotations

import math

import pytest

from kitlib.controllers.hpa import desired_replicas, replica_formula
from kitlib.exercises import check, hpa_formula
from kitlib.exercises.hpa_formula import CASES, _variant

from .helpers import assert_fails_as, case_params, notebook_calls

ALL_CASES = case_params(CASES)


def with_fractions(current_replicas, current_utilisation, target_utilisation, tolerance):
    """The same formula with the ratio kept as a float and ceil written as -floor(-x)."""
    ratio = current_utilisation / target_utilisation
    if -tolerance <= 1.0 - ratio <= tolerance:
        return current_replicas
    return -math.floor(-ratio * current_replicas)


CORRECT = [desired_replicas, with_fractions]


@pytest.mark.parametrize("candidate", CORRECT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scenario,params", ALL_CASES)
def test_correct_implementations_pass(candidate, scenario, params):
    check(scenario, candidate, **params)
    assert replica_formula.current is desired_replicas


def not_written(current_replicas, current_utilisation, target_utilisation, tolerance):
    # YOUR CODE HERE
    raise NotImplementedError()


def _wrong(name, **flags):
    def wrong(current_replicas, current_utilisation, target_utilisation, tolerance):
        return _variant((current_replicas, current_utilisation, target_utilisation, tolerance), **flags)
    wrong.__name__ = name
    return wrong


def returns_float(current_replicas, current_utilisation, target_utilisation, tolerance):
    ratio = current_utilisation / target_utilisation
    return current_replicas if abs(1 - ratio) <= tolerance else ratio * current_replicas


ALL_CELLS = set(CASES)
WRONG = [
    (not_written, {cell: "is not written yet: replace `raise NotImplementedError()`" for cell in ALL_CELLS}),
    (_wrong("rounds", rounding=round), {cell: "round UP" for cell in ALL_CELLS if cell != "test-steady"}),
    (_wrong("floors", rounding=math.floor), {cell: "round UP" for cell in ALL_CELLS if cell != "test-steady"}),
    (_wrong("no_tolerance", tolerance_used=False), {"test-tolerance": "noise", "test-steady": "noise"}),
    (_wrong("strict_tolerance", within=lambda d, t: d < t), {"test-tolerance": "exactly at the tolerance"}),
    (_wrong("inverted", inverted=True), {cell: "busier Pods mean MORE replicas" for cell in ALL_CELLS
                                         if cell != "test-steady"}),
    (returns_float, {cell: "return a number of replicas, an int" for cell in ALL_CELLS if cell != "test-steady"}),
]


@pytest.mark.parametrize("candidate,failing", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_wrong_implementations_fail_with_advice(candidate, failing):
    assert_fails_as(CASES, candidate, failing)
    assert replica_formula.current is desired_replicas


def test_the_notebook_runs_exactly_the_table():
    assert notebook_calls("hpa-formula", hpa_formula, "desired_replicas") == CASES
