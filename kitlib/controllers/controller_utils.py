"""What the workload controllers share about Pods: which count, which go first, how they are made.

kube-controller-manager keeps these in ``pkg/controller/controller_utils.go``
and ``pkg/api/v1/pod``; the ReplicaSet controller uses all of them, and the
Deployment, Job, DaemonSet and StatefulSet controllers will:

- :func:`is_pod_active`, :func:`is_pod_ready`, :func:`is_pod_available`:
  which Pods count as replicas, as ready, as available (``minReadySeconds``);
- :func:`pods_to_delete_first`: which Pods a scale-down removes first
  (``ActivePodsWithRanks``): not yet scheduled, then Pending, then not
  ready, then cheaper to delete, then doubled up on a node, then ready for
  less time, then restarted more, then newer;
- :func:`pod_from_template`: a Pod from a ``spec.template``, named
  ``<owner>-<random>`` by the API server, with a controller reference;
- :func:`slow_start_batch`: create in batches of 1, 2, 4... so a template
  that cannot work fails once, not five hundred times.

Pods are the plain dicts the API serves, often frozen cache objects: these
functions only read them.

Simplifications:
- The feature gates are fixed at kube's defaults: ``PodDeletionCost`` and
  ``LogarithmicScaleDown`` on.
- ``slow_start_batch`` calls ``fn`` one after the other within a batch
  (kube starts a goroutine for each call of a batch).
- Pod helpers read ``status`` as given; there is no ``podutil`` for
  ephemeral containers or pod-level resources.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Iterable, Sequence

from kitlib.api.meta import annotations, deep_copy, name, parse_rfc3339, uid

Obj = dict[str, Any]

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
SLOW_START_INITIAL_BATCH_SIZE = 1  # controller.SlowStartInitialBatchSize

# Pending < Unknown < Running: a Pod that does less work is cheaper to lose (podPhaseToOrdinal).
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# -- one Pod ---------------------------------------------------------------------------------


def _status(pod: Obj) -> Obj:
    return pod.get("status") or {}


def _spec(pod: Obj) -> Obj:
    return pod.get("spec") or {}


def is_pod_active(pod: Obj) -> bool:
    """Not finished (Succeeded/Failed) and not being deleted: it counts as a replica (``IsPodActive``)."""
    return (_status(pod).get("phase") not in ("Succeeded", "Failed")
            and not (pod.get("metadata") or {}).get("deletionTimestamp"))


def filter_active_pods(pods: Iterable[Obj]) -> list[Obj]:
    return [pod for pod in pods if is_pod_active(pod)]


def ready_condition(pod: Obj) -> Obj | None:
    for condition in _status(pod).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition
    return None


def is_pod_ready(pod: Obj) -> bool:
    """Its ``Ready`` condition is ``True`` (``podutil.IsPodReady``): a Service would send it traffic."""
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def _time(text: str | None) -> float | None:
    return parse_rfc3339(text) if text else None


def pod_ready_time(pod: Obj) -> float | None:
    """When a ready Pod became ready (its Ready condition's ``lastTransitionTime``), else None."""
    condition = ready_condition(pod) if is_pod_ready(pod) else None
    return _time(condition.get("lastTransitionTime")) if condition else None


def is_pod_available(pod: Obj, min_ready_seconds: float, now_wall: float) -> bool:
    """Ready for at least ``min_ready_seconds`` at wall time ``now_wall`` (``podutil.IsPodAvailable``).

    A Pod that just turned ready may crash at once; a workload counts it as
    available only when it has stayed ready that long.
    """
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = _time((ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds < now_wall


# -- which Pods go first -----------------------------------------------------------------


def _deletion_cost(pod: Obj) -> int:
    # GetDeletionCostFromPodAnnotations; an unparsable cost is ignored (0), as the controller ignores the error.
    try:
        cost = int(annotations(pod).get(POD_DELETION_COST, "0"))
    except ValueError:
        return 0
    return cost if -2**31 <= cost < 2**31 else 0


def _max_restarts(pod: Obj) -> tuple[int, int]:
    """The highest restart count of the regular containers, then of the sidecars (restartable init containers)."""
    regular = max((s.get("restartCount") or 0 for s in _status(pod).get("containerStatuses") or []), default=0)
    sidecars = {c.get("name") for c in _spec(pod).get("initContainers") or [] if c.get("restartPolicy") == "Always"}
    sidecar = max((s.get("restartCount") or 0 for s in _status(pod).get("initContainerStatuses") or []
                   if s.get("name") in sidecars), default=0)
    return regular, sidecar


def _after_or_zero(t1: float | None, t2: float | None) -> bool:
    # afterOrZero: a missing time sorts first, else the later time does.
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _log_rank_diff(t1: float, t2: float, now: float) -> int:
    # logarithmicRankDiff: ages compared by their power of two in nanoseconds, so 3 and 3.5 hours tie
    # (and the tie is broken by UID, i.e. at random), rather than always deleting the very newest Pod.
    def rank(t: float) -> int:
        age = (now - t) * 1e9
        return int(math.log2(age)) if age > 0 else -1
    return rank(t1) - rank(t2)


def _compare_times(ti: float | None, tj: float | None, pi: Obj, pj: Obj, now: float | None) -> bool:
    if now is None or ti is None or tj is None:
        return _after_or_zero(ti, tj)
    diff = _log_rank_diff(ti, tj, now)
    return uid(pi) < uid(pj) if diff == 0 else diff < 0


def delete_before(pi: Obj, pj: Obj, rank_i: int = 0, rank_j: int = 0, now: float | None = None) -> bool:
    """Whether ``pi`` should be deleted before ``pj`` (``ActivePodsWithRanks.Less``).

    ``rank_*`` counts the related Pods on the same node (more: doubled up,
    delete first); ``now`` is the wall time for the logarithmic age
    comparison (None: plain newest-first).
    """
    node_i, node_j = _spec(pi).get("nodeName") or "", _spec(pj).get("nodeName") or ""
    # 1. Unassigned < assigned: a Pod not yet scheduled has done no work.
    if node_i != node_j and (not node_i or not node_j):
        return not node_i
    # 2. Pending < Unknown < Running.
    phase_i, phase_j = (_PHASE_ORDINAL.get(_status(p).get("phase"), 0) for p in (pi, pj))
    if phase_i != phase_j:
        return phase_i < phase_j
    # 3. Not ready < ready.
    if is_pod_ready(pi) != is_pod_ready(pj):
        return not is_pod_ready(pi)
    # 4. Lower pod-deletion-cost < higher.
    cost_i, cost_j = _deletion_cost(pi), _deletion_cost(pj)
    if cost_i != cost_j:
        return cost_i < cost_j
    # 5. Doubled up on a node < alone: spreads the survivors.
    if rank_i != rank_j:
        return rank_i > rank_j
    # 6. Ready for less time < more time.
    if is_pod_ready(pi) and is_pod_ready(pj):
        ready_i, ready_j = pod_ready_time(pi), pod_ready_time(pj)
        if ready_i != ready_j:
            return _compare_times(ready_i, ready_j, pi, pj, now)
    # 7. More container restarts < fewer.
    restarts_i, restarts_j = _max_restarts(pi), _max_restarts(pj)
    if restarts_i[0] != restarts_j[0]:
        return restarts_i[0] > restarts_j[0]
    if restarts_i[1] != restarts_j[1]:
        return restarts_i[1] > restarts_j[1]
    # 8. No creation time < newer < older.
    created_i, created_j = (_time((p.get("metadata") or {}).get("creationTimestamp")) for p in (pi, pj))
    if created_i != created_j:
        return _compare_times(created_i, created_j, pi, pj, now)
    return False


def pods_to_delete_first(pods: Sequence[Obj], related: Sequence[Obj], diff: int, now: float | None = None) -> list[Obj]:
    """The ``diff`` Pods a scale-down deletes (``getPodsToDelete``), ranked by :func:`delete_before`.

    ``related`` are the active Pods of every ReplicaSet with the same
    controller (a Deployment's old and new ReplicaSets): a Pod sharing its
    node with many of them is deleted first.
    """
    if diff >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = _spec(pod).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get(_spec(pod).get("nodeName") or "", 0)) for pod in pods]

    def compare(a: tuple[Obj, int], b: tuple[Obj, int]) -> int:
        if delete_before(a[0], b[0], a[1], b[1], now):
            return -1
        return 1 if delete_before(b[0], a[0], b[1], a[1], now) else 0

    ranked.sort(key=functools.cmp_to_key(compare))
    return [pod for pod, _ in ranked[:diff]]


# -- making Pods -------------------------------------------------------------------------------


def pod_from_template(template: Obj, owner: Obj, controller_ref: Obj | None) -> Obj:
    """A Pod to create from ``template`` for ``owner`` (``GetPodFromTemplate``).

    Labels, annotations and finalizers come from the template; the name is
    left to the API server (``generateName: <owner>-``); the template is
    copied, never shared.
    """
    meta = template.get("metadata") or {}
    metadata: Obj = {"generateName": f"{name(owner)}-", "labels": dict(meta.get("labels") or {})}
    for field in ("annotations", "finalizers"):
        if meta.get(field):
            metadata[field] = deep_copy(meta[field])
    if controller_ref is not None:
        metadata["ownerReferences"] = [dict(controller_ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": deep_copy(template.get("spec") or {})}


def slow_start_batch(count: int, initial_batch_size: int, fn: Callable[[], None]) -> tuple[int, Exception | None]:
    """Call ``fn`` ``count`` times in batches of 1, 2, 4...; stop after the first batch with a failure.

    Returns the number of successful calls and the first error (``slowStartBatch``).
    Calls never attempted are the caller's to account for (its expectations).
    """
    remaining, successes = count, 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        errors: list[Exception] = []
        for _ in range(batch):
            try:
                fn()
            except Exception as err:  # noqa: BLE001 (counted and returned, as the Go version does)
                errors.append(err)
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None

