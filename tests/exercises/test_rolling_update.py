"""The rolling-update grading scenarios, without nbgrader: right answers pass, wrong ones fail for the right reason.

Every case of :data:`kitlib.exercises.rolling_update.CASES` runs against the
engine's reference and another honest version, and against a table of
deliberately wrong versions (most of them one of the mistakes the advice
knows), each with the test cells it must fail and a phrase of its advice.
"""

from __future__ import annotations

import math

import pytest

from kitlib.controllers.rollout import reference_rolling_step, rolling_step
from kitlib.exercises import check, rolling_update
from kitlib.exercises.rolling_update import CASES, _variant

from .helpers import assert_fails_as, case_params, notebook_calls

ALL_CASES = case_params(CASES)


def by_hand(replicas, max_surge, max_unavailable, new_replicas, old_replicas, available):
    """Percentages with integer arithmetic (ceil as -(-a // b)); the old ones may be over-asked (capped later)."""
    def resolve(value, up):
        if isinstance(value, str):
            part = int(value.rstrip("%")) * replicas
            return -(-part // 100) if up else part // 100
        return value
    surge, unavailable = resolve(max_surge, True), resolve(max_unavailable, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    unavailable = min(unavailable, replicas)
    room = replicas + surge - new_replicas - old_replicas
    scale_up = max(0, min(room, replicas - new_replicas))
    return scale_up, max(0, available - (replicas - unavailable))


CORRECT = [reference_rolling_step, by_hand]


@pytest.mark.parametrize("candidate", CORRECT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scenario,params", ALL_CASES)
def test_correct_implementations_pass(candidate, scenario, params):
    check(scenario, candidate, **params)
    assert rolling_step.current is reference_rolling_step


def not_written(replicas, max_surge, max_unavailable, new_replicas, old_replicas, available):
    # YOUR CODE HERE
    raise NotImplementedError()


def _wrong(name, **flags):
    def wrong(replicas, max_surge, max_unavailable, new_replicas, old_replicas, available):
        return _variant((replicas, max_surge, max_unavailable, new_replicas, old_replicas, available), **flags)
    wrong.__name__ = name
    return wrong


def percent_ignored(replicas, max_surge, max_unavailable, new_replicas, old_replicas, available):
    """Treats "25%" as 25 Pods."""
    def number(v):
        return int(str(v).rstrip("%"))
    return reference_rolling_step(replicas, number(max_surge), number(max_unavailable), new_replicas, old_replicas,
                                  available)


ALL_CELLS = set(CASES)
WRONG = [
    (not_written, {cell: "is not written yet: replace `raise NotImplementedError()`" for cell in ALL_CELLS}),
    (_wrong("surge_rounded_down", surge_round=math.floor), {"test-fenceposts": "rounds UP",
                                                              "test-rollout-default": "rounds UP"}),
    (_wrong("unavailable_rounded_up", unavailable_round=math.ceil), {"test-fenceposts": "rounds DOWN",
                                                                      "test-rollout-default": "rounds DOWN"}),
    (_wrong("no_fencepost", fencepost=False), {"test-fenceposts": "both resolve to 0",
                                               "test-rollout-no-surge": "both resolve to 0"}),
    (_wrong("new_not_capped", cap_new=False), {"test-step": "never needs more than `replicas`",
                                               "test-rollout-default": "never needs more",
                                               "test-rollout-no-unavailable": "never needs more"}),
    (_wrong("old_not_counted", count_old=False), {cell: "ALL ReplicaSets together" for cell in ALL_CELLS}),
    (_wrong("replicas_not_available", use_available=False), {"test-step": "a Pod that is not ready yet serves nothing",
                                                             "test-rollout-default": "not ready yet",
                                                             "test-rollout-no-surge": "not ready yet",
                                                             "test-rollout-no-unavailable": "not ready yet"}),
    (percent_ignored, {cell: "rule gives" for cell in ALL_CELLS - {"test-step"}}),
]


@pytest.mark.parametrize("candidate,failing", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_wrong_implementations_fail_with_advice(candidate, failing):
    assert_fails_as(CASES, candidate, failing)
    assert rolling_step.current is reference_rolling_step


def test_the_notebook_runs_exactly_the_table():
    assert notebook_calls("rolling-update", rolling_update, "rolling_step") == CASES
