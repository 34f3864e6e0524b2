"""Pod helpers: active, ready, available; the order a scale-down deletes in; templates; slow-start batches."""

from __future__ import annotations

import pytest

from kitlib.api.meta import rfc3339
from kitlib.controllers.controller_utils import (
    POD_DELETION_COST,
    delete_before,
    is_pod_active,
    is_pod_available,
    pod_from_template,
    pods_to_delete_first,
    slow_start_batch,
)

NOW = 1_700_000_000.0


def pod(name="p", *, node="n1", phase="Running", ready=True, ready_for=3600.0, age=7200.0, restarts=0,
        cost=None, uid=None, deleting=False):
    status = {"phase": phase}
    if phase == "Running":
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                 "lastTransitionTime": rfc3339(NOW - ready_for)}]
        status["containerStatuses"] = [{"name": "main", "restartCount": restarts}]
    metadata = {"name": name, "namespace": "default", "uid": uid or f"uid-{name}",
                "creationTimestamp": rfc3339(NOW - age)}
    if cost is not None:
        metadata["annotations"] = {POD_DELETION_COST: str(cost)}
    if deleting:
        metadata["deletionTimestamp"] = rfc3339(NOW)
    return {"metadata": metadata, "spec": {"nodeName": node, "containers": [{"name": "main"}]}, "status": status}


@pytest.mark.parametrize(
    "first, second, rank_first, rank_second",
    [
        (pod(node=""), pod(phase="Pending"), 0, 0),  # 1. not scheduled before scheduled
        (pod(phase="Pending"), pod(phase="Unknown"), 0, 0),  # 2. Pending < Unknown < Running
        (pod(phase="Unknown"), pod(), 0, 0),
        (pod(ready=False), pod(), 0, 0),  # 3. not ready before ready
        (pod(cost=-10), pod(), 0, 0),  # 4. a lower pod-deletion-cost goes first
        (pod(cost=5, ready=False), pod(cost=-5), 0, 0),  # ...but readiness comes before cost
        (pod(), pod(), 3, 1),  # 5. doubled up on its node before alone
        (pod(ready_for=60), pod(ready_for=7200), 0, 0),  # 6. ready for less time first
        (pod(restarts=4), pod(restarts=1), 0, 0),  # 7. more restarts first
        (pod(age=60), pod(age=7200), 0, 0),  # 8. newer before older
    ],
    ids=["unscheduled", "pending", "unknown", "not-ready", "cost", "readiness-over-cost", "doubled-up",
         "ready-shorter", "restarts", "newer"],
)
def test_which_pod_is_deleted_first(first, second, rank_first, rank_second):
    assert delete_before(first, second, rank_first, rank_second, NOW)
    assert not delete_before(second, first, rank_second, rank_first, NOW)


def test_ages_in_the_same_power_of_two_tie_and_fall_back_to_uid():
    # 3000 s and 3500 s are both in [2**41, 2**42) nanoseconds: the same logarithmic rank.
    a, b = pod(age=3000, uid="b-uid"), pod(age=3500, uid="a-uid")
    assert delete_before(b, a, now=NOW) and not delete_before(a, b, now=NOW)
    assert delete_before(a, b, now=None)  # without LogarithmicScaleDown: strictly newest first


def test_pods_to_delete_first_ranks_by_related_pods_on_the_node():
    alone, crowded = pod("alone", node="n1"), pod("crowded", node="n2")
    related = [crowded, pod("sibling-1", node="n2"), pod("sibling-2", node="n2"), alone]
    assert pods_to_delete_first([alone, crowded], related, 1, NOW) == [crowded]
    assert pods_to_delete_first([alone, crowded], [], 1, NOW) == [alone]  # a tie: the order given
    assert pods_to_delete_first([alone, crowded], related, 5, NOW) == [alone, crowded]  # all of them


@pytest.mark.parametrize(
    "kwargs, active",
    [({}, True), ({"phase": "Pending"}, True), ({"phase": "Succeeded"}, False), ({"phase": "Failed"}, False),
     ({"deleting": True}, False)],
    ids=["running", "pending", "succeeded", "failed", "deleting"],
)
def test_is_pod_active(kwargs, active):
    assert is_pod_active(pod(**kwargs)) is active


@pytest.mark.parametrize(
    "kwargs, min_ready, available",
    [({}, 0, True), ({"ready": False}, 0, False), ({"ready_for": 30}, 60, False), ({"ready_for": 90}, 60, True),
     ({"ready_for": 60}, 60, False)],  # exactly minReadySeconds is not yet "more than"
    ids=["ready", "not-ready", "too-recent", "long-enough", "exactly"],
)
def test_is_pod_available(kwargs, min_ready, available):
    assert is_pod_available(pod(**kwargs), min_ready, NOW) is available


def test_pod_from_template_copies_and_names_after_the_owner():
    template = {"metadata": {"labels": {"app": "web"}, "annotations": {"a": "1"}},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]}}
    owner = {"metadata": {"name": "web", "uid": "u"}}
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u", "controller": True,
           "blockOwnerDeletion": True}
    made = pod_from_template(template, owner, ref)
    assert made["metadata"] == {"generateName": "web-", "labels": {"app": "web"}, "annotations": {"a": "1"},
                                "ownerReferences": [ref]}
    made["spec"]["containers"][0]["image"] = "changed"
    made["metadata"]["labels"]["x"] = "y"
    assert template["spec"]["containers"][0]["image"] == "busybox" and template["metadata"]["labels"] == {"app": "web"}


@pytest.mark.parametrize(
    "count, fail_from, calls, successes",
    [
        (7, None, 7, 7),  # batches 1, 2, 4
        (7, 0, 1, 0),  # the first call fails: one call, not seven
        (7, 1, 3, 1),  # the second batch (2 calls) fails
        (7, 4, 7, 4),  # the third batch (4 calls) fails from its second call: the batch still runs out
        (5, 3, 5, 3),  # batches 1, 2, 2
        (0, None, 0, 0),
    ],
    ids=["all-succeed", "first-fails", "second-batch-fails", "third-batch-fails", "last-batch-short", "nothing"],
)
def test_slow_start_batch(count, fail_from, calls, successes):
    made = []

    def create():
        made.append(len(made))
        if fail_from is not None and len(made) > fail_from:
            raise RuntimeError(f"call {len(made)} failed")

    done, error = slow_start_batch(count, 1, create)
    assert (len(made), done) == (calls, successes)
    assert (error is None) == (fail_from is None or fail_from >= count)
