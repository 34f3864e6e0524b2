"""The Job controller: runs Pods to completion, ``completions`` times, giving up after ``backoffLimit`` failures.

kube-controller-manager's ``pkg/controller/job`` for NonIndexed Jobs. For
each Job, ``sync`` (``syncJob``):

1. claims its Pods (:mod:`~kitlib.controllers.ref_manager`) and sorts them:
   active (not finished, not being deleted), terminating, succeeded, failed
   (a Pod deleted before it succeeded counts as failed: ``isPodFailed``);
2. decides whether the Job is done: more failures than ``backoffLimit``
   (for ``restartPolicy: OnFailure`` container restarts count too) gives
   the interim condition ``FailureTarget`` (reason ``BackoffLimitExceeded``,
   "Job has reached the specified backoff limit"); running longer than
   ``activeDeadlineSeconds`` since ``startTime`` gives ``FailureTarget``
   (``DeadlineExceeded``); ``completions`` successes (or, without
   ``completions``, one success and nothing active) give
   ``SuccessCriteriaMet`` (``CompletionsReached``);
3. a Job done, or suspended, deletes its active Pods; otherwise it creates
   Pods up to ``min(parallelism, completions - succeeded)`` or deletes
   the surplus;
4. tracks finished Pods with the ``batch.kubernetes.io/job-tracking``
   finalizer, as kube does since 1.26 (``trackJobStatusAndRemoveFinalizers``):
   it first records their UIDs in ``status.uncountedTerminatedPods``, then
   removes the finalizers, then moves the UIDs into ``succeeded`` and
   ``failed``, so a Pod is counted exactly once even if the controller
   dies half way, and never lost to an early deletion;
5. once no Pod is terminating any more, turns the interim condition into
   the final one, ``Failed`` or ``Complete`` (with ``completionTime``),
   as kube 1.32 does with JobPodReplacementPolicy on (``delayTerminalCondition``).

It also writes ``status.startTime``, ``active``, ``ready``, ``terminating``
and a ``Suspended`` condition (``JobSuspended`` / ``JobResumed``; resuming
restarts ``startTime``, so the deadline counts from then).

Simplifications:
- NonIndexed only: no ``completedIndexes``, ``backoffLimitPerIndex``,
  ``podFailurePolicy``, ``successPolicy``, ``managedBy``.
- No back-off before a failed Pod is replaced (kube waits 10 s, doubling,
  up to 6 min) and no batching of syncs (``syncJobBatchPeriod``).
- Pods deleted while the Job is suspended, or after it succeeded, are
  not counted as failed; all others deleted before success are.
- Expectations for removed finalizers are a set of UIDs per Job, kept
  until the Pod's next event shows the finalizer gone.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kitlib.api.errors import InvalidSelector, NotFound
from kitlib.api.meta import (
    controller_of,
    deep_copy,
    key_of,
    name,
    namespace,
    owner_reference,
    parse_rfc3339,
    rfc3339,
    split_key,
    uid,
)
from kitlib.api.selectors import selector_from_label_selector
from kitlib.client.indexer import NAMESPACE_INDEX
from kitlib.controllers.base import Controller, unwrap
from kitlib.controllers.controller_utils import is_pod_ready, pod_from_template
from kitlib.controllers.expectations import ControllerExpectations
from kitlib.controllers.ref_manager import PodControllerRefManager, recheck_deletion_timestamp

log = logging.getLogger(__name__)

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"  # batch.JobTrackingFinalizer
MAX_POD_CREATE_DELETE_PER_SYNC = 500  # MaxPodCreateDeletePerSync
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
FINAL = {"FailureTarget": "Failed", "SuccessCriteriaMet": "Complete"}  # interim condition -> terminal one


def _phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase", "")


def _deleting(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _tracked(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def condition(job: Obj, type_: str) -> Obj | None:
    """The Job's condition of this type if its status is True."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_ and c.get("status") == "True":
            return c
    return None


def is_job_finished(job: Obj) -> bool:
    return condition(job, "Complete") is not None or condition(job, "Failed") is not None


def _set_condition(status: Obj, type_: str, state: str, reason: str, message: str, now: float) -> bool:
    """Add or change one condition (``ensureJobConditionStatus``); whether anything changed."""
    conditions = status.setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == type_:
            if c.get("status") == state:
                return False
            c.update(status=state, reason=reason, message=message, lastProbeTime=rfc3339(now),
                     lastTransitionTime=rfc3339(now))
            return True
    conditions.append({"type": type_, "status": state, "lastProbeTime": rfc3339(now),
                       "lastTransitionTime": rfc3339(now), "reason": reason, "message": message})
    return True


class JobController(Controller):
    """kube's job ``Controller``: Jobs and Pods in, Pods and Job status out."""

    name = "job"
    kind = "Job"
    api_version = "batch/v1"
    workers = 5  # --concurrent-job-syncs

    def __init__(self, client, **options: Any) -> None:
        super().__init__(client, **options)
        self.expectations = ControllerExpectations(self.clock)
        self._removed: dict[str, set[str]] = {}  # job key -> UIDs whose finalizer we removed, not yet seen gone
        self._removed_lock = threading.Lock()
        self._written: dict[str, int] = {}  # job key -> resourceVersion of our last status write
        self.jobs = self.informer(("batch/v1", "Job"), primary=True)
        self.jobs.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self.delete_job)
        self.pods = self.informer(("v1", "Pod"))
        self.pods.add_event_handler(on_add=self.add_pod, on_update=self.update_pod, on_delete=self.delete_pod)

    # -- events ------------------------------------------------------------------------------

    def delete_job(self, obj: Obj) -> None:
        key = key_of(unwrap(obj))
        self.expectations.delete_expectations(key)
        with self._removed_lock:
            self._removed.pop(key, None)
            self._written.pop(key, None)
        self.queue.add(key)

    def _finalizer_seen(self, key: str, pod: Obj, gone: bool) -> None:
        if gone or not _tracked(pod):
            with self._removed_lock:
                self._removed.get(key, set()).discard(uid(pod))

    def add_pod(self, pod: Obj) -> None:
        job = self.resolve_controller_ref(namespace(pod), controller_of(pod))
        if job is not None:
            self.expectations.creation_observed(key_of(job))
            self.enqueue(job)

    def update_pod(self, old: Obj, new: Obj) -> None:
        if old.get("metadata", {}).get("resourceVersion") == new.get("metadata", {}).get("resourceVersion"):
            return
        if (controller_of(old) or {}).get("uid") != (controller_of(new) or {}).get("uid"):
            self.enqueue_owner(old)
        key = self.enqueue_owner(new)
        if key is not None:
            self._finalizer_seen(key, new, gone=False)
            if _deleting(new) and not _deleting(old):
                self.expectations.deletion_observed(key, key_of(new))

    def delete_pod(self, obj: Obj) -> None:
        pod = unwrap(obj)
        key = self.enqueue_owner(pod)
        if key is not None:
            self.expectations.deletion_observed(key, key_of(pod))
            self._finalizer_seen(key, pod, gone=True)

    # -- sync ----------------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        ns, job_name = split_key(key)
        cached = self.jobs.indexer.get_by_key(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            return
        with self._removed_lock:
            behind = int(cached["metadata"].get("resourceVersion") or 0) < self._written.get(key, 0)
        if behind:
            return  # our last status write is not in the cache yet: its update event brings the key back
        try:
            selector = selector_from_label_selector((cached.get("spec") or {}).get("selector"))
        except InvalidSelector as err:
            log.error("Job %s has an invalid selector: %s", key, err)
            return
        jobs_client = self.client.resource("jobs", namespace=ns)
        refs = PodControllerRefManager(self.client, cached, selector, self.api_version, self.kind,
                                       recheck_deletion_timestamp(lambda: jobs_client.get(job_name), cached))
        pods = refs.claim_pods(self.pods.indexer.by_index(NAMESPACE_INDEX, ns))
        with self._removed_lock:
            removed = set(self._removed.get(key, set()))
        pods = [p for p in pods if uid(p) not in removed or not _tracked(p)]  # our removals, not yet in the cache
        if is_job_finished(cached):
            self.remove_finalizers(key, [p for p in pods if _tracked(p)])  # leftovers of an earlier sync
            return
        job, now = deep_copy(cached), self.clock.wall()
        spec, status = job["spec"], job.setdefault("status", {})
        suspended = bool(spec.get("suspend"))
        if suspended:
            if not condition(job, "Suspended"):
                _set_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", now)
        elif condition(job, "Suspended"):
            _set_condition(status, "Suspended", "False", "JobResumed", "Job resumed", now)
            status["startTime"] = rfc3339(now)  # the deadline counts from the resumption
        if not suspended and not status.get("startTime"):
            status["startTime"] = rfc3339(now)

        interim = condition(job, "FailureTarget") or condition(job, "SuccessCriteriaMet")
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        known = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
        to_release: list[Obj] = []  # finished Pods whose finalizer goes in this sync
        for pod in pods:
            if not _tracked(pod) or (_phase(pod) not in ("Succeeded", "Failed") and not _deleting(pod)):
                continue
            to_release.append(pod)
            if uid(pod) in known:
                continue
            if _phase(pod) == "Succeeded":
                uncounted.setdefault("succeeded", []).append(uid(pod))
            elif (_phase(pod) == "Failed" or not suspended) and not (interim and interim["type"] != "FailureTarget"):
                uncounted.setdefault("failed", []).append(uid(pod))  # deleted unfinished: a failure (isPodFailed)
        active = [p for p in pods if _phase(p) not in ("Succeeded", "Failed") and not _deleting(p)]
        terminating = [p for p in pods if _phase(p) not in ("Succeeded", "Failed") and _deleting(p)]
        succeeded = status.get("succeeded", 0) + len(uncounted.get("succeeded") or [])
        failed = status.get("failed", 0) + len(uncounted.get("failed") or [])

        if interim is None:
            completions = spec.get("completions")
            restarts = sum(c.get("restartCount", 0) for p in active
                           for c in (p.get("status") or {}).get("containerStatuses") or [])
            on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure"
            deadline = spec.get("activeDeadlineSeconds")
            started = parse_rfc3339(status["startTime"]) if status.get("startTime") else None
            found = None
            if failed > spec.get("backoffLimit", 6) or (on_failure and failed + restarts > spec.get("backoffLimit", 6)):
                found = ("FailureTarget",) + BACKOFF_LIMIT_EXCEEDED
            elif deadline is not None and started is not None and not suspended and now - started >= deadline:
                found = ("FailureTarget",) + DEADLINE_EXCEEDED
            elif (succeeded >= completions) if completions is not None else (succeeded > 0 and not active):
                found = ("SuccessCriteriaMet",) + COMPLETIONS_REACHED
            elif deadline is not None and started is not None and not suspended:
                self.enqueue_after(key, started + deadline - now)  # look again when the deadline passes
            if found:
                _set_condition(status, found[0], "True", found[1], found[2], now)
                interim = condition(job, found[0])
                log.info("Job %s: %s (%s)", key, found[0], found[1])

        with self._removed_lock:
            releasing = bool(self._removed.get(key))
        # Expectations on creations, deletions and removed finalizers: act only on a cache that has seen ours.
        if interim is not None and interim["type"] == "FailureTarget":
            # "When the job is considered finished, every non-terminated pod is considered failed":
            # counted and released now, before the kubelet has stopped them.
            for pod in pods:
                if _tracked(pod) and pod not in to_release and _phase(pod) != "Succeeded":
                    to_release.append(pod)
                    if uid(pod) not in known:
                        uncounted.setdefault("failed", []).append(uid(pod))
        if self.expectations.satisfied_expectations(key) and not releasing:
            if interim is not None or suspended:
                doomed = active
            else:
                doomed = self.manage(job, active, succeeded)
            self.delete_pods(key, doomed)
            terminating += doomed
            active = [p for p in active if p not in doomed]

        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if is_pod_ready(p))
        status["terminating"] = len(terminating)
        # The three steps of trackJobStatusAndRemoveFinalizers: record, release, count.
        job = self.write_status(key, cached.get("status") or {}, job)
        before = deep_copy(job["status"])
        self.remove_finalizers(key, to_release)
        released = {uid(p) for p in to_release}
        status = job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        for field in ("succeeded", "failed"):
            moved = [u for u in uncounted.get(field) or [] if u in released]
            status[field] = status.get(field, 0) + len(moved)
            left = [u for u in uncounted.get(field) or [] if u not in released]
            if left:
                uncounted[field] = left
            else:
                uncounted.pop(field, None)
        # Not while Pods we created are still unseen: they would be neither counted nor stopped (a deadline
        # that passes before the cache has caught up with our creations, on a busy machine).
        if interim is not None and not terminating and not active and self.expectations.satisfied_expectations(key):
            final = FINAL[interim["type"]]
            _set_condition(status, final, "True", interim["reason"], interim["message"], now)
            if final == "Complete":
                status["completionTime"] = rfc3339(now)
            log.info("Job %s: %s", key, final)
        self.write_status(key, before, job)

    def manage(self, job: Obj, active: list[Obj], succeeded: int) -> list[Obj]:
        """Create the Pods that are missing; the active ones to delete (``manageJob``, NonIndexed)."""
        spec, key = job["spec"], key_of(job)
        parallelism, completions = spec.get("parallelism", 1), spec.get("completions")
        if completions is None:
            # Without completions, once one Pod succeeded the rest only finish what they run.
            want = len(active) if succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - succeeded, parallelism))
        if len(active) > want:
            # Not-ready and newer Pods first: they have done the least work.
            ranked = sorted(active, key=lambda p: (is_pod_ready(p), p["metadata"].get("creationTimestamp", "")))
            return ranked[:len(active) - want]
        missing = min(want - len(active), MAX_POD_CREATE_DELETE_PER_SYNC)
        if missing <= 0:
            return []
        self.expectations.expect_creations(key, missing)
        template = deep_copy(spec.get("template") or {})
        meta = template.setdefault("metadata", {})
        meta["finalizers"] = list(dict.fromkeys((meta.get("finalizers") or []) + [TRACKING_FINALIZER]))
        ref = owner_reference(job, api_version=self.api_version, kind=self.kind)
        pods_client = self.client.pods(namespace(job))
        errors = []
        for _ in range(missing):
            try:
                pod = pods_client.create(pod_from_template(template, job, ref))
                log.info("Job %s created Pod %s", key, name(pod))
            except Exception as err:  # noqa: BLE001 (the rest still go; the first error is raised)
                self.expectations.creation_observed(key)  # never to be seen
                errors.append(err)
        if errors:
            raise errors[0]
        return []

    def delete_pods(self, key: str, pods: list[Obj]) -> None:
        if not pods:
            return
        self.expectations.expect_deletions(key, [key_of(p) for p in pods])
        for pod in pods:
            try:
                self.client.pods(namespace(pod)).delete(name(pod))
                log.info("Job %s deleted Pod %s", key, name(pod))
            except NotFound:
                self.expectations.deletion_observed(key, key_of(pod))

    def remove_finalizers(self, key: str, pods: list[Obj]) -> None:
        """Take the tracking finalizer off these Pods (``removeTrackingFinalizerPatch``)."""
        for pod in pods:
            finalizers = [f for f in pod["metadata"].get("finalizers") or [] if f != TRACKING_FINALIZER]
            with self._removed_lock:
                self._removed.setdefault(key, set()).add(uid(pod))
            try:
                self.client.pods(namespace(pod)).patch(
                    name(pod), {"metadata": {"finalizers": finalizers or None}}, "merge")
            except NotFound:
                pass  # gone already: nothing holds it

    def write_status(self, key: str, before: Obj, job: Obj) -> Obj:
        """Write ``job``'s status if it differs from ``before``; the Job as stored (or as it was).

        A Conflict is raised, not retried with a fresh read: the retry starts
        again from fresher caches, so no Pod is counted twice.
        """
        if before == job["status"]:
            return job
        job.setdefault("apiVersion", self.api_version)
        job.setdefault("kind", self.kind)
        stored = self.client.resource("jobs", namespace=namespace(job)).update_status(job)
        with self._removed_lock:
            self._written[key] = int(stored["metadata"].get("resourceVersion") or 0)
        stored["status"] = stored.get("status") or {}
        return stored
