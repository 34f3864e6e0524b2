"""The replicaset-sync grading scenarios, without nbgrader: right answers pass, wrong ones fail for the right reason.

Every case of :data:`kitlib.exercises.replicaset_sync.CASES` runs against the
engine's reference and another honest version, and against a table of
deliberately wrong versions, each with the test cells it must fail and a
phrase of the advice it gets there.
"""

from __future__ import annotations

import pytest

from kitlib.controllers.controller_utils import is_pod_ready
from kitlib.controllers.replicaset import manage_replicas, reference_manage_replicas
from kitlib.exercises import NotWrittenYet, check, replicaset_sync
from kitlib.exercises.replicaset_sync import CASES

from .helpers import assert_fails_as, case_params, notebook_calls

ALL_CASES = case_params(CASES)
PHASES = {"Pending": 0, "Unknown": 1, "Running": 2}


def _key(pod):
    return (bool(pod["spec"].get("nodeName")), PHASES.get((pod.get("status") or {}).get("phase"), 0),
            is_pod_ready(pod))


def sorted_by_tuple(replicaset, pods, burst_replicas, related_pods, now):
    """The three keys as one sortable tuple; ties keep the order they came in."""
    diff = replicaset["spec"]["replicas"] - len(pods)
    if diff >= 0:
        return min(diff, burst_replicas), []
    return 0, sorted(pods, key=_key)[:min(-diff, burst_replicas)]


CORRECT = [reference_manage_replicas, sorted_by_tuple]


@pytest.mark.parametrize("candidate", CORRECT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scenario,params", ALL_CASES)
def test_correct_implementations_pass(candidate, scenario, params):
    check(scenario, candidate, **params)
    assert manage_replicas.current is reference_manage_replicas


# ---- wrong implementations -----------------------------------------------------------------------------

def not_written(replicaset, pods, burst_replicas, related_pods, now):
    # YOUR CODE HERE
    raise NotImplementedError()


def no_burst_cap(replicaset, pods, burst_replicas, related_pods, now):
    return sorted_by_tuple(replicaset, pods, 10**9, related_pods, now)


def creates_all_replicas(replicaset, pods, burst_replicas, related_pods, now):
    """Forgets the Pods that exist: a creation storm."""
    create, delete = sorted_by_tuple(replicaset, pods, burst_replicas, related_pods, now)
    return (min(replicaset["spec"]["replicas"], burst_replicas) if create else 0), delete


def deletes_in_list_order(replicaset, pods, burst_replicas, related_pods, now):
    create, delete = sorted_by_tuple(replicaset, pods, burst_replicas, related_pods, now)
    return create, list(pods[:len(delete)])


def scheduled_first(replicaset, pods, burst_replicas, related_pods, now):
    create, delete = sorted_by_tuple(replicaset, pods, burst_replicas, related_pods, now)
    return create, sorted(pods, key=lambda p: (not _key(p)[0],) + _key(p)[1:])[:len(delete)]


def ready_first(replicaset, pods, burst_replicas, related_pods, now):
    create, delete = sorted_by_tuple(replicaset, pods, burst_replicas, related_pods, now)
    return create, sorted(pods, key=lambda p: _key(p)[:2] + (not _key(p)[2],))[:len(delete)]


def never_deletes(replicaset, pods, burst_replicas, related_pods, now):
    return max(0, min(replicaset["spec"]["replicas"] - len(pods), burst_replicas)), []


def deletes_names(replicaset, pods, burst_replicas, related_pods, now):
    create, delete = sorted_by_tuple(replicaset, pods, burst_replicas, related_pods, now)
    return create, [p["metadata"]["name"] for p in delete]


ALL_CELLS = set(CASES)
LIVE = {"test-scale", "test-scale-down-order", "test-self-healing"}

# wrong version -> {test cell it must fail: a phrase of the advice it gets there}; every other cell passes.
WRONG = [
    (not_written, {cell: "is not written yet: replace `raise NotImplementedError()`" for cell in ALL_CELLS}),
    (no_burst_cap, {"test-counts": "at most burst_replicas", "test-delete-order": "at most burst_replicas",
                    "test-scale": "at most burst_replicas"}),
    (creates_all_replicas, {"test-counts": "already count: create only the difference",
                            "test-scale": "already count", "test-self-healing": "already count"}),
    (deletes_in_list_order, {"test-delete-order": "goes before", "test-scale-down-order": "goes before"}),
    (scheduled_first, {"test-delete-order": "not yet scheduled goes before any scheduled one",
                          "test-scale-down-order": "not yet scheduled goes before any scheduled one"}),
    (ready_first, {"test-delete-order": "a Pod that is not ready goes before a ready one",
                         "test-scale-down-order": "not ready goes before a ready one"}),
    (never_deletes, {"test-counts": "delete len(pods) - spec.replicas", "test-delete-order": "delete len(pods)",
                     "test-scale": "delete len(pods)", "test-scale-down-order": "delete len(pods)"}),
    (deletes_names, {cell: "delete must list Pods taken from `pods`" for cell in ALL_CELLS - {"test-self-healing"}}),
]


@pytest.mark.parametrize("candidate,failing", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_wrong_implementations_fail_with_advice(candidate, failing):
    assert_fails_as(CASES, candidate, failing)
    assert manage_replicas.current is reference_manage_replicas


def test_untouched_function_gets_one_line_even_from_the_controllers_thread():
    with pytest.raises(NotWrittenYet) as info:
        check(replicaset_sync.self_healing, not_written, replicas=1, deletions=[])
    assert str(info.value).startswith("not_written is not written yet")


def test_an_error_in_the_readers_code_names_its_line():
    def broken(replicaset, pods, burst_replicas, related_pods, now):
        return replicaset["spec"]["replica"], []
    with pytest.raises(AssertionError) as info:
        check(replicaset_sync.scale, broken, steps=[1])
    assert "broken raised KeyError: 'replica'" in str(info.value)
    assert 'replicaset["spec"]["replica"]' in str(info.value)


def test_the_notebook_runs_exactly_the_table():
    assert notebook_calls("replicaset-sync", replicaset_sync, "manage_replicas") == CASES
